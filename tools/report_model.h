// tools/report_model.h — `locksan report`: the merged findings and their renderers.
//
// Per-process JSON reports (docs/report-schema.md) are loaded, merged by fingerprint (counting
// occurrences, processes and hosts), filtered by suppressions and a baseline, and rendered as text,
// JSON, SARIF 2.1.0, JUnit XML or SVG (through Graphviz dot).
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace locksan_tool {

using json = nlohmann::ordered_json;

// One process that reported a finding.
struct ProcessRef {
  std::string hostname;
  int64_t pid = 0;
  std::string start_time;  // ISO 8601, may be empty
  int64_t start_time_unix = -1;
  std::string argv0;
  std::string exe;
  std::string Key() const;  // identity: host, pid, start time
  json ToJson() const;
  static ProcessRef FromJson(const json& process, const json& host);  // a per-process document
  static ProcessRef FromMerged(const json& p);                        // an entry of "processes"
};

// One distinct finding (one fingerprint) of the merge.
struct Finding {
  std::string fingerprint;
  std::string kind;
  json data;                       // the first occurrence's finding object, merge fields removed
  std::string source;              // the report file it came from
  uint64_t occurrences = 0;
  std::vector<ProcessRef> processes;
  std::set<std::string> process_keys;
  std::set<std::string> hosts;
  bool in_baseline = false;        // known: does not fail the run
  std::string suppressed_by;       // "kind:pattern" of the rule that matched, or empty
};

struct InputError {
  std::string file;
  std::string error;
};

struct MergeResult {
  std::vector<Finding> findings;   // sorted: kind, first frame, fingerprint
  std::vector<InputError> errors;  // files named on stderr and skipped
  size_t files_read = 0;           // report files that were merged
  bool baseline_used = false;
  size_t Count(bool suppressed, bool in_baseline) const;
  size_t Processes() const;        // distinct processes over the unsuppressed findings
  size_t Hosts() const;
};

// Accessors that never throw: a missing key or a value of another type gives the default.
std::string Str(const json& j, const char* key, const std::string& def = "");
int64_t Int(const json& j, const char* key, int64_t def = 0);
bool Bool(const json& j, const char* key, bool def = false);
const json& Obj(const json& j, const char* key);  // a null json when absent
const json& Arr(const json& j, const char* key);  // an empty array when absent or not an array

// Frame helpers.
std::string FrameFunction(const json& frame);
std::string FrameLocation(const json& frame);  // "file:line in function", or "function (module+0xoff)"
std::string Basename(const std::string& path);
std::string Plural(uint64_t n, const char* one, const char* many);
std::string SeenText(const Finding& f);  // "seen 3 times in 3 processes on 1 host"

// FingerprintFromSites — the documented fingerprint recomputed from a finding's "sites".
std::string FingerprintFromSites(const std::string& kind, const json& sites);

// Renderers (tools/report_render.cc). Each writes a complete document to `out`.
struct RenderOptions {
  std::string source_root;  // SARIF: paths under it become relative to %SRCROOT%
};
std::string RenderText(const MergeResult& m);
std::string RenderJson(const MergeResult& m);
std::string RenderSarif(const MergeResult& m, const RenderOptions& o);
std::string RenderJunit(const MergeResult& m);
// DotGraph — the Graphviz source of a finding's picture; empty when it has no lock to draw.
std::string DotGraph(const Finding& f);
// FindingText — the text form of a finding (the runtime's text, or one rebuilt from the data).
std::string FindingText(const Finding& f);

}  // namespace locksan_tool
