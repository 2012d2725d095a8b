// report/line_report.cc — where a report goes, and its one-line form for production logs.
//
// DeliverReport is called (under the report lock) for every report that no suppression matched:
//   report_format=text|json|both  the full report: text to the log (log_path), JSON to
//                                 <log file>.json, or JSON lines to the log when it is stderr/stdout;
//   log_format=full|line          'line' also writes one line per report to stderr, with one write(2):
//     locksan: KIND fingerprint=F locks=M2:bob,M1:alice first_frame=FILE:LINE:FUNCTION report=PATH
//   and then the full report goes only to a log_path *file* (none is written for stderr/stdout).
// Values are written logfmt style: a value with a space, quote, '=' or control character is quoted.
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "core/detector.h"
#include "core/output.h"
#include "core/symbolizer.h"
#include "report/json_report.h"
#include "report/report.h"
#include "report/symbolized.h"

namespace locksan {
namespace {

struct Forms {
  bool text = true;
  bool json = false;
  bool line = false;
};

// An invalid value is said once per option and process, at the first report (the default is used).
int g_warned_pid[2];

void WarnOnce(int which, const char* name, const char* value) {
  if (g_warned_pid[which] == getpid()) return;
  g_warned_pid[which] = getpid();
  OutputPrintf("==%d==locksan: invalid value '%s' for option '%s' (using the default)\n", getpid(), value, name);
}

Forms GetForms() {
  const Flags& f = GetFlags();
  Forms fm;
  const char* rf = f.report_format ? f.report_format : "text";
  if (!strcmp(rf, "json")) {
    fm.text = false;
    fm.json = true;
  } else if (!strcmp(rf, "both")) {
    fm.json = true;
  } else if (strcmp(rf, "text") != 0) {
    WarnOnce(0, "report_format", rf);
  }
  const char* lf = f.log_format ? f.log_format : "full";
  if (!strcmp(lf, "line")) fm.line = true;
  else if (strcmp(lf, "full") != 0) WarnOnce(1, "log_format", lf);
  return fm;
}

// AppendValue — a logfmt value (at most `max` bytes of it).
void AppendValue(TextBuffer* out, const char* s, size_t max) {
  size_t n = strlen(s);
  if (n > max) n = max;
  bool quote = n == 0;
  for (size_t i = 0; i < n && !quote; i++) {
    unsigned char c = s[i];
    quote = c <= ' ' || c == '"' || c == '=' || c == 0x7f;
  }
  if (!quote) {
    out->AppendRaw(s, n);
    return;
  }
  out->AppendRaw("\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', static_cast<char>(c)};
      out->AppendRaw(e, 2);
    } else if (c < ' ' || c == 0x7f) {
      out->AppendRaw(" ", 1);  // never a newline: the line stays one line
    } else {
      out->AppendRaw(s + i, 1);
    }
  }
  out->AppendRaw("\"", 1);
}

// LockLabel — "M2:bob" for a global, "M2" otherwise, "GIL".
void LockLabel(TextBuffer* out, const ReportDesc& r, const ReportLock* l) {
  char name[32];
  ReportLockName(name, sizeof name, l);
  out->Append("%s", name);
  if (!l || l->kind == LockKind::kGil) return;
  char sym[256], mod[256];
  uptr off = 0;
  if (SymbolizeData(l->addr, sym, sizeof sym, mod, sizeof mod, &off)) out->Append(":%s", sym);
}

void FrameLabel(TextBuffer* out, const FrameInfo* f) {
  if (!f) {
    out->Append("?");
  } else if (f->file[0]) {
    out->Append("%s:%d:%s", f->file, f->line, f->function[0] ? f->function : "?");
  } else {
    out->Append("%s+0x%llx:%s", f->module[0] ? ModuleBaseName(f->module) : "?",
                static_cast<unsigned long long>(f->module_offset), f->function[0] ? f->function : "?");
  }
}

void FormatLine(TextBuffer* out, const ReportDesc& r, StackCache* cache, const char* fingerprint,
                const char* report_path) {
  out->Append("locksan: %s fingerprint=%s locks=", ReportKindName(r.kind), fingerprint);
  TextBuffer locks;
  if (r.edges.size()) {
    for (u32 i = 0; i < r.edges.size(); i++) {  // the cycle's order
      if (i) locks.AppendRaw(",", 1);
      LockLabel(&locks, r, r.FindLock(r.edges[i].from));
    }
  } else {
    for (u32 i = 0; i < r.locks.size(); i++) {
      if (i) locks.AppendRaw(",", 1);
      LockLabel(&locks, r, &r.locks[i]);
    }
  }
  AppendValue(out, locks.data(), 1024);
  out->Append(" first_frame=");
  TextBuffer frame;
  FrameInfo first;
  FrameLabel(&frame, ReportSummaryFrame(r, cache, &first) ? &first : nullptr);
  AppendValue(out, frame.data(), 1024);
  out->Append(" report=");
  AppendValue(out, report_path, 1400);
  out->AppendRaw("\n", 1);
}

}  // namespace

void DeliverReport(const ReportDesc& r, StackCache* cache) {
  Forms fm = GetForms();
  char json_path[1300];
  bool log_is_file = JsonReportPath(GetFlags().log_path, json_path, sizeof json_path);
  // In line form the log stream carries only the lines: the full report needs a log file.
  bool full_text = fm.text && (log_is_file || !fm.line);
  bool full_json = fm.json && (log_is_file || !fm.line);
  const char* report_path = "none";
  if (full_text) {
    TextBuffer out;
    FormatTextReport(r, cache, OutputUseColor(), &out);
    OutputWrite(out.data(), out.size());
    report_path = OutputDescribe();
  }
  char fp[17];
  ReportFingerprint(r, cache, fp, nullptr);
  if (full_json) {
    TextBuffer plain;
    FormatTextReport(r, cache, false, &plain);
    TextBuffer finding;
    FormatJsonFinding(r, cache, fp, plain.data(), &finding);
    const char* p = WriteJsonFinding(finding.data(), finding.size());
    if (!full_text) report_path = p;
  }
  if (fm.line) {
    TextBuffer line;
    FormatLine(&line, r, cache, fp, report_path);
    // One write(2) of at most PIPE_BUF bytes: lines of threads and processes never mix, even on a pipe.
    if (line.size() <= 4096) {
      RawWrite(2, line.data(), line.size());
    } else {  // only with pathological names: cut, keeping the newline
      char buf[4096];
      memcpy(buf, line.data(), sizeof buf - 1);
      buf[sizeof buf - 1] = '\n';
      RawWrite(2, buf, sizeof buf);
    }
  }
}

}  // namespace locksan
