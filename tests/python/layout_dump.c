/* tests/python/layout_dump.c — prints the CPython struct offsets that core/python/layout.cc hard-codes,
 * computed by the compiler from one interpreter's own (internal) headers.
 *
 * Built by run_gil_tests.sh once per interpreter whose headers are installed:
 *   cc -DPy_BUILD_CORE -I$INC -I$INC/internal layout_dump.c -o layout_dump
 * Its output ("name value" lines, named after the PyLayout fields of core/python/layout.h) is compared
 * with lsb_layout_dump() (probe_bridge.cc): the layout that LocateGil() published in a running
 * interpreter, i.e. the table after 3.13's _Py_DebugOffsets corrections.
 * Test-only: the runtime never includes Python headers. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#if PY_VERSION_HEX >= 0x030B0000
#include "internal/pycore_frame.h"
#else
#include <frameobject.h>
#endif
#if PY_VERSION_HEX >= 0x03090000
#include "internal/pycore_runtime.h"
#elif PY_VERSION_HEX >= 0x03080000
#include "internal/pycore_pystate.h"
#else
#include "internal/pystate.h"
#endif
#if PY_VERSION_HEX >= 0x030C0000
#include "internal/pycore_interp.h"
#endif

#define P(name, value) printf("%s %ld\n", name, (long)(value))

/* Position of the lowest bit of a bit field inside the 4-byte `state` word of PyASCIIObject. */
#define BITPOS(field)                                        \
  do {                                                       \
    PyASCIIObject o;                                         \
    memset(&o, 0, sizeof o);                                 \
    o.state.field = 1;                                       \
    unsigned int w;                                          \
    memcpy(&w, &o.state, sizeof w);                          \
    int pos = 0;                                             \
    while (pos < 32 && !(w & (1u << pos))) pos++;            \
    P("uni_bit_" #field, pos);                           \
  } while (0)

int main(void) {
  P("minor", PY_MINOR_VERSION);
  /* The GIL struct. */
  P("gil_size", sizeof(struct _gil_runtime_state));
  P("gil_last_holder", offsetof(struct _gil_runtime_state, last_holder));
  P("gil_locked", offsetof(struct _gil_runtime_state, locked));
  P("gil_cond", offsetof(struct _gil_runtime_state, cond));
  P("gil_mutex", offsetof(struct _gil_runtime_state, mutex));
  P("gil_switch_cond", offsetof(struct _gil_runtime_state, switch_cond));
  P("gil_switch_mutex", offsetof(struct _gil_runtime_state, switch_mutex));
  /* Where it is. */
  P("rt_interpreters_main", offsetof(_PyRuntimeState, interpreters.main));
#if PY_VERSION_HEX < 0x030C0000
  P("rt_ceval_gil", offsetof(_PyRuntimeState, ceval.gil));
  P("rt_autotsskey", offsetof(_PyRuntimeState, gilstate.autoTSSkey));
#else
  P("rt_main_interpreter", offsetof(_PyRuntimeState, _main_interpreter));
  P("rt_autotsskey", offsetof(_PyRuntimeState, autoTSSkey));
  P("interp_ceval_gil", offsetof(PyInterpreterState, ceval.gil));
  P("interp_own_gil", offsetof(PyInterpreterState, _gil));
#endif
  P("tss_key", offsetof(Py_tss_t, _key));
  /* Thread state. */
  P("ts_interp", offsetof(PyThreadState, interp));
  P("ts_thread_id", offsetof(PyThreadState, thread_id));
#if PY_VERSION_HEX < 0x030B0000
  P("ts_frame", offsetof(PyThreadState, frame));
#elif PY_VERSION_HEX < 0x030D0000
  P("ts_cframe", offsetof(PyThreadState, cframe));
  P("cframe_current_frame", offsetof(_PyCFrame, current_frame));
#else
  P("ts_current_frame", offsetof(PyThreadState, current_frame));
#endif
  /* Frames. */
#if PY_VERSION_HEX < 0x030B0000
  P("fo_back", offsetof(PyFrameObject, f_back));
  P("fo_code", offsetof(PyFrameObject, f_code));
  P("fo_lasti", offsetof(PyFrameObject, f_lasti));
#else
#if PY_VERSION_HEX < 0x030D0000
  P("if_code", offsetof(_PyInterpreterFrame, f_code));
  P("if_instr", offsetof(_PyInterpreterFrame, prev_instr));
#else
  P("if_code", offsetof(_PyInterpreterFrame, f_executable));
  P("if_instr", offsetof(_PyInterpreterFrame, instr_ptr));
#endif
  P("if_previous", offsetof(_PyInterpreterFrame, previous));
  P("if_owner", offsetof(_PyInterpreterFrame, owner));
#endif
  /* Code objects. */
  P("co_filename", offsetof(PyCodeObject, co_filename));
  P("co_name", offsetof(PyCodeObject, co_name));
  P("co_firstlineno", offsetof(PyCodeObject, co_firstlineno));
#if PY_VERSION_HEX < 0x030A0000
  P("co_linetable", offsetof(PyCodeObject, co_lnotab));
#else
  P("co_linetable", offsetof(PyCodeObject, co_linetable));
#endif
#if PY_VERSION_HEX >= 0x030B0000
  P("co_qualname", offsetof(PyCodeObject, co_qualname));
  P("co_code_adaptive", offsetof(PyCodeObject, co_code_adaptive));
  P("co_firsttraceable", offsetof(PyCodeObject, _co_firsttraceable));
#endif
  /* str and bytes. */
  P("uni_length", offsetof(PyASCIIObject, length));
  P("uni_state", offsetof(PyASCIIObject, state));
  P("uni_ascii_size", sizeof(PyASCIIObject));
  P("uni_compact_size", sizeof(PyCompactUnicodeObject));
  BITPOS(kind);
  BITPOS(compact);
  BITPOS(ascii);
  P("bytes_ob_size", offsetof(PyVarObject, ob_size));
  P("bytes_ob_sval", offsetof(PyBytesObject, ob_sval));
  P("ob_type", offsetof(PyObject, ob_type));
  return 0;
}
