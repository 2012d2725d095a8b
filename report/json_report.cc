// report/json_report.cc — the JSON form of a report (docs/report-schema.md), written by hand.
//
// Runtime rules apply: no exceptions, no malloc (TextBuffer and PtrVec live on internal memory), only
// system calls and the symbolizer. Everything here runs under the report lock.
#include "report/json_report.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "core/detector.h"
#include "core/gil.h"
#include "core/internal_alloc.h"
#include "core/output.h"
#include "core/ptr_vec.h"
#include "core/stack.h"
#include "core/symbolizer.h"
#include "report/report.h"
#include "report/symbolized.h"

#ifndef LOCKSAN_VERSION
#define LOCKSAN_VERSION "0.0.0"
#endif

namespace locksan {

// ---------------------------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------------------------
namespace {

// Utf8SequenceLength — length of the valid UTF-8 sequence at s[0..n), 0 if it is not valid
// (overlong forms, surrogates and code points past U+10FFFF are invalid).
size_t Utf8SequenceLength(const unsigned char* s, size_t n) {
  unsigned char c = s[0];
  size_t len;
  unsigned cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if (len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) return 0;
  if (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) return 0;
  return len;
}

}  // namespace

void JsonStringN(TextBuffer* out, const char* str, size_t n) {
  const unsigned char* s = reinterpret_cast<const unsigned char*>(str);
  out->AppendRaw("\"", 1);
  size_t run = 0;  // start of the pending run of bytes copied as they are
  size_t i = 0;
  auto flush = [&](size_t end) {
    if (end > run) out->AppendRaw(str + run, end - run);
  };
  while (i < n) {
    unsigned char c = s[i];
    const char* esc = nullptr;
    char ubuf[8];
    size_t step = 1;
    if (c == '"') esc = "\\\"";
    else if (c == '\\') esc = "\\\\";
    else if (c == '\n') esc = "\\n";
    else if (c == '\r') esc = "\\r";
    else if (c == '\t') esc = "\\t";
    else if (c == '\b') esc = "\\b";
    else if (c == '\f') esc = "\\f";
    else if (c < 0x20 || c == 0x7f) {
      snprintf(ubuf, sizeof ubuf, "\\u%04x", c);
      esc = ubuf;
    } else if (c >= 0x80) {
      step = Utf8SequenceLength(s + i, n - i);
      if (!step) {
        esc = "\\ufffd";
        step = 1;
      }
    }
    if (esc) {
      flush(i);
      out->AppendRaw(esc, strlen(esc));
      run = i + step;
    }
    i += step;
  }
  flush(n);
  out->AppendRaw("\"", 1);
}

void JsonString(TextBuffer* out, const char* s) {
  if (!s) {
    out->AppendRaw("null", 4);
    return;
  }
  JsonStringN(out, s, strlen(s));
}

namespace {

// Empty strings are written as null ("unknown").
void JsonOptString(TextBuffer* out, const char* s) { JsonString(out, s && *s ? s : nullptr); }

void Key(TextBuffer* out, const char* k) {
  JsonString(out, k);
  out->AppendRaw(":", 1);
}

void Hex(TextBuffer* out, uptr v) { out->Append("\"0x%llx\"", static_cast<unsigned long long>(v)); }

void Bool(TextBuffer* out, bool b) { out->Append("%s", b ? "true" : "false"); }

// ---------------------------------------------------------------------------------------------
// Process and host (filled once per process; a forked child fills its own)
// ---------------------------------------------------------------------------------------------
struct ProcessInfo {
  int pid;
  int ppid;
  char argv0[512];
  char exe[1024];
  char hostname[256];
  long long start_unix;  // -1 unknown
  char start_iso[40];
};
ProcessInfo g_proc;

// ReadSmallFile — up to size-1 bytes of a /proc file; returns the length read (NUL-terminated).
size_t ReadSmallFile(const char* path, char* buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    buf[0] = 0;
    return 0;
  }
  size_t len = 0;
  while (len + 1 < size) {
    ssize_t n = read(fd, buf + len, size - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
  }
  close(fd);
  buf[len] = 0;
  return len;
}

// BootTime — "btime" of /proc/stat (seconds since the epoch), scanning it in chunks: the file has a
// long "intr" line before it.
long long BootTime() {
  int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[4096 + 64];
  size_t keep = 0;
  long long result = -1;
  for (;;) {
    ssize_t n = read(fd, buf + keep, 4096);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size_t len = keep + static_cast<size_t>(n);
    buf[len] = 0;
    for (char* p = buf; (p = strstr(p, "btime ")) != nullptr; p++) {
      if (p != buf && p[-1] != '\n') continue;
      char* e = strchr(p, '\n');
      if (!e) break;  // the line continues in the next chunk
      long long v = 0;
      for (char* q = p + 6; *q >= '0' && *q <= '9'; q++) v = v * 10 + (*q - '0');
      result = v;
      break;
    }
    if (result >= 0) break;
    // Keep the tail (a line that may be cut) for the next round.
    keep = len < 63 ? len : 63;
    memmove(buf, buf + len - keep, keep);
  }
  close(fd);
  return result;
}

void CivilFromDays(long long z, int* y, unsigned* m, unsigned* d) {
  // Howard Hinnant's days_from_civil inverse.
  z += 719468;
  long long era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long long yy = static_cast<long long>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int>(yy + (*m <= 2));
}

// IsoTime — "2024-05-01T12:34:56.789Z" (UTC); ms < 0 leaves the fraction out.
void IsoTime(char* buf, size_t size, long long secs, int ms) {
  long long days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  long long rem = secs - days * 86400;
  int y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  if (ms >= 0)
    snprintf(buf, size, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y, m, d, static_cast<int>(rem / 3600),
             static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60), ms);
  else
    snprintf(buf, size, "%04d-%02u-%02uT%02d:%02d:%02dZ", y, m, d, static_cast<int>(rem / 3600),
             static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60));
}

const ProcessInfo& Process() {
  int pid = getpid();
  if (g_proc.pid == pid) return g_proc;
  memset(&g_proc, 0, sizeof g_proc);
  g_proc.pid = pid;
  g_proc.ppid = getppid();
  ReadSmallFile("/proc/self/cmdline", g_proc.argv0, sizeof g_proc.argv0);  // stops at the first NUL
  ssize_t n = readlink("/proc/self/exe", g_proc.exe, sizeof g_proc.exe - 1);
  g_proc.exe[n > 0 ? n : 0] = 0;
  struct utsname u;
  if (uname(&u) == 0) snprintf(g_proc.hostname, sizeof g_proc.hostname, "%s", u.nodename);
  // Start time: field 22 of /proc/self/stat (clock ticks after boot) + btime.
  g_proc.start_unix = -1;
  char stat[1024];
  ReadSmallFile("/proc/self/stat", stat, sizeof stat);
  if (char* p = strrchr(stat, ')')) {
    int field = 2;  // ')' ends field 2 (comm)
    unsigned long long ticks = 0;
    bool found = false;
    for (p++; *p; p++) {
      if (*p == ' ') {
        field++;
        if (field == 22) {
          for (char* q = p + 1; *q >= '0' && *q <= '9'; q++) ticks = ticks * 10 + (*q - '0');
          found = true;
          break;
        }
      }
    }
    long hz = sysconf(_SC_CLK_TCK);
    long long boot = BootTime();
    if (found && hz > 0 && boot >= 0) g_proc.start_unix = boot + static_cast<long long>(ticks / hz);
  }
  if (g_proc.start_unix >= 0) IsoTime(g_proc.start_iso, sizeof g_proc.start_iso, g_proc.start_unix, -1);
  return g_proc;
}

void AppendHeader(TextBuffer* out) {
  const ProcessInfo& p = Process();
  out->Append("{\"schema\":\"%s\",\"version\":%d,", kReportSchemaName, kReportSchemaVersion);
  out->Append("\"tool\":{\"name\":\"locksan\",\"version\":\"%s\",\"symbolizer\":", LOCKSAN_VERSION);
  JsonString(out, SymbolizerName());
  out->Append("},\"process\":{\"pid\":%d,\"ppid\":%d,\"argv0\":", p.pid, p.ppid);
  JsonOptString(out, p.argv0);
  out->Append(",\"exe\":");
  JsonOptString(out, p.exe);
  out->Append(",\"start_time\":");
  JsonOptString(out, p.start_iso);
  if (p.start_unix >= 0) out->Append(",\"start_time_unix\":%lld", p.start_unix);
  else out->Append(",\"start_time_unix\":null");
  out->Append("},\"host\":{\"hostname\":");
  JsonOptString(out, p.hostname);
  out->Append("},");
}

// ---------------------------------------------------------------------------------------------
// Frames, stacks, sites
// ---------------------------------------------------------------------------------------------
void FrameJson(TextBuffer* out, const FrameInfo* f, bool python = false) {
  if (!f) {
    out->AppendRaw("null", 4);
    return;
  }
  out->AppendRaw("{", 1);
  Key(out, "function");
  JsonOptString(out, f->function);
  out->AppendRaw(",", 1);
  Key(out, "file");
  JsonOptString(out, f->file);
  out->Append(",\"line\":");
  if (f->file[0] && f->line > 0) out->Append("%d", f->line);
  else out->Append("null");
  out->AppendRaw(",", 1);
  Key(out, "module");
  JsonOptString(out, f->module);
  if (python) out->Append(",\"offset\":null}");  // a Python frame: no module, no offset
  else out->Append(",\"offset\":%llu}", static_cast<unsigned long long>(f->module_offset));
}

void PcFrameJson(TextBuffer* out, uptr pc) {
  if (!pc) {
    out->AppendRaw("null", 4);
    return;
  }
  FrameInfo f;
  SymbolizeCode(pc, &f);
  FrameJson(out, &f);
}

// A stack: native frames (innermost first) and the Python frames of the same moment, innermost
// first (core/gil.h's depot; empty when the thread ran no Python code or none was captured).
void StackJson(TextBuffer* out, StackCache* cache, u32 id, u32 py_id = 0) {
  const SymStack* s = id ? cache->Get(id) : nullptr;
  PyStack py = py_id ? PyStackDepotGet(py_id) : PyStack{0, nullptr};
  if (!s && !py.size) {
    out->AppendRaw("null", 4);
    return;
  }
  out->Append("{\"id\":%u,\"frames\":[", id);
  for (u32 i = 0; s && i < s->size; i++) {
    if (i) out->AppendRaw(",", 1);
    FrameJson(out, &s->frames[i]);
  }
  out->Append("],\"python_frames\":[");
  for (u32 i = 0; i < py.size; i++) {
    const python::PyFrameRec& f = py.frames[i];
    out->Append("%s{\"function\":", i ? "," : "");
    JsonOptString(out, f.function);
    out->Append(",\"file\":");
    JsonOptString(out, f.file);
    if (f.line > 0) out->Append(",\"line\":%d}", f.line);
    else out->Append(",\"line\":null}");
  }
  out->Append("]}");
}

// A site of the fingerprint: function | basename(file) | line, or function | basename(module) | 0.
struct Site {
  const char* function;
  const char* file;
  int line;
};

Site SiteOf(const FrameInfo* f) {
  if (!f) return Site{"", "", 0};
  if (f->file[0]) return Site{f->function, FingerprintBasename(f->file), f->line};
  return Site{f->function, f->module[0] ? ModuleBaseName(f->module) : "", 0};
}

void SiteText(TextBuffer* out, const Site& s) { out->Append("%s|%s|%d", s.function, s.file, s.line); }

void SiteJson(TextBuffer* out, const Site& s) {
  out->Append("{\"function\":");
  JsonString(out, s.function);
  out->Append(",\"file\":");
  JsonString(out, s.file);
  out->Append(",\"line\":%d}", s.line);
}

// The frames a report's sites come from; pc frames are symbolised into `own`.
struct SitePair {
  FrameInfo* from;
  FrameInfo* to;
};

class SiteCollector {
 public:
  ~SiteCollector() {
    for (FrameInfo* f : own_) InternalDelete(f);
  }
  // FromStack — a stack's site frame, as the SUMMARY line chooses it: the first user frame; when
  // that has no source file and the thread ran Python code, the innermost Python frame.
  const FrameInfo* FromStack(StackCache* cache, u32 id, u32 py_id) {
    const FrameInfo* f = id ? FirstUserFrame(cache->Get(id)) : nullptr;
    if (f && f->file[0]) return f;
    const FrameInfo* p = FromPy(py_id);
    return p ? p : f;
  }
  const FrameInfo* FromPc(uptr pc) {
    if (!pc) return nullptr;
    FrameInfo* f = InternalNew<FrameInfo>();
    SymbolizeCode(pc, f);
    own_.push_back(f);
    return f;
  }
  // FromPy — the innermost frame of a Python stack, as a FrameInfo without module.
  const FrameInfo* FromPy(u32 py_id) {
    PyStack py = py_id ? PyStackDepotGet(py_id) : PyStack{0, nullptr};
    if (!py.size) return nullptr;
    FrameInfo* f = InternalNew<FrameInfo>();
    snprintf(f->function, sizeof f->function, "%s", py.frames[0].function[0] ? py.frames[0].function : "<module>");
    snprintf(f->file, sizeof f->file, "%s", py.frames[0].file);
    f->line = py.frames[0].line;
    own_.push_back(f);
    python_.push_back(f);
    return f;
  }
  bool IsPython(const FrameInfo* f) const {
    for (const FrameInfo* p : python_)
      if (p == f) return true;
    return false;
  }
  void Add(const FrameInfo* from, const FrameInfo* to) {
    pairs_.push_back(SitePair{const_cast<FrameInfo*>(from), const_cast<FrameInfo*>(to)});
  }
  const PtrVec<SitePair>& pairs() const { return pairs_; }

 private:
  PtrVec<FrameInfo*> own_;
  PtrVec<const FrameInfo*> python_;
  PtrVec<SitePair> pairs_;
};

u32 ThreadPyStack(const ReportDesc& r, u32 thread) {
  const ReportThread* t = r.FindThread(thread);
  return t ? t->current_py_stack : 0;
}

// CollectSites — the (from, to) site pairs of a report, from whatever it contains: the edges of a
// cycle; the previous and current stack (double lock, bad unlock, driver-call reports); for each
// blocked thread of a deadlock or long wait, every lock it holds and where it blocks.
void CollectSites(const ReportDesc& r, StackCache* cache, SiteCollector* sc) {
  for (const ReportEdge& e : r.edges)
    sc->Add(sc->FromStack(cache, e.facts.stack_from, e.facts.aux_from),
            sc->FromStack(cache, e.facts.stack_to, e.facts.aux_to));
  if (r.current_stack || r.previous_stack)
    sc->Add(sc->FromStack(cache, r.previous_stack, 0), sc->FromStack(cache, r.current_stack, r.current_py_stack));
  for (const ReportWait& w : r.waits) {
    const FrameInfo* to = sc->FromPc(w.wait_pc);
    if (!to || !to->file[0]) {
      if (const FrameInfo* p = sc->FromPy(ThreadPyStack(r, w.thread))) to = p;
    }
    bool any = false;
    for (const ReportHeld& h : r.held) {
      if (h.thread != w.thread) continue;
      sc->Add(sc->FromPc(h.pc), to);
      any = true;
    }
    if (!any) sc->Add(nullptr, to);
  }
}

// FirstFrame — the frame of the SUMMARY line, chosen as the text report chooses it.
const FrameInfo* FirstFrame(const ReportDesc& r, StackCache* cache, SiteCollector* sc) {
  if (r.edges.size()) return sc->FromStack(cache, r.edges[0].facts.stack_to, r.edges[0].facts.aux_to);
  if (r.current_stack) return sc->FromStack(cache, r.current_stack, r.current_py_stack);
  if (r.waits.size()) {
    const ReportThread* t = r.FindThread(r.waits[0].thread);
    const SymStack* s = t && t->current_stack ? cache->Get(t->current_stack) : nullptr;
    if (s && s->size) return sc->FromStack(cache, t->current_stack, t->current_py_stack);
    return sc->FromPc(r.waits[0].wait_pc);
  }
  return nullptr;
}

const char* ModeWord(u8 mode) { return mode == kRead ? "read" : "write"; }

void ModesJson(TextBuffer* out, u8 modes, u8 read_bit, u8 write_bit) {
  out->AppendRaw("[", 1);
  bool first = true;
  if (modes & read_bit) out->Append("\"read\""), first = false;
  if (modes & write_bit) out->Append("%s\"write\"", first ? "" : ",");
  out->AppendRaw("]", 1);
}

void AddDriverCall(PtrVec<const char*>* calls, const char* c) {
  if (!c || !*c) return;
  for (const char* x : *calls)
    if (!strcmp(x, c)) return;
  calls->push_back(c);
}

void LockJson(TextBuffer* out, const ReportDesc& r, const ReportLock& l) {
  char name[32];
  ReportLockName(name, sizeof name, &l);
  out->Append("{\"id\":%llu,\"name\":", static_cast<unsigned long long>(l.id));
  JsonString(out, name);
  out->Append(",\"address\":");
  Hex(out, l.addr);
  out->Append(",\"kind\":");
  JsonString(out, LockKindName(l.kind));
  char sym[512], mod[512];
  uptr off = 0;
  if (l.kind != LockKind::kGil && SymbolizeData(l.addr, sym, sizeof sym, mod, sizeof mod, &off)) {
    out->Append(",\"symbol\":");
    JsonString(out, sym);
    out->Append(",\"symbol_offset\":%llu,\"symbol_module\":", static_cast<unsigned long long>(off));
    JsonOptString(out, mod);
  } else {
    out->Append(",\"symbol\":null,\"symbol_offset\":null,\"symbol_module\":null");
  }
  TextBuffer loc;
  ReportLockLocation(&loc, r, l);
  out->Append(",\"location\":");
  JsonString(out, loc.data());
  out->Append(",\"first_thread\":%u,\"first_locked\":", l.first_thread);
  PcFrameJson(out, l.first_pc);
  out->Append(",\"driver_call\":");
  JsonString(out, l.driver_call);
  if (l.class_locks) out->Append(",\"class_locks\":%llu", static_cast<unsigned long long>(l.class_locks));
  out->AppendRaw("}", 1);
}

// PyCallbackJson — the ctypes/cffi callback a thread takes the GIL to run (core/pycallback.h):
// {"function", "file", "line", "called_by": frame or null}, or null; `stack` is that thread's stack.
void PyCallbackJson(TextBuffer* out, StackCache* cache, u32 id, u32 stack) {
  PyStack p = id ? PyStackDepotGet(id) : PyStack{0, nullptr};
  if (!p.size) {
    out->AppendRaw("null", 4);
    return;
  }
  const python::PyFrameRec& f = p.frames[0];
  out->Append("{\"function\":");
  JsonOptString(out, f.function);
  out->Append(",\"file\":");
  JsonOptString(out, f.file);
  if (f.line > 0) out->Append(",\"line\":%d", f.line);
  else out->Append(",\"line\":null");
  out->Append(",\"called_by\":");
  const FrameInfo* c = CallbackCaller(stack ? cache->Get(stack) : nullptr);
  if (c) FrameJson(out, c);
  else out->AppendRaw("null", 4);
  out->AppendRaw("}", 1);
}

void EdgeJson(TextBuffer* out, StackCache* cache, const ReportEdge& e) {
  const EdgeFacts& f = e.facts;
  out->Append("{\"from\":%llu,\"to\":%llu,\"thread\":%u,\"multi_thread\":",
              static_cast<unsigned long long>(e.from), static_cast<unsigned long long>(e.to), f.thread);
  Bool(out, f.multi_thread);
  out->Append(",\"from_held\":");
  ModesJson(out, f.modes, kFromHeldRead, kFromHeldWrite);
  out->Append(",\"to_wanted\":");
  ModesJson(out, f.modes, kToWantRead, kToWantWrite);
  out->Append(",\"gates\":[");
  for (u8 g = 0; g < f.ngates; g++)
    out->Append("%s%llu", g ? "," : "", static_cast<unsigned long long>(f.gates[g]));
  out->Append("],\"gates_overflow\":");
  Bool(out, f.gates_overflow);
  out->Append(",\"driver_call_to\":");
  JsonString(out, f.driver_to);
  out->Append(",\"driver_call_from\":");
  JsonString(out, f.driver_from);
  out->Append(",\"stack_to\":");
  StackJson(out, cache, f.stack_to, f.aux_to);
  out->Append(",\"stack_from\":");
  StackJson(out, cache, f.stack_from, f.aux_from);
  out->Append(",\"stack_from_exact\":");
  Bool(out, f.stack_from_exact);
  out->Append(",\"python_callback\":");
  PyCallbackJson(out, cache, f.py_callback, f.stack_to);
  out->AppendRaw("}", 1);
}

void ThreadJson(TextBuffer* out, StackCache* cache, const ReportThread& t) {
  out->Append("{\"number\":%u,\"tid\":%d,\"name\":", t.number, t.tid);
  JsonOptString(out, t.name);
  out->Append(",\"parent\":");
  if (t.number == 0) out->Append("null");
  else out->Append("%u", t.parent);
  out->Append(",\"alive\":");
  Bool(out, t.alive);
  out->Append(",\"creation_stack\":");
  StackJson(out, cache, t.creation_stack);
  out->Append(",\"current_stack\":");
  StackJson(out, cache, t.current_stack, t.current_py_stack);
  out->AppendRaw("}", 1);
}

void WaitJson(TextBuffer* out, const ReportWait& w) {
  out->Append("{\"thread\":%u,\"lock\":%llu,\"address\":", w.thread, static_cast<unsigned long long>(w.lock_id));
  Hex(out, w.lock_addr);
  out->Append(",\"lock_kind\":");
  JsonString(out, LockKindName(w.lock_kind));
  out->Append(",\"mode\":\"%s\",\"waited_ms\":%u,\"holder\":", ModeWord(w.mode), w.waited_ms);
  if (w.holder == ~0u) out->Append("null");
  else out->Append("%u", w.holder);
  out->Append(",\"holder_exited\":");
  Bool(out, w.holder_exited);
  out->Append(",\"blocked_at\":");
  PcFrameJson(out, w.wait_pc);
  out->Append(",\"driver_call\":");
  JsonString(out, w.driver_call);
  out->AppendRaw("}", 1);
}

void HeldJson(TextBuffer* out, const ReportHeld& h) {
  out->Append("{\"thread\":%u,\"lock\":%llu,\"address\":", h.thread, static_cast<unsigned long long>(h.lock_id));
  Hex(out, h.lock_addr);
  out->Append(",\"lock_kind\":");
  JsonString(out, LockKindName(h.kind));
  out->Append(",\"mode\":\"%s\",\"acquired_at\":", ModeWord(h.mode));
  PcFrameJson(out, h.pc);
  out->AppendRaw("}", 1);
}

// SummaryOf — the "SUMMARY: ..." line of the text form (without its newline), or empty.
void SummaryOf(const char* text, const char** s, size_t* n) {
  *s = "";
  *n = 0;
  const char* p = text;
  for (const char* q; (q = strstr(p, "SUMMARY: ")) != nullptr; p = q + 1) {
    if (q != text && q[-1] != '\n') continue;
    const char* e = strchr(q, '\n');
    *s = q;
    *n = e ? static_cast<size_t>(e - q) : strlen(q);
  }
}

}  // namespace

bool ReportSummaryFrame(const ReportDesc& r, StackCache* cache, FrameInfo* out) {
  SiteCollector sc;
  const FrameInfo* f = FirstFrame(r, cache, &sc);
  if (!f) return false;
  *out = *f;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Fingerprint
// ---------------------------------------------------------------------------------------------
void ReportFingerprint(const ReportDesc& r, StackCache* cache, char out[17], TextBuffer* sites) {
  SiteCollector sc;
  CollectSites(r, cache, &sc);
  // Pair strings, NUL-separated in one buffer; sorted bytewise, duplicates dropped.
  TextBuffer text;
  PtrVec<u32> offs;
  PtrVec<u32> pair_of;  // index into sc.pairs() of each string
  for (u32 i = 0; i < sc.pairs().size(); i++) {
    offs.push_back(static_cast<u32>(text.size()));
    pair_of.push_back(i);
    SiteText(&text, SiteOf(sc.pairs()[i].from));
    text.AppendRaw(">", 1);
    SiteText(&text, SiteOf(sc.pairs()[i].to));
    text.AppendRaw("\0", 1);
  }
  const char* base = text.data();
  for (u32 i = 1; i < offs.size(); i++) {  // insertion sort: a handful of pairs
    u32 o = offs[i], p = pair_of[i];
    u32 j = i;
    while (j > 0 && strcmp(base + offs[j - 1], base + o) > 0) {
      offs[j] = offs[j - 1];
      pair_of[j] = pair_of[j - 1];
      j--;
    }
    offs[j] = o;
    pair_of[j] = p;
  }
  const char* kind = ReportKindName(r.kind);
  uint64_t h = FnvAppend(kFnvOffset, kind, strlen(kind));
  h = FnvAppend(h, "\n", 1);
  if (sites) sites->AppendRaw("[", 1);
  bool first = true;
  for (u32 i = 0; i < offs.size(); i++) {
    const char* s = base + offs[i];
    if (i && !strcmp(s, base + offs[i - 1])) continue;
    h = FnvAppend(h, s, strlen(s));
    h = FnvAppend(h, "\n", 1);
    if (sites) {
      const SitePair& sp = sc.pairs()[pair_of[i]];
      sites->Append("%s{\"from\":", first ? "" : ",");
      SiteJson(sites, SiteOf(sp.from));
      sites->Append(",\"to\":");
      SiteJson(sites, SiteOf(sp.to));
      sites->AppendRaw("}", 1);
    }
    first = false;
  }
  if (sites) sites->AppendRaw("]", 1);
  FingerprintHex(h, out);
}

// ---------------------------------------------------------------------------------------------
// One finding
// ---------------------------------------------------------------------------------------------
void FormatJsonFinding(const ReportDesc& r, StackCache* cache, const char* fingerprint, const char* text,
                       TextBuffer* out) {
  TextBuffer sites;
  char fp[17];
  ReportFingerprint(r, cache, fp, &sites);
  if (!fingerprint) fingerprint = fp;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char now[40];
  IsoTime(now, sizeof now, ts.tv_sec, static_cast<int>(ts.tv_nsec / 1000000));

  out->Append("{\"kind\":");
  JsonString(out, ReportKindName(r.kind));
  out->Append(",\"detail\":");
  JsonString(out, ReportKindDetail(r.kind));
  out->Append(",\"fingerprint\":\"%s\",\"number\":%u,\"time\":\"%s\",\"first_frame\":", fingerprint, r.number, now);
  {
    SiteCollector sc;
    const FrameInfo* ff = FirstFrame(r, cache, &sc);
    FrameJson(out, ff, sc.IsPython(ff));
  }
  const char* sum;
  size_t sum_len;
  SummaryOf(text ? text : "", &sum, &sum_len);
  out->Append(",\"summary\":");
  JsonStringN(out, sum, sum_len);
  out->Append(",\"single_thread\":");
  Bool(out, r.single_thread);
  out->Append(",\"predicted_by\":");
  if (r.predicted_by) out->Append("%u", r.predicted_by);
  else out->Append("null");

  out->Append(",\"locks\":[");
  for (u32 i = 0; i < r.locks.size(); i++) {
    if (i) out->AppendRaw(",", 1);
    LockJson(out, r, r.locks[i]);
  }
  out->Append("],\"edges\":[");
  for (u32 i = 0; i < r.edges.size(); i++) {
    if (i) out->AppendRaw(",", 1);
    EdgeJson(out, cache, r.edges[i]);
  }
  // Gate locks common to every edge (only when report_gate_locks=1 let a gated cycle through).
  out->Append("],\"common_gates\":[");
  if (r.edges.size()) {
    const EdgeFacts& f0 = r.edges[0].facts;
    bool first = true;
    for (u8 g = 0; g < f0.ngates; g++) {
      bool common = true;
      for (const ReportEdge& e : r.edges) {
        bool has = false;
        for (u8 k = 0; k < e.facts.ngates; k++) has |= e.facts.gates[k] == f0.gates[g];
        common &= has;
      }
      if (common) out->Append("%s%llu", first ? "" : ",", static_cast<unsigned long long>(f0.gates[g]));
      if (common) first = false;
    }
  }
  out->Append("],\"threads\":[");
  for (u32 i = 0; i < r.threads.size(); i++) {
    if (i) out->AppendRaw(",", 1);
    ThreadJson(out, cache, r.threads[i]);
  }
  out->Append("],\"current\":");
  if (r.current_stack || r.previous_stack) {
    out->Append("{\"thread\":%u,\"stack\":", r.current_thread);
    StackJson(out, cache, r.current_stack, r.current_py_stack);
    out->Append(",\"previous_stack\":");
    StackJson(out, cache, r.previous_stack);
    out->Append(",\"driver_call\":");
    JsonString(out, r.current_driver_call);
    out->Append(",\"python_callback\":");
    PyCallbackJson(out, cache, r.current_py_callback, r.current_stack);
    out->AppendRaw("}", 1);
  } else {
    out->Append("null");
  }
  out->Append(",\"waits\":[");
  for (u32 i = 0; i < r.waits.size(); i++) {
    if (i) out->AppendRaw(",", 1);
    WaitJson(out, r.waits[i]);
  }
  out->Append("],\"held\":[");
  for (u32 i = 0; i < r.held.size(); i++) {
    if (i) out->AppendRaw(",", 1);
    HeldJson(out, r.held[i]);
  }
  // Every CUDA driver call the report mentions.
  PtrVec<const char*> calls;
  for (const ReportLock& l : r.locks) AddDriverCall(&calls, l.driver_call);
  for (const ReportEdge& e : r.edges) {
    AddDriverCall(&calls, e.facts.driver_to);
    AddDriverCall(&calls, e.facts.driver_from);
  }
  AddDriverCall(&calls, r.current_driver_call);
  for (const ReportWait& w : r.waits) AddDriverCall(&calls, w.driver_call);
  out->Append("],\"driver_calls\":[");
  for (u32 i = 0; i < calls.size(); i++) {
    if (i) out->AppendRaw(",", 1);
    JsonString(out, calls[i]);
  }
  out->Append("],\"sites\":");
  out->AppendRaw(sites.data(), sites.size());
  out->Append(",\"text\":");
  JsonString(out, text ? text : "");
  out->AppendRaw("}", 1);
}

// ---------------------------------------------------------------------------------------------
// The per-process document
// ---------------------------------------------------------------------------------------------
bool JsonReportPath(const char* log_path, char* buf, size_t size) {
  if (!log_path || !log_path[0] || !strcmp(log_path, "stderr") || !strcmp(log_path, "stdout")) return false;
  int pid = getpid();
  size_t o = 0;
  bool had_pid = false;
  for (const char* p = log_path; *p && o + 24 < size; p++) {
    if (p[0] == '%' && p[1] == 'p') {
      o += snprintf(buf + o, size - o, "%d", pid);
      had_pid = true;
      p++;
    } else {
      buf[o++] = *p;
    }
  }
  buf[o] = 0;
  if (!had_pid) o += snprintf(buf + o, size - o, ".%d", pid);
  snprintf(buf + o, size - o, ".json");
  return true;
}

namespace {

struct JsonDoc {
  int pid = 0;
  TextBuffer* findings = nullptr;  // the findings so far, joined by ",\n"
  u32 count = 0;
  char path[1300] = {};            // chosen at the first finding of this process image
  bool failed = false;             // the file could not be written: JSON lines on stderr instead
};
JsonDoc g_doc;

bool WriteWhole(const char* path, const TextBuffer& doc, int* err) {
  char tmp[1400];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    *err = errno;
    return false;
  }
  const char* p = doc.data();
  size_t left = doc.size();
  while (left) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *err = n < 0 ? errno : EIO;
      close(fd);
      unlink(tmp);
      return false;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  close(fd);
  if (rename(tmp, path) != 0) {
    *err = errno;
    unlink(tmp);
    return false;
  }
  return true;
}

}  // namespace

const char* WriteJsonFinding(const char* finding, size_t len) {
  int pid = getpid();
  if (g_doc.pid != pid) {  // first finding of this process (or of a forked child)
    if (!g_doc.findings) g_doc.findings = InternalNew<TextBuffer>();
    g_doc.findings->Clear();
    g_doc.count = 0;
    g_doc.pid = pid;
    g_doc.failed = false;
    g_doc.path[0] = 0;
    char base[1280];
    if (JsonReportPath(GetFlags().log_path, base, sizeof base)) {
      // A file left by an earlier image of this pid (exec, or pid reuse in the same directory) is
      // kept: this image writes <path>.N.json instead.
      snprintf(g_doc.path, sizeof g_doc.path, "%s", base);
      struct stat st;
      for (int n = 1; n < 1000 && lstat(g_doc.path, &st) == 0; n++)
        snprintf(g_doc.path, sizeof g_doc.path, "%.*s.%d.json", static_cast<int>(strlen(base) - 5), base, n);
    }
  }
  if (g_doc.path[0] && !g_doc.failed) {
    if (g_doc.count) g_doc.findings->AppendRaw(",\n", 2);
    g_doc.findings->AppendRaw(finding, len);
    g_doc.count++;
    TextBuffer doc;
    AppendHeader(&doc);
    doc.Append("\"findings\":[\n");
    doc.AppendRaw(g_doc.findings->data(), g_doc.findings->size());
    doc.Append("\n]}\n");
    int err = 0;
    if (WriteWhole(g_doc.path, doc, &err)) return g_doc.path;
    g_doc.failed = true;
    char line[1600];
    int n = snprintf(line, sizeof line,
                     "==%d==locksan: cannot write JSON report '%s' (%s); JSON lines go to stderr\n", pid,
                     g_doc.path, strerror(err));
    RawWrite(2, line, static_cast<size_t>(n) < sizeof line ? n : sizeof line - 1);
  }
  // One self-contained document per finding, on one line, written at once.
  TextBuffer doc;
  AppendHeader(&doc);
  doc.Append("\"findings\":[");
  doc.AppendRaw(finding, len);
  doc.Append("]}\n");
  if (g_doc.path[0] || g_doc.failed) {  // log_path is a file, but JSON could not go to its .json
    RawWrite(2, doc.data(), doc.size());
    return "stderr";
  }
  OutputWrite(doc.data(), doc.size());
  return OutputDescribe();
}

}  // namespace locksan
