// report/text_report.cc — the text form of every report kind (see docs/reports.md).
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "core/detector.h"
#include "core/flat_map.h"
#include "core/gil.h"
#include "core/internal_alloc.h"
#include "core/output.h"
#include "core/stack.h"
#include "core/symbolizer.h"
#include "report/report.h"
#include "report/symbolized.h"

namespace locksan {

const char* ReportKindName(ReportKind k) {
  switch (k) {
    case ReportKind::kLockOrderInversion: return "lock-order-inversion";
    case ReportKind::kDoubleLock: return "double-lock";
    case ReportKind::kBadUnlock: return "unlock-of-unheld-lock";
    case ReportKind::kDeadlock: return "deadlock";
    case ReportKind::kLongWait: return "long-wait";
    case ReportKind::kPythonCallbackInDriverCall: return "python-callback-in-driver-call";
  }
  return "unknown";
}

const char* ReportKindDetail(ReportKind k) {
  switch (k) {
    case ReportKind::kLockOrderInversion: return "potential deadlock";
    case ReportKind::kDoubleLock: return "locking a lock this thread already holds";
    case ReportKind::kBadUnlock: return "unlocking a lock this thread does not hold";
    case ReportKind::kDeadlock: return "threads are blocked on each other for good";
    case ReportKind::kLongWait: return "a thread has been blocked on a lock for long";
    case ReportKind::kPythonCallbackInDriverCall:
      return "Python code runs inside a CUDA driver call: it needs the GIL while the driver holds its locks";
  }
  return "";
}

const char* LockKindName(LockKind k) {
  switch (k) {
    case LockKind::kMutex: return "mutex";
    case LockKind::kRecursiveMutex: return "recursive mutex";
    case LockKind::kErrorCheckMutex: return "error-checking mutex";
    case LockKind::kRwlock: return "rwlock";
    case LockKind::kSpin: return "spin lock";
    case LockKind::kSemaphore: return "semaphore";
    case LockKind::kGil: return "GIL";
    case LockKind::kCudaStream: return "CUDA stream work (pseudo-lock)";
    case LockKind::kInternal: return "internal lock";
  }
  return "lock";
}

namespace {

struct Colors {
  const char* warn;
  const char* bold;
  const char* end;
};

void FrameText(TextBuffer* out, const FrameInfo& f) {
  out->Append("%s", f.function[0] ? f.function : "<unknown>");
  if (f.file[0]) out->Append(" %s:%d", f.file, f.line);
  if (f.module[0])
    out->Append(" (%s+0x%llx)", ModuleBaseName(f.module), static_cast<unsigned long long>(f.module_offset));
}

void PrintPyStack(TextBuffer* out, u32 id) {
  PyStack p = PyStackDepotGet(id);
  if (!p.size) return;
  out->Append("    Python stack (innermost first):\n");
  for (u32 i = 0; i < p.size; i++) {
    const python::PyFrameRec& f = p.frames[i];
    out->Append("    #%u %s %s:%d\n", i, f.function[0] ? f.function : "<module>", f.file, f.line);
  }
}

// PrintPyCallback — "Python callback: F at FILE:LINE, called by C function X": the Python function
// of the ctypes/cffi callback a thread takes the GIL to run (core/pycallback.h), and the C function
// that called it, from that thread's stack `s`.
void PrintPyCallback(TextBuffer* out, u32 id, const SymStack* s) {
  PyStack p = PyStackDepotGet(id);
  if (!p.size) return;
  const python::PyFrameRec& f = p.frames[0];
  out->Append("    Python callback: %s", f.function);
  if (f.file[0]) out->Append(" at %s:%d", f.file, f.line);
  if (const FrameInfo* c = CallbackCaller(s)) {
    out->Append(", called by C function ");
    FrameText(out, *c);
  }
  out->Append("\n");
}

void PrintStack(TextBuffer* out, const SymStack* s) {
  if (!s || !s->size) {
    out->Append("    <empty stack>\n");
    return;
  }
  for (u32 i = 0; i < s->size; i++) {
    out->Append("    #%u ", i);
    FrameText(out, s->frames[i]);
    out->Append("\n");
  }
}

// SummaryLine — "SUMMARY: locksan: KIND <first user frame>". The first native frame outside the
// runtime and the C/C++ libraries, or, when that one has no source information and the thread ran
// Python code, the innermost Python frame. `prefix` (e.g. the driver call) goes before the frame.
void SummaryLine(TextBuffer* out, ReportKind kind, const SymStack* s, u32 py_stack = 0,
                 const char* prefix = nullptr) {
  out->Append("SUMMARY: locksan: %s", ReportKindName(kind));
  if (prefix) out->Append(" %s", prefix);
  const FrameInfo* f = FirstUserFrame(s);
  PyStack py = PyStackDepotGet(py_stack);
  if (py.size && (!f || !f->file[0])) {
    out->Append("%s %s:%d in %s\n", prefix ? " called from" : "", py.frames[0].file, py.frames[0].line,
                py.frames[0].function[0] ? py.frames[0].function : "<module>");
    return;
  }
  if (f) {
    if (prefix) out->Append(" called from");
    if (f->file[0]) {
      out->Append(" %s:%d in %s", f->file, f->line, f->function[0] ? f->function : "<unknown>");
    } else {
      out->Append(" %s (%s+0x%llx)", f->function[0] ? f->function : "<unknown>",
                  ModuleBaseName(f->module), static_cast<unsigned long long>(f->module_offset));
    }
  }
  out->Append("\n");
}

void LockName(char* buf, size_t n, const ReportLock* l) {
  if (!l) {
    snprintf(buf, n, "?");
  } else if (l->kind == LockKind::kGil) {
    snprintf(buf, n, "GIL");
  } else if (l->kind == LockKind::kCudaStream) {
    snprintf(buf, n, "CUDA-STREAM");
  } else {
    const char* p = l->kind == LockKind::kRwlock ? "RW" : l->kind == LockKind::kSpin ? "S"
                    : l->kind == LockKind::kSemaphore ? "SEM" : "M";
    snprintf(buf, n, "%s%llu", p, static_cast<unsigned long long>(l->id));
  }
}

const char* KindWord(const ReportLock* l, bool capital) {
  if (!l) return capital ? "Lock" : "lock";
  switch (l->kind) {
    case LockKind::kRwlock: return capital ? "RWLock" : "rwlock";
    case LockKind::kSpin: return capital ? "Spin lock" : "spin lock";
    case LockKind::kSemaphore: return capital ? "Semaphore" : "semaphore";
    case LockKind::kGil: return capital ? "The" : "the";
    case LockKind::kCudaStream: return capital ? "The pseudo-lock" : "the pseudo-lock";
    default: return capital ? "Mutex" : "mutex";
  }
}

void ThreadText(TextBuffer* out, const ReportDesc& r, u32 number) {
  const ReportThread* t = r.FindThread(number);
  out->Append("thread T%u", number);
  if (t) {
    out->Append(" (tid %d", t->tid);
    if (t->name[0]) out->Append(", \"%s\"", t->name);
    out->Append(")");
  }
}

void DescribeLockLocation(TextBuffer* out, const ReportDesc& r, const ReportLock& l) {
  char sym[512], mod[512];
  uptr off = 0;
  if (l.kind == LockKind::kGil) {
    out->Append("the Python interpreter's global interpreter lock");
    return;
  }
  if (SymbolizeData(l.addr, sym, sizeof sym, mod, sizeof mod, &off)) {
    out->Append("global '%s'", sym);
    if (off) out->Append("+%llu", static_cast<unsigned long long>(off));
    out->Append(" in %s", ModuleBaseName(mod));
  } else {
    (void)r;
    out->Append("heap or stack memory");
  }
}

// CPythonInternal — every edge of the cycle was made inside CPython's threading.py (the innermost
// Python frame of each acquisition): its own thread bookkeeping, not the program's locking.
bool CPythonInternal(const ReportDesc& r) {
  if (r.kind != ReportKind::kLockOrderInversion || r.edges.empty()) return false;
  // Only CPython's own locks (threading.Lock and friends are semaphores); a C library's mutexes
  // taken under Thread(target=cfunc) have threading.py as innermost Python frame too.
  for (const ReportLock& l : r.locks)
    if (l.kind != LockKind::kSemaphore) return false;
  for (const ReportEdge& e : r.edges) {
    PyStack p = PyStackDepotGet(e.facts.aux_to);
    if (!p.size) return false;
    const char* f = p.frames[0].file;
    size_t n = strlen(f);
    if (n < 13 || strcmp(f + n - 13, "/threading.py") != 0) return false;
  }
  return true;
}

u64 g_cpython_internal_hits = 0;

bool Suppressed(const ReportDesc& r, StackCache* cache, Suppressions* supp, PtrVec<u32>* stacks) {
  if (GetFlags().suppress_cpython_internals && CPythonInternal(r)) {
    g_cpython_internal_hits++;
    return true;
  }
  if (!supp || supp->size() == 0) return false;
  const char* kind = ReportKindName(r.kind);
  for (u32 id : *stacks) {
    const SymStack* s = cache->Get(id);
    if (!s) continue;
    for (u32 i = 0; i < s->size; i++) {
      const FrameInfo& f = s->frames[i];
      int m = supp->Match(kind, f.function);
      if (m < 0) m = supp->Match(kind, f.file);
      if (m < 0) m = supp->Match(kind, f.module);
      if (m >= 0) {
        supp->Hit(m);
        return true;
      }
    }
  }
  // Python frames: function and file.
  PtrVec<u32> py;
  for (const ReportEdge& e : r.edges) py.push_back(e.facts.aux_to);
  py.push_back(r.current_py_stack);
  for (const ReportThread& t : r.threads) py.push_back(t.current_py_stack);
  for (u32 id : py) {
    PyStack p = PyStackDepotGet(id);
    for (u32 i = 0; i < p.size; i++) {
      int m = supp->Match(kind, p.frames[i].function);
      if (m < 0) m = supp->Match(kind, p.frames[i].file);
      if (m >= 0) {
        supp->Hit(m);
        return true;
      }
    }
  }
  return false;
}

void Headline(TextBuffer* out, const Colors& c, ReportKind kind) {
  out->Append("%s==%d==WARNING: locksan: %s (%s)%s\n", c.warn, getpid(), ReportKindName(kind),
              ReportKindDetail(kind), c.end);
}

void LockSection(TextBuffer* out, const ReportDesc& r, StackCache* cache) {
  for (const ReportLock& l : r.locks) {
    char name[32];
    LockName(name, sizeof name, &l);
    if (l.kind == LockKind::kGil) {
      out->Append("  GIL: the Python interpreter's global interpreter lock\n");
      continue;
    }
    if (l.kind == LockKind::kCudaStream) {
      out->Append(
          "  CUDA-STREAM: a pseudo-lock for work queued on CUDA streams. A host function "
          "(cuLaunchHostFunc, cuStreamAddCallback) holds it while it runs on the driver's callback thread; "
          "a synchronising call (cuStreamSynchronize, cuCtxSynchronize, cuEventSynchronize, a blocking copy) "
          "waits for it.\n");
      continue;
    }
    out->Append("  %s %s (0x%llx, %s): ", KindWord(&l, true), name,
                static_cast<unsigned long long>(l.addr), LockKindName(l.kind));
    DescribeLockLocation(out, r, l);
    if (l.driver_call) out->Append("; first taken inside CUDA driver call %s", l.driver_call);
    if (const FrameInfo* uf = FirstUserFrame(cache->Get(l.first_stack))) {
      out->Append("; first locked at ");
      FrameText(out, *uf);
    } else if (l.first_pc) {
      // No stack (a lock CPython's own code took first, core/detector.cc): the call site alone, its
      // inlined calls expanded, chosen as from a stack.
      FrameInfo frames[8];
      SymStack s;
      s.frames = frames;
      s.size = static_cast<u32>(SymbolizeCodeInline(l.first_pc, frames, 8));
      out->Append("; first locked at ");
      FrameText(out, *FirstUserFrame(&s));
    }
    if (l.class_locks > 1)
      out->Append("; one node for the %llu locks first locked on this call path (a lock class), "
                  "described by the one that made it a class",
                  static_cast<unsigned long long>(l.class_locks));
    out->Append("\n");
  }
}

void CreationSection(TextBuffer* out, const ReportDesc& r, StackCache* cache) {
  for (const ReportThread& t : r.threads) {
    if (t.number == 0 || !t.creation_stack) continue;
    // Only threads that made an edge or hold something in the report.
    bool relevant = t.number == r.current_thread;
    for (const ReportEdge& e : r.edges) relevant |= e.facts.thread == t.number;
    if (!relevant) continue;
    out->Append("  Thread T%u", t.number);
    out->Append(" (tid %d", t.tid);
    if (t.name[0]) out->Append(", \"%s\"", t.name);
    out->Append(", %s) created by thread T%u at:\n", t.alive ? "running" : "finished", t.parent);
    PrintStack(out, cache->Get(t.creation_stack));
    out->Append("\n");
  }
}

void InversionReport(TextBuffer* out, const ReportDesc& r, StackCache* cache, const Colors& c) {
  Headline(out, c, r.kind);
  out->Append("  Cycle in lock order graph: ");
  for (const ReportEdge& e : r.edges) {
    const ReportLock* l = r.FindLock(e.from);
    char name[32];
    LockName(name, sizeof name, l);
    out->Append("%s%s%s (0x%llx) => ", c.bold, name, c.end,
                static_cast<unsigned long long>(l ? l->addr : 0));
  }
  {
    char name[32];
    LockName(name, sizeof name, r.FindLock(r.edges[0].from));
    out->Append("%s%s%s\n\n", c.bold, name, c.end);
  }
  for (const ReportEdge& e : r.edges) {
    const ReportLock* from = r.FindLock(e.from);
    const ReportLock* to = r.FindLock(e.to);
    char fn[32], tn[32];
    LockName(fn, sizeof fn, from);
    LockName(tn, sizeof tn, to);
    bool to_read = (e.facts.modes & kToWantRead) && !(e.facts.modes & kToWantWrite);
    bool from_read = (e.facts.modes & kFromHeldRead) && !(e.facts.modes & kFromHeldWrite);
    out->Append("  %s %s%s%s acquired%s here while holding %s %s%s%s%s, in ", KindWord(to, true), c.bold,
                tn, c.end, to_read ? " for reading" : "", KindWord(from, false), c.bold, fn, c.end,
                from_read ? " (for reading)" : "");
    ThreadText(out, r, e.facts.thread);
    if (e.facts.driver_to) out->Append(", inside CUDA driver call %s", e.facts.driver_to);
    out->Append(":\n");
    PrintStack(out, cache->Get(e.facts.stack_to));
    PrintPyStack(out, e.facts.aux_to);
    PrintPyCallback(out, e.facts.py_callback, cache->Get(e.facts.stack_to));
    out->Append("\n  %s %s%s%s previously acquired by the same thread here%s:\n", KindWord(from, true),
                c.bold, fn, c.end,
                e.facts.stack_from_exact ? ""
                                         : " (the call site is exact; outer frames are shared with the stack "
                                           "above: acquire_stacks=1 records the whole stack)");
    PrintStack(out, cache->Get(e.facts.stack_from));
    out->Append("\n");
  }
  LockSection(out, r, cache);
  out->Append("\n");
  CreationSection(out, r, cache);
  if (r.single_thread) {
    out->Append(
        "  Every edge of this cycle was made by one thread (T%u), at different times: it does not "
        "deadlock as the program runs now, but does as soon as these paths run in two threads.\n\n",
        r.edges[0].facts.thread);
  }
  if (r.common_gate) {
    char gname[32];
    LockName(gname, sizeof gname, r.FindLock(r.common_gate));
    out->Append(
        "  Every edge of this cycle was made while holding %s (a gate lock taken by several threads): it "
        "cannot deadlock while that lock serialises these paths (reported because report_gate_locks=1).\n\n",
        gname);
  }
  SummaryLine(out, r.kind, cache->Get(r.edges[0].facts.stack_to), r.edges[0].facts.aux_to);
}

void BadUnlockReport(TextBuffer* out, const ReportDesc& r, StackCache* cache, const Colors& c) {
  Headline(out, c, r.kind);
  const ReportLock* l = r.locks.size() ? &r.locks[0] : nullptr;
  char name[32];
  LockName(name, sizeof name, l);
  out->Append("  %s %s%s%s (0x%llx) unlocked by ", KindWord(l, true), c.bold, name, c.end,
              static_cast<unsigned long long>(l ? l->addr : 0));
  ThreadText(out, r, r.current_thread);
  if (r.held.size())
    out->Append(", but thread T%u holds it (unlocking another thread's mutex is undefined behaviour):\n",
                r.held[0].thread);
  else
    out->Append(", which does not hold it:\n");
  PrintStack(out, cache->Get(r.current_stack));
  PrintPyStack(out, r.current_py_stack);
  if (r.held.size()) {
    FrameInfo f;
    SymbolizeCode(r.held[0].pc, &f);
    out->Append("\n  Thread T%u acquired it at ", r.held[0].thread);
    FrameText(out, f);
    out->Append("\n");
  }
  out->Append("\n");
  LockSection(out, r, cache);
  out->Append("\n");
  SummaryLine(out, r.kind, cache->Get(r.current_stack), r.current_py_stack);
}

void DoubleLockReport(TextBuffer* out, const ReportDesc& r, StackCache* cache, const Colors& c) {
  Headline(out, c, r.kind);
  const ReportLock* l = r.locks.size() ? &r.locks[0] : nullptr;
  char name[32];
  LockName(name, sizeof name, l);
  out->Append("  %s %s%s%s (0x%llx) locked again by ", KindWord(l, true), c.bold, name, c.end,
              static_cast<unsigned long long>(l ? l->addr : 0));
  ThreadText(out, r, r.current_thread);
  if (l && (l->kind == LockKind::kErrorCheckMutex || l->kind == LockKind::kRwlock))
    out->Append(", which already holds it; glibc fails this call with EDEADLK (a program that does not "
                "check it goes on without the lock):\n");
  else
    out->Append(", which already holds it; a non-recursive %s blocks forever here:\n",
                l ? LockKindName(l->kind) : "lock");
  PrintStack(out, cache->Get(r.current_stack));
  PrintPyStack(out, r.current_py_stack);
  out->Append("\n  %s %s%s%s previously acquired by the same thread here:\n", KindWord(l, true), c.bold,
              name, c.end);
  PrintStack(out, cache->Get(r.previous_stack));
  out->Append("\n");
  LockSection(out, r, cache);
  out->Append("\n");
  SummaryLine(out, r.kind, cache->Get(r.current_stack), r.current_py_stack);
}

void HeldSection(TextBuffer* out, const ReportDesc& r, u32 thread) {
  bool any = false;
  for (const ReportHeld& h : r.held) {
    if (h.thread != thread) continue;
    const ReportLock* l = r.FindLock(h.lock_id);
    char name[32];
    LockName(name, sizeof name, l);
    if (!any) out->Append("    holds:\n");
    any = true;
    FrameInfo f;
    SymbolizeCode(h.pc, &f);
    out->Append("      %s %s (0x%llx)%s, acquired at ", KindWord(l, false), name,
                static_cast<unsigned long long>(h.lock_addr), h.mode == 1 ? " for reading" : "");
    FrameText(out, f);
    out->Append("\n");
  }
}

void WaitLine(TextBuffer* out, const ReportDesc& r, const ReportWait& w, const Colors& c) {
  const ReportLock* l = r.FindLock(w.lock_id);
  char name[32];
  LockName(name, sizeof name, l);
  out->Append("  %sThread T%u%s", c.bold, w.thread, c.end);
  if (const ReportThread* t = r.FindThread(w.thread)) {
    out->Append(" (tid %d", t->tid);
    if (t->name[0]) out->Append(", \"%s\"", t->name);
    out->Append(")");
  }
  out->Append(" has been waiting %.1f s to %s %s %s%s%s (0x%llx)", w.waited_ms / 1000.0,
              w.mode == 1 ? "read-lock" : "lock", l ? KindWord(l, false) : "lock", c.bold, name, c.end,
              static_cast<unsigned long long>(w.lock_addr));
  if (w.holder == ~0u) {
    out->Append(", holder unknown");
  } else if (w.holder_exited) {
    out->Append(", held by thread T%u, which exited without releasing it", w.holder);
  } else {
    out->Append(", held by thread T%u", w.holder);
  }
  if (w.driver_call) out->Append(" (inside CUDA driver call %s)", w.driver_call);
  out->Append(".\n");
  if (w.wait_pc) {
    FrameInfo f;
    SymbolizeCode(w.wait_pc, &f);
    out->Append("    blocked in: ");
    FrameText(out, f);
    out->Append("\n");
  }
}

void ThreadStackSection(TextBuffer* out, const ReportDesc& r, u32 thread, StackCache* cache) {
  const ReportThread* t = r.FindThread(thread);
  if (!t) return;
  if (t->current_stack) {
    out->Append("    stack:\n");
    PrintStack(out, cache->Get(t->current_stack));
    PrintPyStack(out, t->current_py_stack);
  } else {
    out->Append("    stack: not available (taken only from a thread blocked in a lock, condition or join wait, "
                "which the stack signal cannot disturb; or stack_signal=0)\n");
  }
}

void DeadlockReport(TextBuffer* out, const ReportDesc& r, StackCache* cache, const Colors& c) {
  Headline(out, c, r.kind);
  for (const ReportWait& w : r.waits) {
    WaitLine(out, r, w, c);
    HeldSection(out, r, w.thread);
    ThreadStackSection(out, r, w.thread, cache);
    out->Append("\n");
    // long-wait: the holder is running; where it is now.
    if (r.kind == ReportKind::kLongWait && w.holder != ~0u && !w.holder_exited) {
      out->Append("  %sThread T%u%s", c.bold, w.holder, c.end);
      if (const ReportThread* t = r.FindThread(w.holder)) {
        out->Append(" (tid %d", t->tid);
        if (t->name[0]) out->Append(", \"%s\"", t->name);
        out->Append(")");
      }
      out->Append(" holds it:\n");
      HeldSection(out, r, w.holder);
      ThreadStackSection(out, r, w.holder, cache);
      out->Append("\n");
    }
  }
  LockSection(out, r, cache);
  out->Append("\n");
  if (r.kind == ReportKind::kDeadlock) {
    if (r.predicted_by)
      out->Append("  This deadlock was predicted by report #%u (lock-order-inversion) above.\n\n",
                  r.predicted_by);
    out->Append(
        "  These threads will not make progress: each waits for a lock that another of them holds%s.\n",
        r.waits.size() == 1 ? " (or that an exited thread still holds)" : "");
  }
  const ReportThread* t0 = r.waits.size() ? r.FindThread(r.waits[0].thread) : nullptr;
  const SymStack* s = t0 ? cache->Get(t0->current_stack) : nullptr;
  if (s && s->size) {
    SummaryLine(out, r.kind, s, t0->current_py_stack);
  } else {
    out->Append("SUMMARY: locksan: %s", ReportKindName(r.kind));
    if (r.waits.size()) {
      FrameInfo f;
      SymbolizeCode(r.waits[0].wait_pc, &f);
      if (f.file[0]) out->Append(" %s:%d in %s", f.file, f.line, f.function);
      else out->Append(" %s", f.function[0] ? f.function : "<unknown>");
    }
    out->Append("\n");
  }
}

void CallbackInDriverCallReport(TextBuffer* out, const ReportDesc& r, StackCache* cache, const Colors& c) {
  Headline(out, c, r.kind);
  out->Append("  Thread T%u", r.current_thread);
  if (const ReportThread* t = r.FindThread(r.current_thread)) {
    out->Append(" (tid %d", t->tid);
    if (t->name[0]) out->Append(", \"%s\"", t->name);
    out->Append(")");
  }
  if (r.current_driver_call)
    out->Append(" is inside CUDA driver call %s%s%s and starts to take the GIL to run a Python callback:\n",
                c.bold, r.current_driver_call, c.end);
  else
    out->Append(" holds a lock taken inside libcuda (driver call unknown: CUPTI tracking is off) and starts "
                "to take the GIL to run a Python callback:\n");
  PrintStack(out, cache->Get(r.current_stack));
  PrintPyStack(out, r.current_py_stack);
  PrintPyCallback(out, r.current_py_callback, cache->Get(r.current_stack));
  out->Append("\n");
  if (r.held.size()) {
    out->Append("  Locks this thread holds now (the driver's among them):\n");
    for (const ReportHeld& h : r.held) {
      const ReportLock* l = r.FindLock(h.lock_id);
      char name[32];
      LockName(name, sizeof name, l);
      FrameInfo f;
      SymbolizeCode(h.pc, &f);
      out->Append("    %s %s (0x%llx)%s, acquired at ", l ? LockKindName(l->kind) : "lock", name,
                  static_cast<unsigned long long>(h.lock_addr), h.mode == 1 ? " for reading" : " for writing");
      FrameText(out, f);
      if (l && l->driver_call) out->Append(" inside %s", l->driver_call);
      out->Append("\n");
    }
    out->Append("\n");
  }
  out->Append(
      "  While the callback waits for the GIL, the driver's locks stay held. Any thread that holds the GIL and "
      "calls the driver (a ctypes.PyDLL call, Cython code that keeps the GIL, a synchronising call) then waits "
      "for those locks: a deadlock. Pass a C function (e.g. numba.cfunc) instead of a Python callable, or make "
      "sure no thread calls the driver while holding the GIL.\n");
  SummaryLine(out, r.kind, cache->Get(r.current_stack), r.current_py_stack, r.current_driver_call);
}

}  // namespace

void PrintThreadDump(const ReportDesc& r) {
  StackCache cache;
  Colors c{"", "", ""};
  TextBuffer out;
  for (const ReportThread& t : r.threads) {
    out.Append("  Thread T%u (tid %d%s%s%s):\n", t.number, t.tid, t.name[0] ? ", \"" : "", t.name,
               t.name[0] ? "\"" : "");
    for (const ReportWait& w : r.waits) {
      const ReportLock* l = r.FindLock(w.lock_id);
      char name[32];
      LockName(name, sizeof name, l);
      out.Append("    waits to %s %s %s (0x%llx)", w.mode == 1 ? "read-lock" : "lock", KindWord(l, false), name,
                 static_cast<unsigned long long>(w.lock_addr));
      if (w.holder == ~0u) out.Append(", holder unknown");
      else if (w.holder_exited) out.Append(", held by thread T%u, which exited without releasing it", w.holder);
      else out.Append(", held by thread T%u", w.holder);
      if (w.waited_ms != ~0u) out.Append(", for at least %.1f s", w.waited_ms / 1000.0);
      out.Append("\n");
    }
    HeldSection(&out, r, t.number);
    ThreadStackSection(&out, r, t.number, &cache);
  }
  (void)c;
  OutputWrite(out.data(), out.size());
}

bool PrintReport(const ReportDesc& r, Suppressions* supp) {
  StackCache cache;
  PtrVec<u32> stacks;
  for (const ReportEdge& e : r.edges) {
    stacks.push_back(e.facts.stack_to);
    stacks.push_back(e.facts.stack_from);
  }
  if (r.current_stack) stacks.push_back(r.current_stack);
  if (r.previous_stack) stacks.push_back(r.previous_stack);
  for (const ReportThread& t : r.threads)
    if (t.current_stack) stacks.push_back(t.current_stack);
  if (Suppressed(r, &cache, supp, &stacks)) return false;
  DeliverReport(r, &cache);  // report/line_report.cc: text, JSON and line forms (report_format, log_format)
  return true;
}

void FormatTextReport(const ReportDesc& r, StackCache* cache, bool color, TextBuffer* out) {
  Colors c = color ? Colors{"\033[1m\033[31m", "\033[1m", "\033[0m"} : Colors{"", "", ""};
  switch (r.kind) {
    case ReportKind::kLockOrderInversion:
      InversionReport(out, r, cache, c);
      break;
    case ReportKind::kDoubleLock:
      DoubleLockReport(out, r, cache, c);
      break;
    case ReportKind::kBadUnlock:
      BadUnlockReport(out, r, cache, c);
      break;
    case ReportKind::kPythonCallbackInDriverCall:
      CallbackInDriverCallReport(out, r, cache, c);
      break;
    case ReportKind::kDeadlock:
    case ReportKind::kLongWait:
      DeadlockReport(out, r, cache, c);
      break;
  }
}

void ReportLockName(char* buf, size_t n, const ReportLock* l) { LockName(buf, n, l); }
void ReportLockLocation(TextBuffer* out, const ReportDesc& r, const ReportLock& l) {
  DescribeLockLocation(out, r, l);
}

void PrintSuppressionSummary(const Suppressions* supp, bool enabled) {
  if (!enabled || !supp) return;
  if (g_cpython_internal_hits)
    OutputPrintf("==%d==locksan: %llu cycle(s) inside CPython's threading.py not reported "
                 "(suppress_cpython_internals=0 shows them)\n",
                 getpid(), static_cast<unsigned long long>(g_cpython_internal_hits));
  bool any = false;
  for (int i = 0; i < supp->size(); i++) any |= supp->rule(i).hits > 0;
  if (!any) return;
  TextBuffer out;
  out.Append("==%d==locksan: suppressions used:\n  count  kind:pattern\n", getpid());
  for (int i = 0; i < supp->size(); i++) {
    const Suppression& s = supp->rule(i);
    if (s.hits)
      out.Append("  %5llu  %s:%s\n", static_cast<unsigned long long>(s.hits), s.kind, s.pattern);
  }
  OutputWrite(out.data(), out.size());
}

}  // namespace locksan
