// core/python/gil.h — finding CPython's GIL (its pthread mutex and condition variables) from a
// preload library, without calling into the interpreter.
//
// How the runtime uses it (see docs/python.md): the GIL is `struct _gil_runtime_state`; take_gil()
// locks `mutex`, waits on `cond` with pthread_cond_timedwait while `locked` is set, sets `locked = 1`
// and unlocks `mutex`; drop_gil() locks `mutex`, sets `locked = 0`, signals `cond`, unlocks `mutex`.
// So at pthread_mutex_unlock(info.mutex) the value of *info.locked (stable: the mutex is held) tells
// "this thread now holds the GIL" (1) or "has released it" (0); entering
// pthread_cond_timedwait(info.cond, info.mutex) means "this thread waits for the GIL".
//
// Supported: CPython 3.7–3.13 release builds with the GIL, statically linked (Debian/Ubuntu
// /usr/bin/python3.x) or with libpython3.x.so. Refused with a reason: 3.6 and older, 3.14 and newer,
// free-threaded builds (3.13t), debug builds, processes without Python, an interpreter that is not
// initialised yet (or already finalised).
//
// Thread safety: LocateGil may be called from any thread, repeatedly. It is NOT for the lock path:
// it calls dlsym/dladdr/dl_iterate_phdr (loader locks; dlsym allocates its error string on a miss)
// and, for 3.7–3.10 only, Py_GetVersion() (returns a static string). Call it outside the runtime's
// own lock and cache the addresses. In every interpreter tested, the GIL already exists at the first
// pthread_mutex_lock/unlock or pthread_cond_timedwait of the process, so "try on mutex calls (every
// Nth) until it succeeds or refuses for good" finds it before its first use that matters; the test
// preload (tests/python/gil_probe.c) does exactly that from its interceptors.
//
// Refusals whose reason starts with "CPython not initialised yet" are transient (try again later);
// "no CPython in this process" lasts until a libpython is dlopen()ed (an embedding program); every
// other refusal is final for this process.
#pragma once

namespace locksan {
namespace python {

struct GilInfo {
  const void* mutex = nullptr;         // the GIL's pthread_mutex_t (gil->mutex)
  const void* cond = nullptr;          // the GIL's pthread_cond_t (gil->cond) — take_gil timedwaits on it
  const void* switch_cond = nullptr;   // FORCE_SWITCHING cond (drop_gil waits on it); never a report source
  const void* switch_mutex = nullptr;  // FORCE_SWITCHING mutex (take_gil and drop_gil lock it inside/after mutex)
  const volatile int* locked = nullptr;  // gil->locked: -1 not created, 0 free, 1 held
  const char* const volatile* last_holder = nullptr;  // &gil->last_holder (a PyThreadState*)
  int ts_thread_id_offset = 0;         // of PyThreadState's thread_id (a pthread_t)
  int version_hex = 0;                 // e.g. 0x030b07f0 (3.7–3.10: level/serial read from the version string)
  bool free_threaded = false;          // true only when refused because the build is free-threaded
};

// LocateGil — finds the main interpreter's GIL if CPython is in the process. Returns false, with a
// one-line static reason in `*why` (when `why` is not null), when there is no Python, the version or
// build is unsupported, or the interpreter is not initialised yet; `*out` is then filled as far as
// known (version_hex, free_threaded). On success it also publishes the layout that
// CaptureCurrentThreadStack() (pystack.h) needs.
//
//   locksan::python::GilInfo gil;
//   const char* why = nullptr;
//   if (locksan::python::LocateGil(&gil, &why)) { remember gil.mutex, gil.cond, gil.locked; }
//   else if (/* verbose */) { print why; }
bool LocateGil(GilInfo* out, const char** why);

}  // namespace python
}  // namespace locksan
