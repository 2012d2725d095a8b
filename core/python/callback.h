// core/python/callback.h — naming the Python callable of a ctypes or cffi callback from the values
// found in the native frames of the callback's entry (see core/pycallback.h for where they come from).
//
// When C code calls a ctypes CFUNCTYPE object (or a cffi ffi.callback), libffi's closure trampoline
// calls ctypes' closure_fcn / cffi's invoke_callback with the closure's user data: ctypes'
// CThunkObject (its `callable` field is the Python callable) or cffi's info tuple (ctype, callable,
// error value, onerror). Both are live in those frames (a register or a stack slot) while the thread
// takes the GIL, before the callable runs. Given such candidate words, this finds the first that is
// one of these two objects — and is the closure being called: the cif that libffi passes along with
// it (&thunk->cif; cffi: the ctype's cif_description) must be among the words too — and describes
// its callable.
//
// Every read of a candidate goes through SafeRead (process_vm_readv on this process: an unmapped
// address fails with EFAULT, never faults). Objects are recognised by their exact types: the
// interpreter's PyTuple_Type / PyFunction_Type / PyMethod_Type / PyCode_Type / PyUnicode_Type, and
// for the two callback objects by their type's tp_name ("_ctypes.CThunkObject", a tuple whose first
// item's type is "_cffi_backend.CType..."). A wrong or stale value gives no name, never a crash.
#pragma once
#include <cstdint>

#include "core/python/pystack.h"

namespace locksan {
namespace python {

// The interpreter's type objects, resolved by the caller (dlsym).
struct CallbackTypes {
  const void* function_type = nullptr;  // &PyFunction_Type
  const void* method_type = nullptr;    // &PyMethod_Type
  const void* tuple_type = nullptr;     // &PyTuple_Type
  const void* type_type = nullptr;      // &PyType_Type
};

enum class CallbackVia : uint8_t { kNone, kCtypes, kCffi };

// DescribeCallback — the first of `words` (in order) that is a ctypes CThunkObject or a cffi callback
// info tuple; its callable described in `out`: function = the callable's __qualname__ (a bound
// method's function's; "<T object>" for other callables), file and line = its code's co_filename and
// co_firstlineno (line -1 and file "" when it has no code). Returns kNone when none is found or
// before LocateGil() succeeded.
CallbackVia DescribeCallback(const uintptr_t* words, int n, const CallbackTypes& types, PyFrameRec* out);

// SafeRead — copies `len` bytes at `addr` of this process into `buf`; false if any of it is not
// readable (or process_vm_readv is not allowed here: then always false).
bool SafeRead(uintptr_t addr, void* buf, unsigned long len);

}  // namespace python
}  // namespace locksan
