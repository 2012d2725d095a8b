// tests/gpu/smoke_preload.cc — a tiny stand-in for the locksan preload, for the GPU smoke tests:
// libsmoke_preload.so = cupti/cupti_tracker.cc + tests/gpu/hooks_stub.cc + this file.
//
// Like the real preload it calls locksan::cupti::MaybeStart from its constructor and after every
// successful dlopen. LOCKSAN_CUPTI=0|1|auto picks the mode (default auto). At exit it prints the stub's
// counters and the tracker's status line to stderr (lines starting "locksan-stub").
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cupti/cupti_tracker.h"

extern "C" void locksan_stub_summary(const char* tag);

namespace {
locksan::cupti::Mode ModeFromEnv() {
  const char* e = getenv("LOCKSAN_CUPTI");
  if (e && strcmp(e, "0") == 0) return locksan::cupti::Mode::kOff;
  if (e && strcmp(e, "1") == 0) return locksan::cupti::Mode::kOn;
  return locksan::cupti::Mode::kAuto;
}
using DlopenFn = void* (*)(const char*, int);
DlopenFn g_real_dlopen = nullptr;
}  // namespace

extern "C" __attribute__((visibility("default"))) void* dlopen(const char* file, int mode) {
  if (!g_real_dlopen) g_real_dlopen = reinterpret_cast<DlopenFn>(dlsym(RTLD_NEXT, "dlopen"));
  void* h = g_real_dlopen(file, mode);
  if (h) locksan::cupti::MaybeStart(ModeFromEnv());
  return h;
}

extern "C" __attribute__((visibility("default"))) const char* locksan_stub_tracker_status() {
  return locksan::cupti::StatusLine();
}
extern "C" __attribute__((visibility("default"))) int locksan_stub_tracker_active() {
  return locksan::cupti::Active() ? 1 : 0;
}
extern "C" __attribute__((visibility("default"))) void locksan_stub_maybe_start() {
  locksan::cupti::MaybeStart(ModeFromEnv());
}
extern "C" __attribute__((visibility("default"))) void locksan_stub_shutdown(int unsubscribe) {
  locksan::cupti::Shutdown(unsubscribe != 0);
}

__attribute__((constructor)) static void SmokeInit() {
  locksan::cupti::MaybeStart(ModeFromEnv());
}

__attribute__((destructor)) static void SmokeFini() {
  locksan_stub_summary("exit");
  fprintf(stderr, "locksan-stub[exit]: status: %s\n", locksan::cupti::StatusLine());
}
