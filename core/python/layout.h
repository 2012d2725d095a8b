// core/python/layout.h — CPython struct offsets (per minor version) and the process-wide record that
// LocateGil() publishes for the stack walker. Internal to core/python/.
//
// The offsets are facts about CPython's (internal) structs on x86-64/aarch64 LP64 Linux, release
// (non-debug) builds with the GIL. tests/python/layout_dump.c recomputes every one of them from each
// interpreter's own headers and run_gil_tests.sh compares the two (`layout_selftest --dump 3.X`).
//
// Thread safety: LayoutForMinor() returns immutable static data. Published() may be called from any
// thread at any time (an acquire load); the record it returns never changes once published.
#pragma once
#include <cstdint>

namespace locksan {
namespace python {
namespace internal {

enum class FrameModel : uint8_t {
  kFrameObject,       // 3.7–3.10: tstate->frame, a PyFrameObject chain through f_back
  kInterpreterFrame,  // 3.11+: _PyInterpreterFrame chain through `previous`
};

enum class LineTable : uint8_t {
  kLnotab,      // 3.7–3.9: co_lnotab, (byte offset delta, signed line delta) pairs; f_lasti in bytes
  kLinetable310,  // 3.10: co_linetable, (byte offset delta, signed line delta / -128) pairs; f_lasti in code units
  kLocations311,  // 3.11+: co_linetable "location table" (varint entries); instruction pointer in code units
};

// PyLayout — every offset the runtime reads, in bytes. -1: the field does not exist in this version.
struct PyLayout {
  int minor;  // 3.<minor>
  FrameModel frame_model;
  LineTable line_table;

  // struct _gil_runtime_state
  int gil_last_holder, gil_locked, gil_cond, gil_mutex, gil_switch_cond, gil_switch_mutex;

  // _PyRuntimeState
  int rt_interpreters_main;  // PyInterpreterState* interpreters.main
  int rt_ceval_gil;          // 3.7–3.11: the embedded struct _gil_runtime_state ceval.gil
  int rt_main_interpreter;   // 3.12+: the embedded PyInterpreterState _main_interpreter
  int rt_autotsskey;         // Py_tss_t of the PyGILState API (gilstate.autoTSSkey / autoTSSkey)
  int tss_key;               // pthread_key_t _key inside Py_tss_t (after int _is_initialized)

  // PyInterpreterState (3.12+)
  int interp_ceval_gil;  // struct _gil_runtime_state* ceval.gil
  int interp_own_gil;    // struct _gil_runtime_state _gil (what ceval.gil points to when own_gil)

  // PyThreadState
  int ts_interp, ts_thread_id;
  int ts_frame;              // 3.7–3.10: PyFrameObject* frame
  int ts_cframe;             // 3.11–3.12: _PyCFrame* cframe
  int cframe_current_frame;  // 3.11–3.12: _PyInterpreterFrame* current_frame inside _PyCFrame
  int ts_current_frame;      // 3.13: _PyInterpreterFrame* current_frame

  // PyFrameObject (3.7–3.10)
  int fo_back, fo_code, fo_lasti;

  // _PyInterpreterFrame (3.11+)
  int if_code;      // f_code (3.11–3.12) / f_executable (3.13)
  int if_previous;
  int if_instr;     // prev_instr (3.11–3.12) / instr_ptr (3.13)
  int if_owner;     // char owner
  bool instr_is_prev;  // 3.11–3.12: prev_instr (points at the instruction being executed or its last cache)

  // PyCodeObject
  int co_filename, co_name, co_qualname, co_firstlineno, co_linetable, co_code_adaptive,
      co_firsttraceable;

  // str / bytes / object header
  int uni_length, uni_state, uni_ascii_size, uni_compact_size;
  int bytes_ob_size, bytes_ob_sval;
  int ob_type;
};

// Frame owners (enum _frameowner, 3.11+).
constexpr int kFrameOwnedByThread = 0;
constexpr int kFrameOwnedByGenerator = 1;
constexpr int kFrameOwnedByFrameObject = 2;
constexpr int kFrameOwnedByCStack = 3;  // 3.12+: shim/entry frames, never user code

// LayoutForMinor — the built-in table for CPython 3.<minor>, or nullptr when unsupported.
//   const PyLayout* l = LayoutForMinor(12);
const PyLayout* LayoutForMinor(int minor);

// ProcessPython — what LocateGil() found, published once for the stack walker.
struct ProcessPython {
  PyLayout layout;  // the table, possibly corrected by 3.13's _Py_DebugOffsets
  int version_hex;
  const char* runtime;      // &_PyRuntime
  const char* main_gil;     // the main interpreter's struct _gil_runtime_state
  const void* code_type;    // &PyCode_Type
  const void* unicode_type; // &PyUnicode_Type
  const void* bytes_type;   // &PyBytes_Type
  const void* frame_type;   // &PyFrame_Type (3.7–3.10 frame chain check)
  // For naming ctypes/cffi callbacks (callback.h); nullptr when not found (no names then).
  const void* function_type;  // &PyFunction_Type
  const void* method_type;    // &PyMethod_Type
  const void* tuple_type;     // &PyTuple_Type
  const void* type_type;      // &PyType_Type
};

// Publish — records `pp` if nothing is published yet (the first successful LocateGil wins; later
// calls compare and ignore). Lock-free; no allocation.
void Publish(const ProcessPython& pp);

// Published — the published record, or nullptr before the first successful LocateGil().
const ProcessPython* Published();

}  // namespace internal
}  // namespace python
}  // namespace locksan
