// report/json_report.h — the machine-readable forms of a report: the JSON report
// (docs/report-schema.md) and the stable fingerprint of a finding.
//
// The runtime writes JSON by hand into a TextBuffer (no exceptions, no malloc); the `locksan report`
// command reads it with nlohmann-json. The fingerprint's hash and site rules live here, header-only,
// so that the runtime and the command compute the same value:
//   site        = function "|" basename(file) "|" line      (no file: function "|" basename(module) "|0")
//                 of the stack's first user frame, or of its innermost Python frame when that frame has
//                 no source file and the thread ran Python code (the frame the SUMMARY line names)
//   pair        = from_site ">" to_site
//   fingerprint = FNV-1a-64( kind "\n" + each distinct pair, sorted bytewise, followed by "\n" )
//                 as 16 lowercase hex digits.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace locksan {

class TextBuffer;
class StackCache;
struct ReportDesc;
struct FrameInfo;

// The schema of the JSON report; bump kReportSchemaVersion on an incompatible change.
constexpr const char* kReportSchemaName = "locksan-report";
constexpr int kReportSchemaVersion = 1;

// ---------------------------------------------------------------------------------------------
// Fingerprint helpers (header-only; used by the runtime and the tool)
// ---------------------------------------------------------------------------------------------
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

inline uint64_t FnvAppend(uint64_t h, const char* s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= static_cast<unsigned char>(s[i]);
    h *= kFnvPrime;
  }
  return h;
}

// FingerprintBasename — "c.c" for "/a/b/c.c" (the site rule keeps only the last path component, so
// that checkouts in different directories give the same fingerprint).
inline const char* FingerprintBasename(const char* path) {
  const char* s = strrchr(path, '/');
  return s ? s + 1 : path;
}

inline void FingerprintHex(uint64_t h, char out[17]) {
  static const char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; i--) {
    out[i] = kHex[h & 15];
    h >>= 4;
  }
  out[16] = 0;
}

// ---------------------------------------------------------------------------------------------
// Runtime side (report/json_report.cc)
// ---------------------------------------------------------------------------------------------
// JsonString — appends `s` as a JSON string literal (quotes included; `null` for a null pointer).
// Control characters are escaped, invalid UTF-8 bytes become U+FFFD, so the output always parses.
void JsonString(TextBuffer* out, const char* s);
void JsonStringN(TextBuffer* out, const char* s, size_t n);

// ReportFingerprint — the finding's fingerprint (16 hex digits) and, when `sites` is not null,
// its sites as a JSON array of {"from": site, "to": site}.
void ReportFingerprint(const ReportDesc& r, StackCache* cache, char out[17], TextBuffer* sites);

// FormatJsonFinding — one finding object (no trailing newline, on one line). `text` is the
// uncoloured text form of the report (embedded as "text"), `fingerprint` its fingerprint.
void FormatJsonFinding(const ReportDesc& r, StackCache* cache, const char* fingerprint,
                       const char* text, TextBuffer* out);

// ReportSummaryFrame — the frame the SUMMARY line names (a Python frame has an empty module);
// false when the report has none.
bool ReportSummaryFrame(const ReportDesc& r, StackCache* cache, FrameInfo* out);

// JsonReportPath — the per-process JSON file for log_path (log path + ".json", e.g.
// /tmp/ls.1234.json); false when log_path is stderr/stdout (JSON lines go to the log then).
bool JsonReportPath(const char* log_path, char* buf, size_t size);

// WriteJsonFinding — adds one finding to this process's JSON report. With a log file the whole
// document is rewritten atomically (a temporary file renamed over it), so it is always valid JSON;
// with stderr/stdout (or when that file cannot be written: stderr) one self-contained document per
// finding is written as one line. Returns the path written ("stderr"/"stdout" for a stream).
// Callers hold the report lock.
const char* WriteJsonFinding(const char* finding, size_t len);

}  // namespace locksan
