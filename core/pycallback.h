// core/pycallback.h — the Python function of a ctypes/cffi callback whose thread starts to take the
// GIL (docs/python.md, "Callbacks from C").
//
// When C code that holds a lock (or runs inside a CUDA driver call) calls a Python callback, the edge
// "lock -> GIL" (or the python-callback-in-driver-call report) is made when the callback's thread
// starts to take the GIL: before the Python function runs, and in a real hang it never does. What is
// known then: the callback's C frames (ctypes' closure_fcn/_CallPythonObject, cffi's invoke_callback,
// libffi's closure trampoline) hold the closure's user data — ctypes' CThunkObject or cffi's info
// tuple — whose callable is the Python function. CapturePyCallback unwinds the calling thread with
// its callee-saved registers (core/stack.h CaptureFrameRegs) and, only when the frames right outside
// the interpreter's GIL-taking frames belong to _ctypes or _cffi_backend, hands those frames'
// registers and stack slots to python::DescribeCallback (core/python/callback.h), which reads them
// through checked reads only. For the slow path (a new edge into the GIL, a driver-call report).
#pragma once
#include "core/common.h"

namespace locksan {

// CapturePyCallback — the callback's Python function as a one-frame Python stack (core/gil.h depot:
// function = qualname, file:line = its code's file and first line), or 0 when the calling thread is
// not entering a ctypes/cffi callback (or it cannot be told: no GIL located, not x86-64, ...).
// `pcs` is the calling thread's user stack just captured (CaptureUserStack: innermost first, frame 0
// the interpreter's GIL-taking code); it decides, with a few module look-ups, whether the thread
// enters a callback at all: only then is the thread unwound again, with its registers.
u32 CapturePyCallback(const uptr* pcs, int npcs);

// ModuleRange — [lo, hi) of the loaded object that contains `addr` (glibc >= 2.35's lock-free
// _dl_find_object); false if it is not known (older glibc, no such object).
bool ModuleRange(uptr addr, uptr* lo, uptr* hi);

}  // namespace locksan
