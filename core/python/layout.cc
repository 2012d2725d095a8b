// core/python/layout.cc — the per-version offset tables (see layout.h) and the published record.
//
// Every number below was computed by the compiler from the interpreter's own headers
// (tests/python/layout_dump.c) for 3.7.16, 3.8.18, 3.9.18, 3.10.13, 3.11.7 (and Debian's 3.11.2),
// 3.12.1 and 3.13.0, and is re-checked by tests/python/run_gil_tests.sh. The tables are constant
// initialised (constexpr): usable from interceptors that run before any constructor.
#include "core/python/layout.h"

#include <atomic>

namespace locksan {
namespace python {
namespace internal {
namespace {

// Fields whose offsets are the same in every supported version, everything else absent (-1).
constexpr PyLayout Common() {
  PyLayout l{};
  l.minor = 0;
  l.frame_model = FrameModel::kFrameObject;
  l.line_table = LineTable::kLnotab;
  // struct _gil_runtime_state: interval, last_holder, locked, switch_number, cond, mutex,
  // switch_cond, switch_mutex (FORCE_SWITCHING is always defined on Linux).
  l.gil_last_holder = 8;
  l.gil_locked = 16;
  l.gil_cond = 32;
  l.gil_mutex = 80;
  l.gil_switch_cond = 120;
  l.gil_switch_mutex = 168;
  l.rt_interpreters_main = -1;
  l.rt_ceval_gil = -1;
  l.rt_main_interpreter = -1;
  l.rt_autotsskey = -1;
  l.tss_key = 4;
  l.interp_ceval_gil = -1;
  l.interp_own_gil = -1;
  l.ts_interp = 16;
  l.ts_thread_id = -1;
  l.ts_frame = -1;
  l.ts_cframe = -1;
  l.cframe_current_frame = -1;
  l.ts_current_frame = -1;
  l.fo_back = -1;
  l.fo_code = -1;
  l.fo_lasti = -1;
  l.if_code = -1;
  l.if_previous = -1;
  l.if_instr = -1;
  l.if_owner = -1;
  l.instr_is_prev = false;
  l.co_filename = -1;
  l.co_name = -1;
  l.co_qualname = -1;
  l.co_firstlineno = -1;
  l.co_linetable = -1;
  l.co_code_adaptive = -1;
  l.co_firsttraceable = -1;
  l.uni_length = 16;
  l.uni_state = 32;
  l.uni_ascii_size = 48;    // 3.7–3.11 (with wstr); 40 from 3.12
  l.uni_compact_size = 72;  // 3.7–3.11; 56 from 3.12
  l.bytes_ob_size = 16;
  l.bytes_ob_sval = 32;
  l.ob_type = 8;
  return l;
}

// 3.7–3.10: the GIL is embedded in _PyRuntime.ceval; frames are PyFrameObjects.
constexpr PyLayout FrameObjectEra(int minor, int interpreters_main, int ceval_gil, int autotsskey,
                                  int lasti) {
  PyLayout l = Common();
  l.minor = minor;
  l.frame_model = FrameModel::kFrameObject;
  l.line_table = minor >= 10 ? LineTable::kLinetable310 : LineTable::kLnotab;
  l.rt_interpreters_main = interpreters_main;
  l.rt_ceval_gil = ceval_gil;
  l.rt_autotsskey = autotsskey;
  l.ts_thread_id = 176;
  l.ts_frame = 24;
  l.fo_back = 24;
  l.fo_code = 32;
  l.fo_lasti = lasti;
  // PyCodeObject
  l.co_filename = minor == 7 ? 96 : 104;
  l.co_name = minor == 7 ? 104 : 112;
  l.co_firstlineno = minor == 7 ? 36 : 40;
  l.co_linetable = minor == 7 ? 112 : 120;  // co_lnotab (3.7–3.9) / co_linetable (3.10)
  return l;
}

constexpr PyLayout L311() {
  PyLayout l = Common();
  l.minor = 11;
  l.frame_model = FrameModel::kInterpreterFrame;
  l.line_table = LineTable::kLocations311;
  l.rt_interpreters_main = 48;
  l.rt_ceval_gil = 360;
  l.rt_autotsskey = 592;
  l.ts_thread_id = 152;
  l.ts_cframe = 56;
  l.cframe_current_frame = 8;
  l.if_code = 32;
  l.if_previous = 48;
  l.if_instr = 56;
  l.if_owner = 69;
  l.instr_is_prev = true;
  l.co_filename = 112;
  l.co_name = 120;
  l.co_qualname = 128;
  l.co_firstlineno = 72;
  l.co_linetable = 136;
  l.co_code_adaptive = 184;
  l.co_firsttraceable = 168;
  return l;
}

constexpr PyLayout L312() {
  PyLayout l = Common();
  l.minor = 12;
  l.frame_model = FrameModel::kInterpreterFrame;
  l.line_table = LineTable::kLocations311;
  l.rt_interpreters_main = 48;
  l.rt_main_interpreter = 76392;
  l.rt_autotsskey = 1544;
  l.interp_ceval_gil = 384;
  l.interp_own_gil = 1040;
  l.ts_thread_id = 136;
  l.ts_cframe = 56;
  l.cframe_current_frame = 0;
  l.if_code = 0;
  l.if_previous = 8;
  l.if_instr = 56;
  l.if_owner = 70;
  l.instr_is_prev = true;
  l.co_filename = 112;
  l.co_name = 120;
  l.co_qualname = 128;
  l.co_firstlineno = 68;
  l.co_linetable = 136;
  l.co_code_adaptive = 192;
  l.co_firsttraceable = 176;
  l.uni_ascii_size = 40;
  l.uni_compact_size = 56;
  return l;
}

constexpr PyLayout L313() {
  PyLayout l = Common();
  l.minor = 13;
  l.frame_model = FrameModel::kInterpreterFrame;
  l.line_table = LineTable::kLocations311;
  l.rt_interpreters_main = 640;
  l.rt_main_interpreter = 88352;
  l.rt_autotsskey = 2160;
  l.interp_ceval_gil = 16;
  l.interp_own_gil = 7752;
  l.ts_thread_id = 152;
  l.ts_current_frame = 72;
  l.if_code = 0;
  l.if_previous = 8;
  l.if_instr = 56;
  l.if_owner = 70;
  l.instr_is_prev = false;
  l.co_filename = 112;
  l.co_name = 120;
  l.co_qualname = 128;
  l.co_firstlineno = 68;
  l.co_linetable = 136;
  l.co_code_adaptive = 200;
  l.co_firsttraceable = 184;
  l.uni_ascii_size = 40;
  l.uni_compact_size = 56;
  return l;
}

constexpr PyLayout kLayouts[] = {
    FrameObjectEra(7, /*interpreters_main=*/32, /*ceval_gil=*/1264, /*autotsskey=*/1504, /*lasti=*/104),
    FrameObjectEra(8, 40, 1152, 1392, 104),
    FrameObjectEra(9, 40, 352, 584, 104),
    FrameObjectEra(10, 40, 352, 584, 96),
    L311(),
    L312(),
    L313(),
};

ProcessPython g_published;          // written once, before g_state becomes kReady
std::atomic<int> g_state{0};        // 0 empty, 1 being written, 2 ready
constexpr int kWriting = 1;
constexpr int kReady = 2;

}  // namespace

const PyLayout* LayoutForMinor(int minor) {
  for (const PyLayout& l : kLayouts) {
    if (l.minor == minor) return &l;
  }
  return nullptr;
}

void Publish(const ProcessPython& pp) {
  int expected = 0;
  if (!g_state.compare_exchange_strong(expected, kWriting, std::memory_order_acq_rel)) return;
  g_published = pp;
  g_state.store(kReady, std::memory_order_release);
}

const ProcessPython* Published() {
  return g_state.load(std::memory_order_acquire) == kReady ? &g_published : nullptr;
}

}  // namespace internal
}  // namespace python
}  // namespace locksan
