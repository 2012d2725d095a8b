// tools/report_render.cc — the output forms of `locksan report`: text, merged JSON, SARIF 2.1.0,
// JUnit XML, and the Graphviz source of each finding's picture.
//
// Kinds are handled generically: every renderer works from the data a finding carries (edges, the
// current/previous stacks, waits, locks), never from a list of known kinds.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "report/json_report.h"
#include "tools/report_model.h"

#ifndef LOCKSAN_VERSION
#define LOCKSAN_VERSION "0.0.0"
#endif

namespace locksan_tool {
namespace {

const char kSarifSchema[] =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

std::string Hex(int64_t v) {
  char b[32];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

const json* FindLock(const json& data, int64_t id) {
  for (const json& l : Arr(data, "locks"))
    if (Int(l, "id", -1) == id) return &l;
  return nullptr;
}

std::string LockName(const json& data, int64_t id) {
  const json* l = FindLock(data, id);
  std::string n = l ? Str(*l, "name") : "";
  return n.empty() ? "#" + std::to_string(id) : n;
}

// LockDescription — "M2 (global 'bob' in transfer)".
std::string LockDescription(const json& data, int64_t id) {
  const json* l = FindLock(data, id);
  std::string loc = l ? Str(*l, "location") : "";
  return LockName(data, id) + (loc.empty() ? "" : " (" + loc + ")");
}

std::string ThreadLabel(const json& data, int64_t number) {
  std::string s = "T" + std::to_string(number);
  for (const json& t : Arr(data, "threads")) {
    if (Int(t, "number", -1) != number) continue;
    std::string name = Str(t, "name");
    if (!name.empty()) s += " \"" + name + "\"";
  }
  return s;
}

// FirstUserFrame — as the runtime chooses it: the first frame outside libc, libstdc++, libgcc_s,
// the dynamic loader.
bool IsSystemModule(const std::string& m) {
  std::string b = Basename(m);
  return b.rfind("libc.so", 0) == 0 || b.rfind("libc-", 0) == 0 || b.rfind("libpthread", 0) == 0 ||
         b.rfind("libstdc++", 0) == 0 || b.rfind("libgcc_s", 0) == 0 || b.rfind("ld-linux", 0) == 0;
}

const json* FirstUserFrame(const json& stack) {
  const json& frames = Arr(stack, "frames");
  for (const json& f : frames)
    if (!IsSystemModule(Str(f, "module"))) return &f;
  return frames.empty() ? nullptr : &frames[0];
}

// SiteFrame — the frame that stands for a stack (as the SUMMARY line chooses it): the first user
// frame; when that has no source file and the stack has Python frames, the innermost Python frame.
const json* SiteFrame(const json& stack) {
  const json* f = FirstUserFrame(stack);
  if (f && !Str(*f, "file").empty()) return f;
  const json& py = Arr(stack, "python_frames");
  return py.empty() ? f : &py[0];
}

std::string ShortFrame(const json* f) {
  if (!f) return "?";
  std::string file = Str(*f, "file");
  if (!file.empty()) return FrameFunction(*f) + " " + Basename(file) + ":" + std::to_string(Int(*f, "line"));
  return FrameFunction(*f);
}

std::string StackText(const json& stack) {
  const json& frames = Arr(stack, "frames");
  if (frames.empty()) return "    <empty stack>\n";
  std::string out;
  int i = 0;
  for (const json& f : frames) {
    out += "    #" + std::to_string(i++) + " " + FrameFunction(f);
    std::string file = Str(f, "file");
    if (!file.empty()) out += " " + file + ":" + std::to_string(Int(f, "line"));
    std::string mod = Str(f, "module");
    if (!mod.empty()) out += " (" + Basename(mod) + "+" + Hex(Int(f, "offset")) + ")";
    out += "\n";
  }
  return out;
}

// CycleText — "M2 (global 'bob' in t) => M1 (...) => M2", or the locks of a finding without edges.
std::string CycleText(const json& data) {
  const json& edges = Arr(data, "edges");
  std::string s;
  if (!edges.empty()) {
    for (const json& e : edges) s += LockDescription(data, Int(e, "from")) + " => ";
    return s + LockName(data, Int(edges[0], "from"));
  }
  for (const json& l : Arr(data, "locks")) s += (s.empty() ? "" : ", ") + LockDescription(data, Int(l, "id"));
  return s;
}

std::string Headline(const Finding& f) {
  std::string detail = Str(f.data, "detail");
  return f.kind + (detail.empty() ? "" : " (" + detail + ")");
}

std::string XmlEscape(const std::string& s, bool attr) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += attr ? "&quot;" : "\""; break;
      case '\n': out += attr ? "&#10;" : "\n"; break;
      case '\t': out += attr ? "&#9;" : "\t"; break;
      case '\r': out += "&#13;"; break;
      default:
        if (c < 0x20) out += "?";  // not allowed in XML 1.0
        else out += static_cast<char>(c);
    }
  }
  return out;
}

std::string DotEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';  // not allowed in SVG (XML)
    out += c;
  }
  return out;
}

std::string PercentEncodePath(const std::string& p) {
  static const char kOk[] = "-._~/!$&'()*+,;=:@";
  std::string out;
  for (unsigned char c : p) {
    if (isalnum(c) || strchr(kOk, c)) {
      out += static_cast<char>(c);
    } else {
      char b[4];
      snprintf(b, sizeof b, "%%%02X", c);
      out += b;
    }
  }
  return out;
}

std::vector<const Finding*> Visible(const MergeResult& m) {
  std::vector<const Finding*> v;
  for (const Finding& f : m.findings)
    if (f.suppressed_by.empty()) v.push_back(&f);
  return v;
}

std::string ProcessesText(const Finding& f) {
  std::string s;
  size_t shown = 0;
  for (const ProcessRef& p : f.processes) {
    if (shown == 8) {
      s += ", and " + std::to_string(f.processes.size() - shown) + " more";
      break;
    }
    s += (shown ? ", " : "") + std::string("pid ") + std::to_string(p.pid);
    std::string prog = Basename(!p.argv0.empty() ? p.argv0 : p.exe);
    if (!prog.empty()) s += " (" + prog + ")";
    if (!p.hostname.empty()) s += " on " + p.hostname;
    shown++;
  }
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------
std::string FindingText(const Finding& f) {
  std::string text = Str(f.data, "text");
  if (!text.empty()) return text;
  // Rebuilt from the data (a report written by hand or by another producer).
  const json& d = f.data;
  std::string out = "==" + std::to_string(f.processes.empty() ? 0 : f.processes[0].pid) +
                    "==WARNING: locksan: " + Headline(f) + "\n";
  const json& edges = Arr(d, "edges");
  if (!edges.empty()) out += "  Cycle in lock order graph: " + CycleText(d) + "\n\n";
  for (const json& e : edges) {
    out += "  Lock " + LockName(d, Int(e, "to")) + " acquired here while holding lock " + LockName(d, Int(e, "from")) +
           ", in thread " + ThreadLabel(d, Int(e, "thread")) + ":\n" + StackText(Obj(e, "stack_to"));
    out += "\n  Lock " + LockName(d, Int(e, "from")) + " previously acquired by the same thread here:\n" +
           StackText(Obj(e, "stack_from")) + "\n";
  }
  const json& cur = Obj(d, "current");
  if (cur.is_object()) {
    out += "  In thread " + ThreadLabel(d, Int(cur, "thread")) + ":\n" + StackText(Obj(cur, "stack"));
    if (Obj(cur, "previous_stack").is_object())
      out += "\n  Previously, in the same thread:\n" + StackText(Obj(cur, "previous_stack"));
    out += "\n";
  }
  for (const json& w : Arr(d, "waits")) {
    out += "  Thread " + ThreadLabel(d, Int(w, "thread")) + " waits for lock " + LockName(d, Int(w, "lock"));
    if (Obj(w, "holder").is_number()) out += ", held by thread T" + std::to_string(Int(w, "holder"));
    out += ".\n    blocked in: " + FrameLocation(Obj(w, "blocked_at")) + "\n";
  }
  for (const json& l : Arr(d, "locks"))
    out += "  " + Str(l, "name") + " (" + Str(l, "address") + ", " + Str(l, "kind") + "): " + Str(l, "location") + "\n";
  std::string summary = Str(d, "summary");
  if (summary.empty()) {
    summary = "SUMMARY: locksan: " + f.kind;
    const json& ff = Obj(d, "first_frame");
    if (ff.is_object()) summary += " " + FrameLocation(ff);
  }
  return out + "\n" + summary + "\n";
}

std::string RenderText(const MergeResult& m) {
  std::string out;
  std::vector<const Finding*> fs = Visible(m);
  size_t n = 0, fresh = m.Count(false, false);
  for (const Finding* f : fs) {
    if (f->in_baseline) continue;
    n++;
    out += "locksan: finding " + std::to_string(n) + " of " + std::to_string(fresh) + ": " + f->kind +
           " fingerprint=" + f->fingerprint + ", " + SeenText(*f) + "\n";
    out += "  processes: " + ProcessesText(*f) + "\n";
    out += FindingText(*f) + "\n";
  }
  for (const Finding* f : fs) {
    if (!f->in_baseline) continue;
    out += "locksan: known finding (in the baseline): " + f->kind + " fingerprint=" + f->fingerprint + " at " +
           FrameLocation(Obj(f->data, "first_frame")) + ", " + SeenText(*f) + "\n";
  }
  for (const Finding& f : m.findings) {
    if (f.suppressed_by.empty()) continue;
    out += "locksan: suppressed by '" + f.suppressed_by + "': " + f.kind + " fingerprint=" + f.fingerprint +
           " at " + FrameLocation(Obj(f.data, "first_frame")) + ", " + SeenText(f) + "\n";
  }
  size_t known = m.Count(false, true), suppressed = m.Count(true, false) + m.Count(true, true);
  out += "locksan report: " + Plural(fresh + known, "finding", "findings") + " (" + std::to_string(fresh) +
         " new, " + std::to_string(known) + " in the baseline, " + std::to_string(suppressed) + " suppressed) in " +
         Plural(m.Processes(), "process", "processes") + " on " + Plural(m.Hosts(), "host", "hosts") + "; " +
         Plural(m.files_read, "report file", "report files") + " read, " +
         Plural(m.errors.size(), "input", "inputs") + " skipped\n";
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSON (a merged report: the per-process schema, each finding with its counts and processes)
// ---------------------------------------------------------------------------------------------
std::string RenderJson(const MergeResult& m) {
  json doc = json::object();
  doc["schema"] = locksan::kReportSchemaName;
  doc["version"] = locksan::kReportSchemaVersion;
  doc["tool"] = {{"name", "locksan"}, {"version", LOCKSAN_VERSION}};
  json skipped = json::array();
  for (const InputError& e : m.errors) skipped.push_back({{"file", e.file}, {"error", e.error}});
  doc["merged"] = {{"report_files", m.files_read},
                   {"skipped", skipped},
                   {"processes", m.Processes()},
                   {"hosts", m.Hosts()},
                   {"new", m.Count(false, false)},
                   {"in_baseline", m.Count(false, true)},
                   {"suppressed", m.Count(true, false) + m.Count(true, true)},
                   {"baseline_used", m.baseline_used}};
  json findings = json::array(), suppressed = json::array();
  for (const Finding& f : m.findings) {
    if (!f.suppressed_by.empty()) {
      suppressed.push_back({{"fingerprint", f.fingerprint},
                            {"kind", f.kind},
                            {"rule", f.suppressed_by},
                            {"occurrences", f.occurrences},
                            {"first_frame", Obj(f.data, "first_frame")}});
      continue;
    }
    json j = f.data;
    j["occurrences"] = f.occurrences;
    json procs = json::array();
    for (const ProcessRef& p : f.processes) procs.push_back(p.ToJson());
    j["processes"] = procs;
    j["hosts"] = json(std::vector<std::string>(f.hosts.begin(), f.hosts.end()));
    j["baseline"] = m.baseline_used ? json(f.in_baseline ? "unchanged" : "new") : json();
    j["source"] = f.source;
    findings.push_back(std::move(j));
  }
  doc["findings"] = std::move(findings);
  doc["suppressed"] = std::move(suppressed);
  return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

// ---------------------------------------------------------------------------------------------
// SARIF 2.1.0
// ---------------------------------------------------------------------------------------------
namespace {

std::string RuleName(const std::string& kind) {  // "lock-order-inversion" -> "LockOrderInversion"
  std::string s;
  bool up = true;
  for (char c : kind) {
    if (c == '-' || c == '_' || c == ' ') {
      up = true;
      continue;
    }
    s += up ? static_cast<char>(toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return s;
}

// SarifLocation — a location for a frame: physical (file, line) when known, logical (function).
json SarifLocation(const json* f, const RenderOptions& o, const std::string& message) {
  json loc = json::object();
  if (!f) return loc;
  std::string file = Str(*f, "file");
  if (!file.empty()) {
    json art = json::object();
    std::string root = o.source_root;
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    if (!root.empty() && file.rfind(root + "/", 0) == 0) {
      art["uri"] = PercentEncodePath(file.substr(root.size() + 1));
      art["uriBaseId"] = "%SRCROOT%";
    } else if (!file.empty() && file[0] == '/') {
      art["uri"] = "file://" + PercentEncodePath(file);
    } else {
      art["uri"] = PercentEncodePath(file);
      if (!root.empty()) art["uriBaseId"] = "%SRCROOT%";
    }
    json phys = {{"artifactLocation", art}};
    int64_t line = Int(*f, "line");
    if (line >= 1) phys["region"] = {{"startLine", line}};
    loc["physicalLocation"] = phys;
  }
  std::string fn = Str(*f, "function");
  if (!fn.empty()) loc["logicalLocations"] = json::array({{{"fullyQualifiedName", fn}, {"kind", "function"}}});
  if (!message.empty()) loc["message"] = {{"text", message}};
  return loc;
}

// A thread flow: the stack in execution order (outermost first): its Python frames, then its native
// frames without the C runtime's.
json ThreadFlow(const json& stack, const std::string& message, const RenderOptions& o) {
  json locs = json::array();
  const json& py = Arr(stack, "python_frames");
  for (size_t i = py.size(); i-- > 0;) {  // the Python code that led to the native calls
    json l = SarifLocation(&py[i], o, "");
    if (!l.empty()) locs.push_back({{"location", l}, {"nestingLevel", locs.size()}});
  }
  const json& frames = Arr(stack, "frames");
  for (size_t i = frames.size(); i-- > 0;) {
    if (IsSystemModule(Str(frames[i], "module"))) continue;  // libc's start_thread, clone3, ...
    json l = SarifLocation(&frames[i], o, "");
    if (l.empty()) continue;
    locs.push_back({{"location", l}, {"nestingLevel", locs.size()}});
  }
  json tf = json::object();
  if (locs.empty()) return tf;
  tf["message"] = {{"text", message}};
  tf["locations"] = locs;
  return tf;
}

}  // namespace

std::string RenderSarif(const MergeResult& m, const RenderOptions& o) {
  std::vector<const Finding*> fs = Visible(m);
  std::map<std::string, std::string> details;  // kind -> detail, in kind order
  for (const Finding* f : fs) details.emplace(f->kind, Str(f->data, "detail"));
  json rules = json::array();
  std::map<std::string, size_t> rule_index;
  for (const auto& [kind, detail] : details) {
    rule_index[kind] = rules.size();
    std::string text = detail.empty() ? kind : detail;
    rules.push_back({{"id", kind},
                     {"name", RuleName(kind)},
                     {"shortDescription", {{"text", "locksan: " + kind + " (" + text + ")"}}},
                     {"fullDescription",
                      {{"text", "locksan found a " + kind + " (" + text +
                                    ") while the program ran: see the result's message, code flows and related "
                                    "locations for the locks, threads and stacks."}}},
                     {"defaultConfiguration", {{"level", "error"}}},
                     {"properties", {{"tags", {"concurrency", "locksan"}}}}});
  }
  json results = json::array();
  for (const Finding* f : fs) {
    const json& d = f->data;
    std::string msg = Headline(*f) + ": " + CycleText(d) + "; " + SeenText(*f) + ".";
    json r = {{"ruleId", f->kind},
              {"ruleIndex", rule_index[f->kind]},
              {"level", "error"},
              {"kind", "fail"},
              {"message", {{"text", msg}}}};
    const json& ff = Obj(d, "first_frame");
    json loc = SarifLocation(ff.is_object() ? &ff : nullptr, o, "");
    r["locations"] = loc.empty() ? json::array() : json::array({loc});
    r["partialFingerprints"] = {{"locksanFingerprint/v1", f->fingerprint}};
    // Related locations and code flows: one per edge (cycles), else the current/previous stacks.
    json related = json::array(), flows = json::array();
    int id = 1;
    for (const json& e : Arr(d, "edges")) {
      std::string what = LockName(d, Int(e, "to")) + " acquired while holding " + LockName(d, Int(e, "from")) +
                         " in thread " + ThreadLabel(d, Int(e, "thread"));
      const json* top = SiteFrame(Obj(e, "stack_to"));
      json rl = SarifLocation(top, o, what);
      if (!rl.empty()) {
        rl["id"] = id++;
        related.push_back(rl);
      }
      json tf = ThreadFlow(Obj(e, "stack_to"), what, o);
      if (!tf.empty()) flows.push_back(tf);
    }
    const json& cur = Obj(d, "current");
    if (cur.is_object()) {
      std::string t = ThreadLabel(d, Int(cur, "thread"));
      for (const char* k : {"previous_stack", "stack"}) {
        std::string what = std::string(k == std::string("stack") ? "now" : "previously") + " in thread " + t;
        json rl = SarifLocation(SiteFrame(Obj(cur, k)), o, what);
        if (!rl.empty()) {
          rl["id"] = id++;
          related.push_back(rl);
        }
        json tf = ThreadFlow(Obj(cur, k), what, o);
        if (!tf.empty()) flows.push_back(tf);
      }
    }
    if (!related.empty()) r["relatedLocations"] = related;
    if (!flows.empty()) r["codeFlows"] = json::array({{{"threadFlows", flows}}});
    if (m.baseline_used) r["baselineState"] = f->in_baseline ? "unchanged" : "new";
    r["properties"] = {{"occurrences", f->occurrences},
                       {"processes", f->processes.size()},
                       {"hosts", f->hosts.size()},
                       {"fingerprint", f->fingerprint}};
    results.push_back(std::move(r));
  }
  json run = {{"tool",
               {{"driver",
                 {{"name", "locksan"},
                  {"version", LOCKSAN_VERSION},
                  {"semanticVersion", LOCKSAN_VERSION},
                  {"rules", rules}}}}},
              {"results", results}};
  if (!o.source_root.empty()) {
    std::string root = o.source_root;
    if (root.back() != '/') root += '/';
    run["originalUriBaseIds"] = {{"%SRCROOT%", {{"uri", "file://" + PercentEncodePath(root)}}}};
  }
  json notes = json::array();
  for (const InputError& e : m.errors)
    notes.push_back({{"level", "error"}, {"message", {{"text", "skipped report file " + e.file + ": " + e.error}}}});
  run["invocations"] = json::array({{{"executionSuccessful", m.errors.empty()},
                                     {"toolExecutionNotifications", notes}}});
  json doc = {{"$schema", kSarifSchema}, {"version", "2.1.0"}, {"runs", json::array({run})}};
  return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

// ---------------------------------------------------------------------------------------------
// JUnit XML: one test case per finding; a failure for new findings, skipped for known ones.
// ---------------------------------------------------------------------------------------------
std::string RenderJunit(const MergeResult& m) {
  std::vector<const Finding*> fs = Visible(m);
  size_t failures = m.Count(false, false), skipped = m.Count(false, true);
  std::string cases;
  for (const Finding* f : fs) {
    const json& ff = Obj(f->data, "first_frame");
    std::string where = FrameLocation(ff);
    std::string name = f->kind + " at " + where + " [" + f->fingerprint + "]";
    cases += "    <testcase classname=\"locksan." + XmlEscape(f->kind, true) + "\" name=\"" + XmlEscape(name, true) +
             "\"";
    std::string file = Str(ff, "file");
    if (!file.empty()) cases += " file=\"" + XmlEscape(file, true) + "\" line=\"" + std::to_string(Int(ff, "line")) + "\"";
    cases += " time=\"0\">\n";
    if (f->in_baseline) {
      cases += "      <skipped message=\"known finding (in the baseline)\"/>\n";
    } else {
      cases += "      <failure type=\"" + XmlEscape(f->kind, true) + "\" message=\"" +
               XmlEscape(Headline(*f) + ": " + CycleText(f->data) + "; " + SeenText(*f), true) + "\">" +
               XmlEscape(FindingText(*f), false) + "</failure>\n";
    }
    cases += "      <system-out>" + XmlEscape("fingerprint " + f->fingerprint + "; processes: " + ProcessesText(*f), false) +
             "</system-out>\n";
    cases += "    </testcase>\n";
  }
  std::string counts = " tests=\"" + std::to_string(fs.size()) + "\" failures=\"" + std::to_string(failures) +
                       "\" errors=\"0\" skipped=\"" + std::to_string(skipped) + "\"";
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"locksan\"" + counts + ">\n" +
         "  <testsuite name=\"locksan\"" + counts + " time=\"0\">\n" + cases + "  </testsuite>\n</testsuites>\n";
}

// ---------------------------------------------------------------------------------------------
// Graphviz: locks as nodes (the GIL a double octagon, locks first taken inside a CUDA driver call
// boxes), edges labelled with the thread and the frame that made them.
// ---------------------------------------------------------------------------------------------
std::string DotGraph(const Finding& f) {
  const json& d = f.data;
  const json& locks = Arr(d, "locks");
  if (locks.empty()) return "";
  std::string g = "digraph \"locksan\" {\n";
  g += "  graph [label=\"" + DotEscape(Headline(f) + "\nfingerprint " + f.fingerprint + ", " + SeenText(f)) +
       "\", labelloc=t, fontname=\"Helvetica\", fontsize=12];\n";
  g += "  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=9];\n";
  for (const json& l : locks) {
    std::string id = "L" + std::to_string(Int(l, "id"));
    std::string kind = Str(l, "kind");
    std::string label = Str(l, "name");
    std::string attrs;
    std::string driver = Str(l, "driver_call");
    if (kind == "GIL") {
      label += "\nPython global interpreter lock";
      attrs = "shape=doubleoctagon, style=filled, fillcolor=\"#fde68a\"";
    } else if (!driver.empty()) {
      label += "\n" + (Str(l, "symbol").empty() ? Str(l, "location") : Str(l, "symbol")) + "\n" + kind +
               ", taken in CUDA driver call " + driver;
      attrs = "shape=box, style=\"filled,bold\", fillcolor=\"#bfdbfe\"";
    } else {
      std::string sym = Str(l, "symbol");
      label += "\n" + (sym.empty() ? Str(l, "location") : sym) + "\n" + kind;
      attrs = "shape=ellipse";
    }
    g += "  " + id + " [label=\"" + DotEscape(label) + "\", " + attrs + "];\n";
  }
  auto edge = [&](int64_t from, int64_t to, const std::string& label, bool driver) {
    g += "  L" + std::to_string(from) + " -> L" + std::to_string(to) + " [label=\"" + DotEscape(label) + "\"" +
         (driver ? ", style=bold, color=\"#1d4ed8\"" : ", color=\"#b91c1c\"") + "];\n";
  };
  for (const json& e : Arr(d, "edges")) {
    std::string label = ThreadLabel(d, Int(e, "thread")) + "\n" + ShortFrame(SiteFrame(Obj(e, "stack_to")));
    std::string drv = Str(e, "driver_call_to");
    if (!drv.empty()) label += "\nin CUDA driver call " + drv;
    edge(Int(e, "from"), Int(e, "to"), label, !drv.empty());
  }
  if (Arr(d, "edges").empty()) {
    const json& cur = Obj(d, "current");
    if (cur.is_object() && locks.size() == 1) {  // double lock and the like: a self-loop
      int64_t id = Int(locks[0], "id");
      edge(id, id, ThreadLabel(d, Int(cur, "thread")) + "\n" + ShortFrame(SiteFrame(Obj(cur, "stack"))),
           !Str(cur, "driver_call").empty());
    }
    for (const json& w : Arr(d, "waits")) {  // deadlock: held lock -> lock waited for, per thread
      for (const json& h : Arr(d, "held")) {
        if (Int(h, "thread") != Int(w, "thread")) continue;
        const json& at = Obj(w, "blocked_at");
        edge(Int(h, "lock"), Int(w, "lock"),
             ThreadLabel(d, Int(w, "thread")) + " waits\n" + ShortFrame(at.is_object() ? &at : nullptr),
             !Str(w, "driver_call").empty());
      }
    }
  }
  return g + "}\n";
}

}  // namespace locksan_tool
