// core/gil.h — the CPython GIL as a lock of the lock-order graph.
//
// core/python locates the GIL (its mutex M, condition C, switch mutex SM and `locked` word). The
// interceptors then drive this state machine (checked on CPython 3.7–3.13, static and shared):
//   lock(M) by a thread that does not hold the GIL   -> take_gil starts: order check "held -> GIL"
//   timedwait(C, M)                                  -> waiting for the GIL (the watchdog sees it)
//   unlock(M) with locked == 1, this thread holder   -> GIL acquired
//   unlock(M) with locked == 0 by the holder         -> GIL released
// M, C, SM and the switch condition are never locks of the graph themselves.
// Python stacks (file, line, function) are stored in their own depot, by id, like native stacks.
#pragma once
#include "core/detector.h"
#include "core/python/pystack.h"

namespace locksan {

// Addresses of the located GIL's mutex and condition; 0 until located.
// Hidden: compared on every mutex lock/unlock, PC-relative (no GOT load).
extern uptr g_gil_mutex __attribute__((visibility("hidden")));
extern uptr g_gil_cond __attribute__((visibility("hidden")));
// The GIL's switch mutex and condition (FORCE_SWITCHING: take_gil locks the mutex and signals the
// condition on every take; drop_gil waits on them for a forced switch). Neither is a lock of the
// graph: the interceptors call the real functions at once (compared only off the fast paths).
extern uptr g_gil_switch_mutex __attribute__((visibility("hidden")));
extern uptr g_gil_switch_cond __attribute__((visibility("hidden")));

// GilInit — at start-up: is there a CPython in the process at all?
void GilInit();
// GilIsInternal — the address is one of the GIL's own pthread objects (never a graph lock). Also
// locates the GIL the first time it is asked after CPython created it.
bool GilIsInternal(uptr addr);
bool GilLocated();
// InInterpreterCode — `pc` is in the CPython interpreter's own code (libpython, or a statically
// linked interpreter's executable); known once the GIL is located, false before and without Python.
bool InInterpreterCode(uptr pc);
const char* GilStatus();

// OnGilMutexLock — take_gil starts: lock(gil->mutex) by a thread that neither holds the GIL nor is
// already taking it (the interceptor returns before the call for drop_gil and nested locks).
void OnGilMutexLock(ThreadState* ts, uptr pc, uptr sp);
// GilLockedWord — the GIL's `locked` word, read just before unlock(gil->mutex); OnGilMutexUnlock is
// called with it just after the unlock. The bookkeeping of a take (the order check's end, the held
// entry) or of a drop (the entry popped) runs outside the GIL mutex's critical section: every thread
// that takes or drops the GIL, or asks for it, waits on that mutex. The thread's state is consistent
// by then: a take is judged after the unlock by the GIL's holder (this thread still holds the GIL, or
// never got it), a drop by the word read under the mutex.
int GilLockedWord();
void OnGilMutexUnlock(ThreadState* ts, int locked_before_unlock);

// The calling thread's Python stack, stored; 0 if it has none (or no CPython).
u32 CapturePyStack();
// PyStackKey — a hash of the 8 innermost frames of the calling thread's Python stack, read as keys
// (code object, instruction offset, a digest of the code object's names: nothing decoded or stored);
// 0 if it has none (or no CPython, or an interpreter whose frames locksan does not read).
u64 PyStackKey();
struct PyStack {
  u32 size;
  const python::PyFrameRec* frames;
};
PyStack PyStackDepotGet(u32 id);
// Fork support: the Python-stack depot's and the GIL locator's locks (leaf locks).
void GilForkLock();
void GilForkUnlock(bool child);
// PyStackFromFrames — stores frames captured elsewhere (a signal handler).
u32 PyStackDepotPut(const python::PyFrameRec* frames, int n);

}  // namespace locksan
