// core/python/pystack.h — read-only capture of the calling thread's Python stack, by struct offsets
// (like py-spy and austin, but in-process and for the current thread only).
//
// Contract:
// - Valid only while the calling thread holds its interpreter's GIL; it checks this itself
//   (gil->locked == 1 and gil->last_holder == this thread's PyThreadState) and returns 0 otherwise.
// - Needs a prior successful LocateGil() (gil.h), which publishes the layout; returns 0 before.
// - No malloc, no locks, no Python C-API call, no system call: it reads memory and calls
//   pthread_getspecific()/pthread_self(). Async-signal-safe in practice, but meant for the lock path.
// - A wrong layout yields fewer or no frames, never a crash: every pointer is checked for being
//   plausible and every object for its exact type (&PyCode_Type, &PyUnicode_Type, &PyBytes_Type) before
//   it is followed.
#pragma once

namespace locksan {
namespace python {

struct PyFrameRec {
  char file[256];     // co_filename, UTF-8; when longer, "..." + its tail
  char function[128]; // co_qualname (3.11+) or co_name (3.7–3.10), UTF-8, truncated at a character
  int line;           // line being executed; co_firstlineno before the first instruction; -1 unknown
};

// CaptureCurrentThreadStack — walks the calling thread's Python frames (innermost first) into `out`
// (at most `max`), returns the count; 0 when the thread has no Python frames, holds no GIL, or the
// version is unsupported. Skips frames that are not user code (3.12+ C-stack shim frames, frames that
// have not started yet).
//
//   locksan::python::PyFrameRec frames[8];
//   int n = locksan::python::CaptureCurrentThreadStack(frames, 8);
//   for (int i = 0; i < n; ++i) printf("  File \"%s\", line %d, in %s\n", frames[i].file,
//                                      frames[i].line, frames[i].function);
int CaptureCurrentThreadStack(PyFrameRec* out, int max);

// CaptureOwnStack — like CaptureCurrentThreadStack, but also when the calling thread does not hold
// the GIL: a thread's own frames do not change while it runs C code (e.g. inside take_gil, or blocked
// in a lock call after releasing the GIL), and no other thread writes them. Also usable from a signal
// handler that interrupted the thread (read-only; pthread_getspecific/pthread_self only).
int CaptureOwnStack(PyFrameRec* out, int max);

// PyFrameKey — what a frame's record is decoded from: its code object, the instruction's byte offset,
// and a digest of the code object's file name, name and line-table objects and first line (so that
// a code object freed and another one allocated at its address, with other names, is told apart).
// Equal keys decode to equal records.
struct PyFrameKey {
  const void* code;
  unsigned long long check;
  int addr;
};

// CaptureOwnStackKeys — the frames CaptureOwnStack would return, as keys, without decoding any
// string or line table (a few loads per frame). Same conditions as CaptureOwnStack.
int CaptureOwnStackKeys(PyFrameKey* out, int max);

// DecodeFrameKeys — the records of keys just captured by this thread (CaptureOwnStackKeys), while
// their frames are still running (the code objects are alive): out[i] is what CaptureOwnStack
// would have filled.
void DecodeFrameKeys(const PyFrameKey* keys, int n, PyFrameRec* out);

// CurrentThreadHoldsGil — the same check as CaptureCurrentThreadStack makes (0/1), for callers that
// want it alone. Same contract.
bool CurrentThreadHoldsGil();
// ThisThreadTookMainGil — the main interpreter's GIL is locked and this thread took it last: what
// take_gil's unlock of the GIL mutex tells apart, a take from a thread that gave up (one that must
// exit). The full check, which reads only this thread's own state, and records it in t_own_tstate.
// Its common case — the GIL's last holder equals this thread's state as that check last found it,
// and still carries this thread's id — is inline in core/gil.h (TookGil), which calls this when the
// common case fails. False without a located CPython.
bool ThisThreadTookMainGil();
// This thread's PyThreadState as the last full check found it (nullptr before): TookGil
// (core/gil.h) compares the GIL's last holder with it before it reads anything through the holder,
// so that a thread that gave up the GIL never reads another thread's state.
extern __thread const char* t_own_tstate __attribute__((tls_model("initial-exec"), visibility("hidden")));

}  // namespace python
}  // namespace locksan
