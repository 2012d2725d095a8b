// tests/python/probe_bridge.cc — C entry points onto core/python for the C test programs
// (gil_probe.c is C so that its interceptors can match glibc's declarations exactly).
#include <pthread.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/python/gil.h"
#include "core/python/layout.h"
#include "core/python/pystack.h"

#define EXPORT extern "C" __attribute__((visibility("default")))

// lsb_locate — LocateGil() flattened: addresses into out[0..4] (mutex, cond, switch_cond,
// switch_mutex, locked), version in *version; returns 1/0 and the reason.
EXPORT int lsb_locate(const void** out, int* version, const char** why) {
  locksan::python::GilInfo info;
  const char* reason = nullptr;
  const bool ok = locksan::python::LocateGil(&info, &reason);
  out[0] = info.mutex;
  out[1] = info.cond;
  out[2] = info.switch_cond;
  out[3] = info.switch_mutex;
  out[4] = const_cast<const int*>(info.locked);
  *version = info.version_hex;
  *why = reason;
  return ok ? 1 : 0;
}

EXPORT int lsb_holds(void) { return locksan::python::CurrentThreadHoldsGil() ? 1 : 0; }

// lsb_capture — the calling thread's Python stack as text: one frame per line,
// "file\x1ffunction\x1fline\n"; returns the number of frames (-1 when `buf` is too small).
EXPORT int lsb_capture(char* buf, int size, int max) {
  if (max > 1024) max = 1024;
  auto* frames = static_cast<locksan::python::PyFrameRec*>(
      std::malloc(sizeof(locksan::python::PyFrameRec) * (max > 0 ? max : 1)));  // test code only
  const int n = locksan::python::CaptureCurrentThreadStack(frames, max);
  int used = 0;
  int result = n;
  // The keys path (CaptureOwnStackKeys + DecodeFrameKeys, behind the runtime's per-thread memo of
  // Python stacks) must decode to exactly the same records: -2 when it does not.
  if (n > 0) {
    auto* keys = static_cast<locksan::python::PyFrameKey*>(std::malloc(sizeof(locksan::python::PyFrameKey) * max));
    auto* decoded = static_cast<locksan::python::PyFrameRec*>(std::malloc(sizeof(locksan::python::PyFrameRec) * max));
    const int k = locksan::python::CaptureOwnStackKeys(keys, max);
    if (k != n) result = -2;
    locksan::python::DecodeFrameKeys(keys, k < n ? k : n, decoded);
    for (int i = 0; i < n && i < k && result == n; ++i)
      if (decoded[i].line != frames[i].line || std::strcmp(decoded[i].file, frames[i].file) != 0 ||
          std::strcmp(decoded[i].function, frames[i].function) != 0)
        result = -2;
    std::free(keys);
    std::free(decoded);
    if (result == -2) return -2;
  }
  buf[0] = '\0';
  for (int i = 0; i < n; ++i) {
    const int w = std::snprintf(buf + used, size - used, "%s\x1f%s\x1f%d\n", frames[i].file,
                                frames[i].function, frames[i].line);
    if (w < 0 || w >= size - used) {
      result = -1;
      break;
    }
    used += w;
  }
  std::free(frames);
  return result;
}

using Callback = void (*)(void);

// lsb_capture_then_call — captures first, then calls `cb` (a ctypes callback) so that Python can
// read sys._getframe(1): the caller's frame, still at the very instruction that was captured.
EXPORT int lsb_capture_then_call(char* buf, int size, int max, Callback cb) {
  const int n = lsb_capture(buf, size, max);
  if (cb != nullptr) cb();
  return n;
}

// lsb_call — calls `cb` in this thread.
EXPORT void lsb_call(Callback cb) { cb(); }

struct ThreadArgs {
  Callback cb;
  int times;
  char* buf;
  int size;
  int result;
};

void* CallbackThread(void* p) {
  auto* a = static_cast<ThreadArgs*>(p);
  for (int i = 0; i < a->times; ++i) a->cb();
  return nullptr;
}

// lsb_call_in_thread — a new native thread (no Python thread state) calls `cb` `times` times.
EXPORT void lsb_call_in_thread(Callback cb, int times) {
  ThreadArgs a{cb, times, nullptr, 0, 0};
  pthread_t t;
  if (pthread_create(&t, nullptr, CallbackThread, &a) == 0) pthread_join(t, nullptr);
}

void* CaptureThread(void* p) {
  auto* a = static_cast<ThreadArgs*>(p);
  a->result = lsb_capture(a->buf, a->size, 64);
  return nullptr;
}

// lsb_capture_in_native_thread — the count a thread without Python gets (expected 0).
EXPORT int lsb_capture_in_native_thread(char* buf, int size) {
  ThreadArgs a{nullptr, 0, buf, size, -7};
  pthread_t t;
  if (pthread_create(&t, nullptr, CaptureThread, &a) == 0) pthread_join(t, nullptr);
  return a.result;
}

// lsb_layout_dump — the layout published by the last successful LocateGil(), as "name value" lines
// named like tests/python/layout_dump.c prints them; fields absent in this version are left out.
// Returns the number of bytes written, 0 when nothing is published.
EXPORT int lsb_layout_dump(char* buf, int size) {
  using locksan::python::internal::PyLayout;
  const auto* pp = locksan::python::internal::Published();
  if (pp == nullptr) return 0;
  const PyLayout& l = pp->layout;
  int used = 0;
  auto put = [&](const char* name, int value) {
    if (value < 0) return;
    const int w = std::snprintf(buf + used, size - used, "%s %d\n", name, value);
    if (w > 0 && w < size - used) used += w;
  };
#define F(field) put(#field, l.field)
  F(minor);
  put("gil_size", l.gil_switch_mutex + 40);  // the code assumes the struct ends after switch_mutex
  F(gil_last_holder); F(gil_locked); F(gil_cond); F(gil_mutex); F(gil_switch_cond); F(gil_switch_mutex);
  F(rt_interpreters_main); F(rt_ceval_gil); F(rt_main_interpreter); F(rt_autotsskey); F(tss_key);
  F(interp_ceval_gil); F(interp_own_gil);
  F(ts_interp); F(ts_thread_id); F(ts_frame); F(ts_cframe); F(cframe_current_frame); F(ts_current_frame);
  F(fo_back); F(fo_code); F(fo_lasti);
  F(if_code); F(if_instr); F(if_previous); F(if_owner);
  F(co_filename); F(co_name); F(co_firstlineno); F(co_linetable); F(co_qualname); F(co_code_adaptive);
  F(co_firsttraceable);
  F(uni_length); F(uni_state); F(uni_ascii_size); F(uni_compact_size);
  put("uni_bit_kind", 2);     // the bit positions pystack.cc decodes
  put("uni_bit_compact", 5);
  put("uni_bit_ascii", 6);
  F(bytes_ob_size); F(bytes_ob_sval); F(ob_type);
#undef F
  return used;
}

// lsb_bench_capture — average nanoseconds of one CaptureCurrentThreadStack(…, max) call from here.
EXPORT double lsb_bench_capture(int iterations, int max) {
  locksan::python::PyFrameRec frames[64];
  if (max > 64) max = 64;
  timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  int sink = 0;
  for (int i = 0; i < iterations; ++i) sink += locksan::python::CaptureCurrentThreadStack(frames, max);
  clock_gettime(CLOCK_MONOTONIC, &b);
  if (sink < 0) return -1;
  return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (iterations > 0 ? iterations : 1);
}
