// tools/report_cmd.cc — `locksan report FILES|DIRS... [options]`: merge per-process JSON reports.
//
// Exit status: 0 no findings (after suppressions and baseline), 1 findings, 2 a usage error or an
// input that could not be used (an unreadable, corrupt or truncated report file is named on stderr
// and skipped; the others are still merged and rendered).
#include "tools/report_cmd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>

#include "core/suppressions.h"
#include "report/json_report.h"
#include "tools/report_model.h"

namespace locksan_tool {

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------
std::string Str(const json& j, const char* key, const std::string& def) {
  if (!j.is_object()) return def;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : def;
}

int64_t Int(const json& j, const char* key, int64_t def) {
  if (!j.is_object()) return def;
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : def;
}

bool Bool(const json& j, const char* key, bool def) {
  if (!j.is_object()) return def;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : def;
}

const json& Obj(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it != j.end() ? *it : kNull;
}

const json& Arr(const json& j, const char* key) {
  static const json kEmpty = json::array();
  const json& v = Obj(j, key);
  return v.is_array() ? v : kEmpty;
}

std::string Basename(const std::string& path) {
  size_t s = path.rfind('/');
  return s == std::string::npos ? path : path.substr(s + 1);
}

std::string FrameFunction(const json& f) {
  std::string fn = Str(f, "function");
  return fn.empty() ? "<unknown>" : fn;
}

std::string FrameLocation(const json& f) {
  if (!f.is_object()) return "<unknown>";
  std::string file = Str(f, "file");
  if (!file.empty()) return file + ":" + std::to_string(Int(f, "line")) + " in " + FrameFunction(f);
  char off[32];
  snprintf(off, sizeof off, "+0x%llx", static_cast<unsigned long long>(Int(f, "offset")));
  std::string mod = Str(f, "module");
  return FrameFunction(f) + (mod.empty() ? "" : " (" + Basename(mod) + off + ")");
}

std::string Plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string SeenText(const Finding& f) {
  return "seen " + Plural(f.occurrences, "time", "times") + " in " +
         Plural(f.processes.size(), "process", "processes") + " on " + Plural(f.hosts.size(), "host", "hosts");
}

std::string FingerprintFromSites(const std::string& kind, const json& sites) {
  auto site = [](const json& s) {
    return Str(s, "function") + "|" + Str(s, "file") + "|" + std::to_string(Int(s, "line"));
  };
  std::vector<std::string> pairs;
  if (sites.is_array())
    for (const json& p : sites) pairs.push_back(site(Obj(p, "from")) + ">" + site(Obj(p, "to")));
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  uint64_t h = locksan::FnvAppend(locksan::kFnvOffset, kind.data(), kind.size());
  h = locksan::FnvAppend(h, "\n", 1);
  for (const std::string& p : pairs) {
    h = locksan::FnvAppend(h, p.data(), p.size());
    h = locksan::FnvAppend(h, "\n", 1);
  }
  char out[17];
  locksan::FingerprintHex(h, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------
std::string ProcessRef::Key() const {
  return hostname + "\n" + std::to_string(pid) + "\n" +
         (start_time_unix >= 0 ? std::to_string(start_time_unix) : start_time);
}

json ProcessRef::ToJson() const {
  json j = json::object();
  j["hostname"] = hostname.empty() ? json() : json(hostname);
  j["pid"] = pid;
  j["argv0"] = argv0.empty() ? json() : json(argv0);
  j["exe"] = exe.empty() ? json() : json(exe);
  j["start_time"] = start_time.empty() ? json() : json(start_time);
  j["start_time_unix"] = start_time_unix >= 0 ? json(start_time_unix) : json();
  return j;
}

ProcessRef ProcessRef::FromJson(const json& process, const json& host) {
  ProcessRef p;
  p.hostname = Str(host, "hostname");
  p.pid = Int(process, "pid");
  p.start_time = Str(process, "start_time");
  p.start_time_unix = Int(process, "start_time_unix", -1);
  p.argv0 = Str(process, "argv0");
  p.exe = Str(process, "exe");
  return p;
}

ProcessRef ProcessRef::FromMerged(const json& j) {
  ProcessRef p = FromJson(j, j);
  return p;
}

size_t MergeResult::Count(bool suppressed, bool in_baseline) const {
  size_t n = 0;
  for (const Finding& f : findings)
    if (f.suppressed_by.empty() != suppressed && f.in_baseline == in_baseline) n++;
  return n;
}

size_t MergeResult::Processes() const {
  std::set<std::string> keys;
  for (const Finding& f : findings)
    if (f.suppressed_by.empty()) keys.insert(f.process_keys.begin(), f.process_keys.end());
  return keys.size();
}

size_t MergeResult::Hosts() const {
  std::set<std::string> hosts;
  for (const Finding& f : findings)
    if (f.suppressed_by.empty()) hosts.insert(f.hosts.begin(), f.hosts.end());
  return hosts.size();
}

namespace {

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------
bool ReadFile(const std::string& path, std::string* out, std::string* err) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = strerror(errno);
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    *err = "is a directory";
    return false;
  }
  out->clear();
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *err = strerror(errno);
      close(fd);
      return false;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return true;
}

bool IsHex16(const std::string& s) {
  if (s.size() != 16) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// One finding of a document, checked.
struct Loaded {
  json finding;
  std::vector<ProcessRef> processes;
  uint64_t occurrences;
};

// CheckDocument — a locksan report document; its findings appended to `out`.
bool CheckDocument(const json& doc, std::vector<Loaded>* out, std::string* err) {
  if (!doc.is_object()) {
    *err = "not a JSON object";
    return false;
  }
  if (Str(doc, "schema") != locksan::kReportSchemaName) {
    *err = "not a locksan report (\"schema\" is not \"locksan-report\")";
    return false;
  }
  int64_t version = Int(doc, "version", -1);
  if (version < 1) {
    *err = "no valid \"version\"";
    return false;
  }
  if (version > locksan::kReportSchemaVersion) {
    *err = "report schema version " + std::to_string(version) + " is newer than this locksan reads (" +
           std::to_string(locksan::kReportSchemaVersion) + ")";
    return false;
  }
  const json& findings = Obj(doc, "findings");
  if (!findings.is_array()) {
    *err = "no \"findings\" array";
    return false;
  }
  const json& process = Obj(doc, "process");
  const json& host = Obj(doc, "host");
  size_t index = 0;
  for (const json& f : findings) {
    std::string where = "finding " + std::to_string(index++) + ": ";
    if (!f.is_object() || Str(f, "kind").empty()) {
      *err = where + "not an object with a \"kind\"";
      return false;
    }
    Loaded l;
    l.finding = f;
    std::string fp = Str(f, "fingerprint");
    if (fp.empty()) {
      if (!Obj(f, "sites").is_array()) {
        *err = where + "neither a \"fingerprint\" nor \"sites\"";
        return false;
      }
      l.finding["fingerprint"] = FingerprintFromSites(Str(f, "kind"), Obj(f, "sites"));
    } else if (!IsHex16(fp)) {
      *err = where + "malformed fingerprint '" + fp + "'";
      return false;
    }
    const json& procs = Obj(f, "processes");
    if (procs.is_array()) {  // a merged document
      for (const json& p : procs) l.processes.push_back(ProcessRef::FromMerged(p));
    } else if (process.is_object()) {
      l.processes.push_back(ProcessRef::FromJson(process, host));
    } else {
      *err = where + "no \"process\" (neither in the document nor in the finding)";
      return false;
    }
    int64_t occ = Int(f, "occurrences", 1);
    l.occurrences = occ > 0 ? static_cast<uint64_t>(occ) : 1;
    for (const char* k : {"occurrences", "processes", "hosts", "baseline", "source"}) l.finding.erase(k);
    out->push_back(std::move(l));
  }
  return true;
}

// LoadReportFile — one document (the runtime's <log>.PID.json), or a log with JSON lines (the runtime
// writes one document per line when log_path is stderr/stdout): there every line that starts with '{'
// must be a whole document, and the other lines (the program's own output) are ignored. Any bad part
// skips the whole file.
bool LoadReportFile(const std::string& path, std::vector<Loaded>* out, std::string* err) {
  std::string text;
  if (!ReadFile(path, &text, err)) return false;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    *err = "empty file";
    return false;
  }
  std::vector<Loaded> found;
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_discarded()) {
    if (!CheckDocument(doc, &found, err)) return false;
    out->insert(out->end(), found.begin(), found.end());
    return true;
  }
  std::istringstream in(text);
  std::string line;
  int lineno = 0, docs = 0;
  while (std::getline(in, line)) {
    lineno++;
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] != '{') continue;
    json d = json::parse(line, nullptr, false);
    if (d.is_discarded()) {
      try {
        d = json::parse(line);
        *err = "line " + std::to_string(lineno) + ": corrupt JSON";
      } catch (const json::parse_error& e) {
        *err = "line " + std::to_string(lineno) + ": corrupt or truncated JSON (" + e.what() + ")";
      }
      return false;
    }
    std::string e;
    if (!CheckDocument(d, &found, &e)) {
      *err = "line " + std::to_string(lineno) + ": " + e;
      return false;
    }
    docs++;
  }
  if (docs == 0) {
    try {
      json again = json::parse(text);
      *err = "corrupt JSON";
    } catch (const json::parse_error& e) {
      *err = std::string("not a locksan report: corrupt or truncated JSON (") + e.what() + ")";
    }
    return false;
  }
  out->insert(out->end(), found.begin(), found.end());
  return true;
}

bool HasSuffix(const std::string& s, const char* suf) {
  size_t n = strlen(suf);
  return s.size() >= n && s.compare(s.size() - n, n, suf) == 0;
}

// CollectFiles — explicit files as given; directories walked recursively for *.json and *.jsonl
// (sorted, so that the merge is deterministic).
void CollectFiles(const std::string& path, std::vector<std::string>* files, std::vector<InputError>* errors,
                  bool top) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    errors->push_back({path, strerror(errno)});
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    if (top || HasSuffix(path, ".json") || HasSuffix(path, ".jsonl")) files->push_back(path);
    return;
  }
  DIR* d = opendir(path.c_str());
  if (!d) {
    errors->push_back({path, strerror(errno)});
    return;
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    std::string p = path + (HasSuffix(path, "/") ? "" : "/") + n;
    struct stat s2;
    if (lstat(p.c_str(), &s2) != 0) continue;
    if (S_ISDIR(s2.st_mode)) {
      CollectFiles(p, files, errors, false);
    } else if ((S_ISREG(s2.st_mode) || S_ISLNK(s2.st_mode)) && (HasSuffix(n, ".json") || HasSuffix(n, ".jsonl"))) {
      files->push_back(p);
    }
  }
}

// FirstFrameKey — for sorting: the first frame's file and line.
std::string SortKey(const Finding& f) {
  const json& fr = Obj(f.data, "first_frame");
  char line[16];
  snprintf(line, sizeof line, "%08lld", static_cast<long long>(Int(fr, "line")));
  return f.kind + "\n" + Str(fr, "file") + "\n" + line + "\n" + f.fingerprint;
}

// ---------------------------------------------------------------------------------------------
// Suppressions and baseline
// ---------------------------------------------------------------------------------------------
void SupprError(void* ctx, const char* line) {
  fprintf(stderr, "%s\n", line);
  ++*static_cast<int*>(ctx);
}

// The stacks the runtime matches suppressions against (report/text_report.cc's PrintReport).
std::string MatchSuppression(const locksan::Suppressions& supp, const Finding& f) {
  std::vector<const json*> stacks;
  for (const json& e : Arr(f.data, "edges")) {
    stacks.push_back(&Obj(e, "stack_to"));
    stacks.push_back(&Obj(e, "stack_from"));
  }
  const json& cur = Obj(f.data, "current");
  stacks.push_back(&Obj(cur, "stack"));
  stacks.push_back(&Obj(cur, "previous_stack"));
  for (const json& t : Arr(f.data, "threads")) stacks.push_back(&Obj(t, "current_stack"));
  for (const json* s : stacks) {
    for (const json& fr : Arr(*s, "frames")) {
      for (const char* k : {"function", "file", "module"}) {
        std::string v = Str(fr, k);
        int m = supp.Match(f.kind.c_str(), v.c_str());
        if (m >= 0) return std::string(supp.rule(m).kind) + ":" + supp.rule(m).pattern;
      }
    }
  }
  return "";
}

// LoadBaseline — fingerprints, one per line (first word; '#' comments), or a locksan JSON report.
bool LoadBaseline(const std::string& path, std::set<std::string>* fps, std::string* err) {
  std::string text;
  if (!ReadFile(path, &text, err)) return false;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    std::vector<Loaded> found;
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) {
      *err = "corrupt JSON";
      return false;
    }
    if (!CheckDocument(doc, &found, err)) return false;
    for (const Loaded& l : found) fps->insert(Str(l.finding, "fingerprint"));
    return true;
  }
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    lineno++;
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    size_t e = line.find_first_of(" \t\r#", b);
    std::string fp = line.substr(b, e == std::string::npos ? std::string::npos : e - b);
    if (!IsHex16(fp)) {
      *err = "line " + std::to_string(lineno) + ": '" + fp + "' is not a fingerprint (16 hex digits)";
      return false;
    }
    fps->insert(fp);
  }
  return true;
}

std::string BaselineText(const MergeResult& m) {
  std::string out =
      "# locksan baseline: fingerprints of known findings, one per line (the rest of a line is a comment).\n"
      "# `locksan report --baseline=THIS_FILE` does not fail on them; see docs/ci.md.\n";
  std::vector<const Finding*> fs;
  for (const Finding& f : m.findings)
    if (f.suppressed_by.empty()) fs.push_back(&f);
  std::sort(fs.begin(), fs.end(), [](const Finding* a, const Finding* b) { return a->fingerprint < b->fingerprint; });
  for (const Finding* f : fs)
    out += f->fingerprint + "  " + f->kind + "  " + FrameLocation(Obj(f->data, "first_frame")) + "\n";
  return out;
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------
bool WriteTo(const std::string& path, const std::string& data) {
  if (path.empty() || path == "-") {
    fwrite(data.data(), 1, data.size(), stdout);
    fflush(stdout);
    return !ferror(stdout);
  }
  std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "wb");
  if (!f) {
    fprintf(stderr, "locksan report: cannot write '%s': %s\n", path.c_str(), strerror(errno));
    return false;
  }
  bool ok = fwrite(data.data(), 1, data.size(), f) == data.size();
  ok &= fclose(f) == 0;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    fprintf(stderr, "locksan report: cannot write '%s': %s\n", path.c_str(), strerror(errno));
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

// RunDot — renders `dot_src` to an SVG file with Graphviz dot (found on PATH, or $LOCKSAN_DOT).
bool RunDot(const std::string& dot_src, const std::string& out_path, std::string* err) {
  const char* dot = getenv("LOCKSAN_DOT");
  if (!dot || !*dot) dot = "dot";
  int in[2];
  if (pipe(in) != 0) {
    *err = strerror(errno);
    return false;
  }
  pid_t pid = fork();
  if (pid < 0) {
    *err = strerror(errno);
    return false;
  }
  if (pid == 0) {
    dup2(in[0], 0);
    close(in[0]);
    close(in[1]);
    execlp(dot, dot, "-Tsvg", "-o", out_path.c_str(), static_cast<char*>(nullptr));
    fprintf(stderr, "locksan report: cannot run '%s' (Graphviz; apt-get install graphviz): %s\n", dot,
            strerror(errno));
    _exit(127);
  }
  close(in[0]);
  signal(SIGPIPE, SIG_IGN);
  const char* p = dot_src.data();
  size_t left = dot_src.size();
  while (left) {
    ssize_t n = write(in[1], p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
  close(in[1]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *err = WIFEXITED(status) && WEXITSTATUS(status) == 127 ? std::string("cannot run ") + dot
                                                             : std::string(dot) + " failed";
    return false;
  }
  return true;
}

const char kReportUsage[] =
    "usage: locksan report FILES|DIRS... [--format=text|json|sarif|junit|svg] [--output=FILE|DIR]\n"
    "                      [--suppressions=FILE] [--baseline=FILE] [--write-baseline=FILE]\n"
    "                      [--source-root=DIR]\n"
    "\n"
    "Merges the JSON reports that processes wrote (LOCKSAN_OPTIONS=report_format=json or both;\n"
    "`locksan run --log-dir=DIR` writes them to DIR) from any number of processes and hosts, counts\n"
    "each finding (by its fingerprint) over processes and hosts, and renders the result.\n"
    "\n"
    "  FILES|DIRS            report files (*.json one document, or JSON lines); directories are\n"
    "                        searched recursively for *.json and *.jsonl\n"
    "  --format=F            text (default), json (a merged report, readable again by this command),\n"
    "                        sarif (SARIF 2.1.0), junit (JUnit XML), svg (one picture per finding,\n"
    "                        drawn by Graphviz dot; needs --output=DIR)\n"
    "  --output=FILE|DIR     where to write (default: standard output; a directory for svg)\n"
    "  --suppressions=FILE   drop findings that a `kind:pattern` rule matches (the runtime's format,\n"
    "                        docs/suppressions.md)\n"
    "  --baseline=FILE       known fingerprints (a file --write-baseline wrote, or a JSON report):\n"
    "                        they are still listed but do not make the exit status 1\n"
    "  --write-baseline=FILE write the fingerprints of every finding (after suppressions) to FILE\n"
    "  --source-root=DIR     SARIF: make file paths under DIR relative to %SRCROOT%\n"
    "\n"
    "Exit status: 0 no findings (after suppressions and baseline), 1 findings, 2 usage or input\n"
    "errors (each unreadable, corrupt or truncated file is named on stderr and skipped).\n";

}  // namespace

int ReportMain(int argc, char** argv) {
  std::vector<std::string> inputs;
  std::string format = "text", output, supp_path, baseline_path, write_baseline;
  RenderOptions ropts;
  for (int i = 0; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      fputs(kReportUsage, stdout);
      return 0;
    }
    if (a.size() > 1 && a[0] == '-' && a != "-") {
      std::string name = a, value;
      size_t eq = a.find('=');
      bool has_value = eq != std::string::npos;
      if (has_value) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
      }
      std::string* dst = name == "--format"           ? &format
                         : name == "--output" || name == "-o" ? &output
                         : name == "--suppressions"   ? &supp_path
                         : name == "--baseline"       ? &baseline_path
                         : name == "--write-baseline" ? &write_baseline
                         : name == "--source-root"    ? &ropts.source_root
                                                      : nullptr;
      if (!dst) {
        fprintf(stderr, "locksan report: unknown option '%s'\n%s", a.c_str(), kReportUsage);
        return 2;
      }
      if (!has_value) {
        if (i + 1 >= argc) {
          fprintf(stderr, "locksan report: option '%s' needs a value\n", a.c_str());
          return 2;
        }
        value = argv[++i];
      }
      if (value.empty()) {
        fprintf(stderr, "locksan report: option '%s' needs a value\n", name.c_str());
        return 2;
      }
      *dst = value;
      continue;
    }
    inputs.push_back(a);
  }
  if (format != "text" && format != "json" && format != "sarif" && format != "junit" && format != "svg") {
    fprintf(stderr, "locksan report: unknown format '%s' (text, json, sarif, junit or svg)\n", format.c_str());
    return 2;
  }
  if (inputs.empty()) {
    fprintf(stderr, "locksan report: no report files or directories given\n%s", kReportUsage);
    return 2;
  }
  if (format == "svg" && output.empty()) {
    fprintf(stderr, "locksan report: --format=svg needs --output=DIR\n");
    return 2;
  }

  // Suppressions (the runtime's parser and matcher) and the baseline first: a bad one is a usage error.
  std::unique_ptr<locksan::Suppressions> supp;
  if (!supp_path.empty()) {
    std::string text, err;
    if (!ReadFile(supp_path, &text, &err)) {
      fprintf(stderr, "locksan report: cannot read suppressions file '%s': %s\n", supp_path.c_str(), err.c_str());
      return 2;
    }
    supp = std::make_unique<locksan::Suppressions>();
    int bad = 0;
    supp->Parse(text.c_str(), supp_path.c_str(), SupprError, &bad);
    if (bad) return 2;
  }
  std::set<std::string> baseline;
  MergeResult m;
  if (!baseline_path.empty()) {
    std::string err;
    if (!LoadBaseline(baseline_path, &baseline, &err)) {
      fprintf(stderr, "locksan report: bad baseline '%s': %s\n", baseline_path.c_str(), err.c_str());
      return 2;
    }
    m.baseline_used = true;
  }

  // Load and merge.
  std::vector<std::string> files;
  for (const std::string& in : inputs) CollectFiles(in, &files, &m.errors, true);
  std::set<std::string> seen_files;
  std::map<std::string, size_t> by_fp;
  for (const std::string& file : files) {
    char real[PATH_MAX];
    std::string key = realpath(file.c_str(), real) ? real : file;
    if (!seen_files.insert(key).second) continue;  // the same file named twice
    std::vector<Loaded> loaded;
    std::string err;
    if (!LoadReportFile(file, &loaded, &err)) {
      m.errors.push_back({file, err});
      continue;
    }
    m.files_read++;
    for (Loaded& l : loaded) {
      std::string fp = Str(l.finding, "fingerprint");
      auto it = by_fp.find(fp);
      if (it == by_fp.end()) {
        Finding f;
        f.fingerprint = fp;
        f.kind = Str(l.finding, "kind");
        f.data = std::move(l.finding);
        f.source = file;
        it = by_fp.emplace(fp, m.findings.size()).first;
        m.findings.push_back(std::move(f));
      }
      Finding& f = m.findings[it->second];
      // The representative is the earliest occurrence (ISO times compare as strings), so that the
      // merged output does not depend on the order of the files.
      std::string t = Str(l.finding, "time");
      if (!t.empty() && t < Str(f.data, "time")) {
        f.data = std::move(l.finding);
        f.source = file;
      }
      f.occurrences += l.occurrences;
      for (const ProcessRef& p : l.processes) {
        if (f.process_keys.insert(p.Key()).second) f.processes.push_back(p);
        if (!p.hostname.empty()) f.hosts.insert(p.hostname);
      }
    }
  }
  for (const InputError& e : m.errors)
    fprintf(stderr, "locksan report: skipping '%s': %s\n", e.file.c_str(), e.error.c_str());
  for (Finding& f : m.findings) {
    if (supp) f.suppressed_by = MatchSuppression(*supp, f);
    f.in_baseline = baseline.count(f.fingerprint) > 0;
  }
  std::stable_sort(m.findings.begin(), m.findings.end(),
                   [](const Finding& a, const Finding& b) { return SortKey(a) < SortKey(b); });

  bool ok = true;
  if (!write_baseline.empty()) ok &= WriteTo(write_baseline, BaselineText(m));
  if (format == "svg") {
    if (mkdir(output.c_str(), 0755) != 0 && errno != EEXIST) {
      fprintf(stderr, "locksan report: cannot create '%s': %s\n", output.c_str(), strerror(errno));
      return 2;
    }
    for (const Finding& f : m.findings) {
      if (!f.suppressed_by.empty()) continue;
      std::string src = DotGraph(f);
      if (src.empty()) continue;
      std::string path = output + "/" + f.kind + "-" + f.fingerprint + ".svg";
      std::string err;
      if (!RunDot(src, path, &err)) {
        fprintf(stderr, "locksan report: cannot render '%s': %s\n", path.c_str(), err.c_str());
        ok = false;
        break;
      }
      printf("%s\n", path.c_str());
    }
  } else {
    std::string doc = format == "text"    ? RenderText(m)
                      : format == "json"  ? RenderJson(m)
                      : format == "sarif" ? RenderSarif(m, ropts)
                                          : RenderJunit(m);
    ok &= WriteTo(output, doc);
  }
  size_t fresh = m.Count(false, false), known = m.Count(false, true);
  size_t suppressed = m.Count(true, false) + m.Count(true, true);
  if (format != "text" || !output.empty())
    fprintf(stderr, "locksan report: %s (%zu new, %zu in the baseline, %zu suppressed) from %s; %s skipped\n",
            Plural(fresh + known, "finding", "findings").c_str(), fresh, known, suppressed,
            Plural(m.files_read, "report file", "report files").c_str(),
            Plural(m.errors.size(), "input", "inputs").c_str());
  if (!ok || !m.errors.empty()) return 2;
  return fresh ? 1 : 0;
}

}  // namespace locksan_tool
