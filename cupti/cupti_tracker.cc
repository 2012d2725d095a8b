// cupti/cupti_tracker.cc — see cupti_tracker.h and docs/gpu.md.
//
// Rules followed here:
// - No link dependency on libcupti or libcuda: dlopen/dlsym only. CUPTI types come from the headers.
// - The CUPTI callback forwards to core/hooks.h and does nothing else: no allocation, no lock.
// - Start-up work (search, dlopen, subscribe) runs once, in the thread that wins a CAS on g_state;
//   other threads never wait for it.
// - Never take CUPTI from another tool: CUDA_INJECTION64_PATH of another tool, an earlier subscriber
//   (error 39) or a later one (the cuptiSubscribe interposer below) all mean "step aside".
#include "cupti/cupti_tracker.h"

#if defined(__GNUC__) && !defined(__clang__)  // clang has no -Wformat-truncation
#pragma GCC diagnostic ignored "-Wformat-truncation"  // status lines are cut on purpose
#endif

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/hooks.h"

#if defined(__has_include) && !defined(LOCKSAN_NO_CUPTI_HEADERS)  // (defined: the stub, for its test)
#if __has_include(<cupti_callbacks.h>) && __has_include(<cuda.h>) && __has_include(<builtin_types.h>)
#define LOCKSAN_HAVE_CUPTI 1
#endif
#endif
#ifndef LOCKSAN_HAVE_CUPTI
#define LOCKSAN_HAVE_CUPTI 0
#endif

#if LOCKSAN_HAVE_CUPTI
#include <cupti_callbacks.h>
#include <cupti_driver_cbid.h>
#include <cupti_result.h>
#endif

#define LOCKSAN_CUPTI_EXPORT extern "C" __attribute__((visibility("default")))

namespace locksan::cupti {
namespace {

enum State : int {
  kIdle = 0,      // undecided: libcuda not seen yet
  kStarting = 1,  // one thread is starting (or stopping); everyone else returns
  kActive = 2,    // subscribed, forwarding
  kOff = 3,       // final: disabled, failed or someone else owns CUPTI
  kStopped = 4,   // final: was active, gave CUPTI up (another subscriber) or Shutdown
};

std::atomic<int> g_state{kIdle};
std::atomic<int> g_mode{static_cast<int>(Mode::kAuto)};
std::atomic<int> g_calls{static_cast<int>(Calls::kAll)};  // cuda_calls (SetCalls)
std::atomic<uint32_t> g_quiet_calls{0};
// Serialises cuptiEnableCallback calls of the pruner (DisableCall) with the unsubscription (StopWith).
// A spin lock: this file uses no lock of the core (it is also built with a stub core for tests).
std::atomic<bool> g_sub_mu{false};
struct SubLock {
  SubLock() {
    while (g_sub_mu.exchange(true, std::memory_order_acquire)) sched_yield();
  }
  ~SubLock() { g_sub_mu.store(false, std::memory_order_release); }
};
std::atomic<bool> g_forward{false};

// g_status is written only by the thread that holds kStarting and read only when the state is
// kActive or kOff (published with release). g_status_stop likewise for kStopped.
char g_status[1024];
char g_status_stop[1024];

thread_local bool t_in_start = false;

// --- small string helpers (no allocation) -----------------------------------------------------------

void CopyStr(char* dst, size_t n, const char* src) {
  if (n == 0) return;
  size_t i = 0;
  for (; src && src[i] && i + 1 < n; ++i) dst[i] = src[i];
  dst[i] = 0;
}

const char* BaseName(const char* p) {
  const char* s = strrchr(p, '/');
  return s ? s + 1 : p;
}

bool StartsWith(const char* s, const char* prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

[[maybe_unused]] bool IsDir(const char* p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

// "libcupti.so.13" -> 13, "libcupti.so" -> -1 (unknown), anything else -> -2 (not a libcupti).
[[maybe_unused]] int CuptiMajorFromName(const char* base) {
  static const char kPrefix[] = "libcupti.so";
  if (!StartsWith(base, kPrefix)) return -2;
  const char* rest = base + sizeof(kPrefix) - 1;
  if (*rest == 0) return -1;
  if (*rest != '.') return -2;
  ++rest;
  if (*rest < '0' || *rest > '9') return -2;
  int v = 0;
  while (*rest >= '0' && *rest <= '9') v = v * 10 + (*rest++ - '0');
  if (*rest != 0 && *rest != '.') return -2;
  return v > 99 ? -1 : v;  // libcupti.so.2025.x.y: a build number, not a CUDA major
}

#if LOCKSAN_HAVE_CUPTI

// --- CUPTI entry points ---------------------------------------------------------------------------

using SubscribeFn = CUptiResult (*)(CUpti_SubscriberHandle*, CUpti_CallbackFunc, void*);
using UnsubscribeFn = CUptiResult (*)(CUpti_SubscriberHandle);
using EnableDomainFn = CUptiResult (*)(uint32_t, CUpti_SubscriberHandle, CUpti_CallbackDomain);
using ResultStringFn = CUptiResult (*)(CUptiResult, const char**);
using EnableCallbackFn = CUptiResult (*)(uint32_t, CUpti_SubscriberHandle, CUpti_CallbackDomain,
                                         CUpti_CallbackId);
using CallbackNameFn = CUptiResult (*)(CUpti_CallbackDomain, uint32_t, const char**);
#ifdef CUpti_SubscriberParams_STRUCT_SIZE
using SubscribeV2Fn = CUptiResult (*)(CUpti_SubscriberHandle*, CUpti_CallbackFunc, void*,
                                      CUpti_SubscriberParams*);
#else
using SubscribeV2Fn = void*;
#endif

void* g_cupti = nullptr;
SubscribeFn p_subscribe = nullptr;
SubscribeV2Fn p_subscribe_v2 = nullptr;
UnsubscribeFn p_unsubscribe = nullptr;
EnableDomainFn p_enable_domain = nullptr;
ResultStringFn p_result_string = nullptr;
EnableCallbackFn p_enable_callback = nullptr;
CallbackNameFn p_callback_name = nullptr;
CUpti_SubscriberHandle g_sub = nullptr;
char g_cupti_path[PATH_MAX];

bool IsLaunch(CUpti_CallbackId cbid) {
  switch (cbid) {
    case CUPTI_DRIVER_TRACE_CBID_cuLaunch:
    case CUPTI_DRIVER_TRACE_CBID_cuLaunchGrid:
    case CUPTI_DRIVER_TRACE_CBID_cuLaunchGridAsync:
    case CUPTI_DRIVER_TRACE_CBID_cuLaunchKernel:
    case CUPTI_DRIVER_TRACE_CBID_cuLaunchKernel_ptsz:
    case CUPTI_DRIVER_TRACE_CBID_cuLaunchCooperativeKernel:
    case CUPTI_DRIVER_TRACE_CBID_cuLaunchCooperativeKernel_ptsz:
    case CUPTI_DRIVER_TRACE_CBID_cuLaunchCooperativeKernelMultiDevice:
    case CUPTI_DRIVER_TRACE_CBID_cuLaunchKernelEx:
    case CUPTI_DRIVER_TRACE_CBID_cuLaunchKernelEx_ptsz:
      return true;
    default:
      return false;
  }
}

// The callback. Runs on every driver API enter and exit of every thread: forward and return.
void CUPTIAPI Callback(void* /*userdata*/, CUpti_CallbackDomain domain, CUpti_CallbackId cbid,
                       const void* cbdata) {
  if (domain != CUPTI_CB_DOMAIN_DRIVER_API) return;
  if (!g_forward.load(std::memory_order_relaxed)) return;
  const auto* d = static_cast<const CUpti_CallbackData*>(cbdata);
  if (d->callbackSite == CUPTI_API_ENTER) {
    // symbolName is defined only for launch callbacks.
    locksan::OnDriverApiEnter(d->functionName, cbid, IsLaunch(cbid) ? d->symbolName : nullptr);
  } else {
    locksan::OnDriverApiExit(cbid);
  }
}

const char* ResultString(CUptiResult r) {
  const char* s = nullptr;
  if (p_result_string && p_result_string(r, &s) == CUPTI_SUCCESS && s) return s;
  return "unknown CUPTI error";
}

// --- finding libcupti -------------------------------------------------------------------------------

struct Search {
  int driver_major = 0;  // CUDA major of the driver (cuDriverGetVersion / 1000), 0 if unknown
  int tried = 0;
  char last_error[384] = {0};
  const char* how = "";
};

void NoteError(Search& s, const char* path, const char* what) {
  snprintf(s.last_error, sizeof(s.last_error), "%s: %s", path, what ? what : "?");
}

// dlopen one candidate file and resolve the entry points. On success g_cupti* are set.
bool TryFile(Search& s, const char* path, const char* how) {
  s.tried++;
  void* h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
  if (!h) {
    NoteError(s, path, dlerror());
    return false;
  }
  auto sub = reinterpret_cast<SubscribeFn>(dlsym(h, "cuptiSubscribe"));
  auto unsub = reinterpret_cast<UnsubscribeFn>(dlsym(h, "cuptiUnsubscribe"));
  auto en = reinterpret_cast<EnableDomainFn>(dlsym(h, "cuptiEnableDomain"));
  if (!sub || !unsub || !en) {
    NoteError(s, path, "not a usable libcupti (cuptiSubscribe/cuptiEnableDomain missing)");
    dlclose(h);
    return false;
  }
  g_cupti = h;
  p_subscribe = sub;
  p_unsubscribe = unsub;
  p_enable_domain = en;
  p_result_string = reinterpret_cast<ResultStringFn>(dlsym(h, "cuptiGetResultString"));
  p_enable_callback = reinterpret_cast<EnableCallbackFn>(dlsym(h, "cuptiEnableCallback"));
  p_callback_name = reinterpret_cast<CallbackNameFn>(dlsym(h, "cuptiGetCallbackName"));
#ifdef CUpti_SubscriberParams_STRUCT_SIZE
  p_subscribe_v2 = reinterpret_cast<SubscribeV2Fn>(dlsym(h, "cuptiSubscribe_v2"));
#endif
  struct link_map* lm = nullptr;
  const char* loaded = path;
  if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && lm->l_name[0]) loaded = lm->l_name;
  char clean[PATH_MAX];  // ".../torch/lib/../../nvidia/cu13/lib/libcupti.so.13" -> without the ".."
  const char* slash = strrchr(loaded, '/');
  if (slash && static_cast<size_t>(slash - loaded) < sizeof(clean)) {
    char dir[PATH_MAX];
    memcpy(dir, loaded, static_cast<size_t>(slash - loaded));
    dir[slash - loaded] = 0;
    if (realpath(dir[0] ? dir : "/", clean)) {
      snprintf(g_cupti_path, sizeof(g_cupti_path), "%s%s", clean, slash);
      loaded = nullptr;
    }
  }
  if (loaded) CopyStr(g_cupti_path, sizeof(g_cupti_path), loaded);
  s.how = how;
  return true;
}

bool VersionFits(const Search& s, int major) {
  return major < 0 || s.driver_major == 0 || major <= s.driver_major;
}

// Best libcupti in a directory: the highest libcupti.so.N with N <= the driver's major, else
// libcupti.so (whose target is checked the same way).
bool TryDir(Search& s, const char* dir, const char* how) {
  DIR* d = opendir(dir);
  if (!d) return false;
  int best = -3;
  bool have_plain = false;
  while (struct dirent* e = readdir(d)) {
    int m = CuptiMajorFromName(e->d_name);
    if (m == -1 && strcmp(e->d_name, "libcupti.so") == 0) have_plain = true;
    if (m >= 0 && VersionFits(s, m) && m > best) best = m;
  }
  closedir(d);
  char path[PATH_MAX];
  if (best >= 0) {
    snprintf(path, sizeof(path), "%s/libcupti.so.%d", dir, best);
    if (TryFile(s, path, how)) return true;
  }
  if (have_plain) {
    snprintf(path, sizeof(path), "%s/libcupti.so", dir);
    char real[PATH_MAX];
    if (realpath(path, real)) {
      int m = CuptiMajorFromName(BaseName(real));
      if (m >= 0 && !VersionFits(s, m)) {
        NoteError(s, real, "newer than the driver");
        return false;
      }
    }
    if (TryFile(s, path, how)) return true;
  }
  return false;
}

// A libcupti already in the process (torch loads one at import): always use that copy; a second copy
// would compete with it for the driver's callback tables.
struct LoadedScan {
  char cupti[PATH_MAX];
  // Directories of loaded CUDA libraries and site-packages roots, for the wheel search.
  static constexpr int kMaxDirs = 16;
  char dirs[kMaxDirs][PATH_MAX];
  int ndirs;
  char roots[8][PATH_MAX];
  int nroots;
};

void AddUnique(char (*arr)[PATH_MAX], int* n, int max, const char* s, size_t len) {
  if (*n >= max || len == 0 || len >= PATH_MAX) return;
  for (int i = 0; i < *n; ++i)
    if (strlen(arr[i]) == len && strncmp(arr[i], s, len) == 0) return;
  memcpy(arr[*n], s, len);
  arr[*n][len] = 0;
  ++*n;
}

int ScanPhdr(struct dl_phdr_info* info, size_t, void* data) {
  auto* sc = static_cast<LoadedScan*>(data);
  const char* name = info->dlpi_name;
  if (!name || !name[0]) return 0;
  const char* base = BaseName(name);
  if (!sc->cupti[0] && CuptiMajorFromName(base) >= -1) CopyStr(sc->cupti, sizeof(sc->cupti), name);
  // site-packages / dist-packages roots of loaded extension modules
  static const char* const kKeys[] = {"/site-packages/", "/dist-packages/"};
  for (const char* key : kKeys) {
    if (const char* p = strstr(name, key)) {
      AddUnique(sc->roots, &sc->nroots, 8, name, static_cast<size_t>(p - name) + strlen(key) - 1);
    }
  }
  // directories of loaded CUDA libraries (conda env/lib, wheel lib dirs, toolkit lib dirs)
  if (StartsWith(base, "libcudart.so") || StartsWith(base, "libnvrtc.so") ||
      StartsWith(base, "libcublas.so") || StartsWith(base, "libnvJitLink.so")) {
    AddUnique(sc->dirs, &sc->ndirs, LoadedScan::kMaxDirs, name, static_cast<size_t>(base - name - 1));
  }
  return 0;
}

// /usr/local/cuda-X.Y directories, highest version first.
int ListCudaDirs(char (*out)[PATH_MAX], int max) {
  int n = 0;
  DIR* d = opendir("/usr/local");
  if (!d) return 0;
  while (struct dirent* e = readdir(d)) {
    if (!StartsWith(e->d_name, "cuda-") || n >= max) continue;
    snprintf(out[n++], PATH_MAX, "/usr/local/%s", e->d_name);
  }
  closedir(d);
  // insertion sort, descending by version numbers
  auto ver = [](const char* p, int* a, int* b) {
    *a = *b = 0;
    sscanf(BaseName(p), "cuda-%d.%d", a, b);
  };
  for (int i = 1; i < n; ++i) {
    for (int j = i; j > 0; --j) {
      int a1, b1, a2, b2;
      ver(out[j - 1], &a1, &b1);
      ver(out[j], &a2, &b2);
      if (a1 > a2 || (a1 == a2 && b1 >= b2)) break;
      char tmp[PATH_MAX];
      memcpy(tmp, out[j], PATH_MAX);
      memcpy(out[j], out[j - 1], PATH_MAX);
      memcpy(out[j - 1], tmp, PATH_MAX);
    }
  }
  return n;
}

bool TryCudaRoot(Search& s, const char* root, const char* how) {
  if (!root || !root[0] || !IsDir(root)) return false;
#if defined(__aarch64__)
  static const char* const kSub[] = {"/targets/sbsa-linux/lib", "/extras/CUPTI/lib64", "/lib64", "/lib"};
#else
  static const char* const kSub[] = {"/targets/x86_64-linux/lib", "/extras/CUPTI/lib64", "/lib64", "/lib"};
#endif
  char dir[PATH_MAX];
  for (const char* sub : kSub) {
    snprintf(dir, sizeof(dir), "%s%s", root, sub);
    if (TryDir(s, dir, how)) return true;
  }
  return false;
}

bool FindCupti(Search& s, const char* libcuda_dir) {
  // 0. a copy already loaded
  static LoadedScan sc;  // large; only ever used by the thread holding kStarting
  memset(&sc, 0, sizeof(sc));
  dl_iterate_phdr(ScanPhdr, &sc);
  if (sc.cupti[0] && TryFile(s, sc.cupti, "already loaded in the process")) return true;

  // 1. LOCKSAN_CUPTI_PATH: a file or a directory
  if (const char* env = getenv("LOCKSAN_CUPTI_PATH"); env && env[0]) {
    if (IsDir(env) ? TryDir(s, env, "LOCKSAN_CUPTI_PATH") : TryFile(s, env, "LOCKSAN_CUPTI_PATH"))
      return true;
  }

  // 2. next to libcuda
  if (libcuda_dir && libcuda_dir[0] && TryDir(s, libcuda_dir, "next to libcuda")) return true;

  // 3. next to CUDA libraries the process already loaded (libcudart, libcublas, libnvrtc: a pip wheel's
  //    nvidia/cu13/lib, a conda env's lib, a toolkit's lib), then the nvidia/*/lib directories of pip
  //    wheels under the site-packages of loaded modules. These come before the system toolkit on
  //    purpose: a framework (torch) later loads the libcupti of its own wheel by path; had we taken the
  //    toolkit's copy, the process would hold two libcupti copies (seen on the GPU machine).
  for (int i = 0; i < sc.ndirs; ++i)
    if (TryDir(s, sc.dirs[i], "next to a loaded CUDA library")) return true;
  for (int r = 0; r < sc.nroots; ++r) {
    char dir[PATH_MAX];
    static const char* const kWheelDirs[] = {"nvidia/cu13/lib", "nvidia/cuda_cupti/lib", "nvidia/cu12/lib"};
    for (const char* sub : kWheelDirs) {
      snprintf(dir, sizeof(dir), "%s/%s", sc.roots[r], sub);
      if (TryDir(s, dir, "pip wheel")) return true;
    }
    // any other nvidia/<pkg>/lib (future wheel layouts)
    snprintf(dir, sizeof(dir), "%s/nvidia", sc.roots[r]);
    if (DIR* d = opendir(dir)) {
      char sub[PATH_MAX];
      bool found = false;
      while (struct dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        snprintf(sub, sizeof(sub), "%s/%s/lib", dir, e->d_name);
        if (TryDir(s, sub, "pip wheel")) {
          found = true;
          break;
        }
      }
      closedir(d);
      if (found) return true;
    }
  }

  // 4. CUDA installs: $CUDA_HOME, $CUDA_PATH, $CUDA_ROOT, /usr/local/cuda, /usr/local/cuda-X.Y (newest first)
  static const char* const kVars[] = {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"};
  for (const char* var : kVars) {
    if (TryCudaRoot(s, getenv(var), var)) return true;
  }
  if (TryCudaRoot(s, "/usr/local/cuda", "/usr/local/cuda")) return true;
  {
    static char dirs[16][PATH_MAX];
    int n = ListCudaDirs(dirs, 16);
    for (int i = 0; i < n; ++i)
      if (TryCudaRoot(s, dirs[i], "CUDA toolkit")) return true;
  }

  // 5. the loader's own search (LD_LIBRARY_PATH, ld.so.cache)
  static const char* const kSonames[] = {"libcupti.so.13", "libcupti.so.12", "libcupti.so"};
  for (const char* so : kSonames) {
    int m = CuptiMajorFromName(so);
    if (!VersionFits(s, m)) continue;
    if (TryFile(s, so, "loader search path")) return true;
  }
  return false;
}

#endif  // LOCKSAN_HAVE_CUPTI

// --- CUDA_INJECTION64_PATH ------------------------------------------------------------------------

// True if `entry` names this library (liblocksan.so, or the test module this file is built into).
bool IsSelf(const char* entry, size_t len) {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void*>(&MaybeStart), &info) || !info.dli_fname) return false;
  char want[PATH_MAX], self[PATH_MAX];
  if (len == 0 || len >= sizeof(want)) return false;
  memcpy(want, entry, len);
  want[len] = 0;
  char rw[PATH_MAX], rs[PATH_MAX];
  if (realpath(want, rw) && realpath(info.dli_fname, rs)) return strcmp(rw, rs) == 0;
  CopyStr(self, sizeof(self), info.dli_fname);
  return strcmp(BaseName(want), BaseName(self)) == 0;
}

// If CUDA_INJECTION64_PATH names another tool, that tool owns CUPTI: write the reason and say so.
bool InjectionBelongsToOther(char* why, size_t n) {
  const char* env = getenv("CUDA_INJECTION64_PATH");
  if (!env || !env[0]) return false;
  const char* p = env;
  while (*p) {
    const char* end = strchr(p, ':');
    size_t len = end ? static_cast<size_t>(end - p) : strlen(p);
    if (len > 0 && !IsSelf(p, len)) {
      snprintf(why, n,
               "CUPTI driver-API tracking off: CUDA_INJECTION64_PATH=%s belongs to another tool "
               "(Nsight, compute-sanitizer or a profiler): driver calls are not tracked; falling back "
               "to the pthread layer",
               env);
      return true;
    }
    if (!end) break;
    p = end + 1;
  }
  return false;
}

// --- start / stop -----------------------------------------------------------------------------------

bool LibcudaLoaded() {
  void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
  if (!h) {
    dlerror();
    return false;
  }
  dlclose(h);
  return true;
}

#if LOCKSAN_HAVE_CUPTI
// EnableNeededCalls — cuda_calls=needed: enables the callbacks of the driver functions the detector's
// rules need (IsSyncDriverCall, IsCallbackDriverCall), found by name among every driver-API callback
// id, instead of the whole domain: CUPTI then costs nothing on the other calls (docs/gpu.md). Returns
// how many were enabled; 0 when this libcupti cannot do it (nothing enabled: the caller enables the
// domain).
int EnableNeededCalls(CUpti_SubscriberHandle sub) {
  if (!p_enable_callback || !p_callback_name) return 0;
  int n = 0;
  // Ids past this header's last one may exist in a newer libcupti: their names are asked for too.
  for (uint32_t cbid = 1; cbid < 2u * CUPTI_DRIVER_TRACE_CBID_SIZE; cbid++) {
    const char* name = nullptr;
    if (p_callback_name(CUPTI_CB_DOMAIN_DRIVER_API, cbid, &name) != CUPTI_SUCCESS || !name) continue;
    if (!IsSyncDriverCall(name) && !IsCallbackDriverCall(name)) continue;
    if (p_enable_callback(1, sub, CUPTI_CB_DOMAIN_DRIVER_API, cbid) != CUPTI_SUCCESS) {
      for (uint32_t c = 1; c < cbid; c++) p_enable_callback(0, sub, CUPTI_CB_DOMAIN_DRIVER_API, c);
      return 0;
    }
    n++;
  }
  return n;
}

// cuda_calls=adaptive: turns one driver function's callback off (called by the core's pruner thread,
// never inside a callback). Only while subscribed.
bool DisableCall(uint32_t cbid) {
  SubLock lock;
  if (g_state.load(std::memory_order_acquire) != kActive || !g_sub || !p_enable_callback) return false;
  return p_enable_callback(0, g_sub, CUPTI_CB_DOMAIN_DRIVER_API, cbid) == CUPTI_SUCCESS;
}
#endif  // LOCKSAN_HAVE_CUPTI

// Runs in the one thread holding kStarting. Fills g_status; returns true when subscribed.
bool StartLocked(Mode mode, bool from_injection) {
  const char* req = mode == Mode::kOn ? " (requested)" : "";
  if (!from_injection && InjectionBelongsToOther(g_status, sizeof(g_status))) return false;
#if !LOCKSAN_HAVE_CUPTI
  (void)from_injection;
  snprintf(g_status, sizeof(g_status),
           "CUPTI driver-API tracking unavailable%s: locksan was built without the CUPTI headers; "
           "falling back to the pthread layer",
           req);
  return false;
#else
  Search s;
  char libcuda_dir[PATH_MAX] = {0};
  if (void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD)) {
    struct link_map* lm = nullptr;
    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && strchr(lm->l_name, '/')) {
      CopyStr(libcuda_dir, sizeof(libcuda_dir), lm->l_name);
      *strrchr(libcuda_dir, '/') = 0;
    }
    using VersionFn = int (*)(int*);
    if (auto ver = reinterpret_cast<VersionFn>(dlsym(h, "cuDriverGetVersion"))) {
      int v = 0;
      if (ver(&v) == 0 && v > 0) s.driver_major = v / 1000;
    }
    dlclose(h);
  }
  if (!FindCupti(s, libcuda_dir)) {
    snprintf(g_status, sizeof(g_status),
             "CUPTI driver-API tracking off%s: libcupti not found (%d candidates tried%s%s); set "
             "LOCKSAN_CUPTI_PATH to a libcupti.so or its directory; falling back to the pthread layer",
             req, s.tried, s.last_error[0] ? "; last: " : "", s.last_error);
    return false;
  }

  CUptiResult r;
  char other[128] = {0};  // >= CUPTI_OLD_SUBSCRIBER_NAME_MIN_LEN (64)
  CUpti_SubscriberHandle sub = nullptr;
#ifdef CUpti_SubscriberParams_STRUCT_SIZE
  if (p_subscribe_v2) {
    CUpti_SubscriberParams params;
    memset(&params, 0, sizeof(params));
    params.structSize = CUpti_SubscriberParams_STRUCT_SIZE;
    params.subscriberName = "locksan";
    params.oldSubscriberName = other;
    params.oldSubscriberSize = sizeof(other);
    r = p_subscribe_v2(&sub, Callback, nullptr, &params);
  } else {
    r = p_subscribe(&sub, Callback, nullptr);
  }
#else
  r = p_subscribe(&sub, Callback, nullptr);
#endif
  if (r == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED) {
    snprintf(g_status, sizeof(g_status),
             "CUPTI driver-API tracking off%s: CUPTI is in use by another tool (%s): driver calls are "
             "not tracked; falling back to the pthread layer",
             req,
             other[0] && !strstr(other, "not provided") ? other
                                                        : "Nsight, compute-sanitizer or a profiler");
    return false;
  }
  if (r != CUPTI_SUCCESS) {
    snprintf(g_status, sizeof(g_status),
             "CUPTI driver-API tracking off%s: cuptiSubscribe failed: %s (%d) (libcupti: %s, driver "
             "CUDA %d); falling back to the pthread layer",
             req, ResultString(r), static_cast<int>(r), g_cupti_path, s.driver_major);
    return false;
  }
  g_sub = sub;
  g_forward.store(true, std::memory_order_release);
  char calls[128] = "";
  auto which = static_cast<Calls>(g_calls.load(std::memory_order_relaxed));
  int selected = which == Calls::kNeeded ? EnableNeededCalls(sub) : -1;
  if (selected > 0) {
    snprintf(calls, sizeof(calls), "; cuda_calls=needed: %d driver functions", selected);
    r = CUPTI_SUCCESS;
  } else {
    if (selected == 0)
      snprintf(calls, sizeof(calls), "; cuda_calls=needed not possible with this libcupti: all calls");
    r = p_enable_domain(1, sub, CUPTI_CB_DOMAIN_DRIVER_API);
    if (r == CUPTI_SUCCESS && which == Calls::kAdaptive) {
      uint32_t quiet = g_quiet_calls.load(std::memory_order_relaxed);
      if (!p_enable_callback) {
        snprintf(calls, sizeof(calls), "; cuda_calls=adaptive not possible with this libcupti: all calls");
      } else if (quiet) {
        snprintf(calls, sizeof(calls), "; cuda_calls=adaptive: a function quiet for %u calls is let go",
                 quiet);
        locksan::SetDriverCallPruner(DisableCall, quiet);
      }
    }
  }
  if (r != CUPTI_SUCCESS) {
    g_forward.store(false, std::memory_order_release);
    p_unsubscribe(sub);
    g_sub = nullptr;
    snprintf(g_status, sizeof(g_status),
             "CUPTI driver-API tracking off%s: cuptiEnableDomain(DRIVER_API) failed: %s (%d); "
             "falling back to the pthread layer",
             req, ResultString(r), static_cast<int>(r));
    return false;
  }
  snprintf(g_status, sizeof(g_status), "CUPTI driver-API tracking active (libcupti: %s%s%s%s)",
           g_cupti_path, from_injection ? ", via CUDA_INJECTION64_PATH" : "",
           StartsWith(s.how, "already") ? ", already loaded" : "", calls);
  return true;
#endif
}

void TryStart(Mode mode, bool from_injection) {
  int expected = kIdle;
  if (!g_state.compare_exchange_strong(expected, kStarting, std::memory_order_acq_rel)) return;
  t_in_start = true;
  bool ok = StartLocked(mode, from_injection);
  t_in_start = false;
  g_state.store(ok ? kActive : kOff, std::memory_order_release);
  locksan::SetDriverTrackingStatus(ok, g_status);
}

}  // namespace

void SetCalls(Calls which, uint32_t quiet_calls) {
  g_calls.store(static_cast<int>(which), std::memory_order_relaxed);
  g_quiet_calls.store(quiet_calls, std::memory_order_relaxed);
}

void MaybeStart(Mode mode) {
  g_mode.store(static_cast<int>(mode), std::memory_order_relaxed);
  if (g_state.load(std::memory_order_acquire) != kIdle) return;
  if (t_in_start) return;  // our own dlopen calls, seen by the preload's dlopen interceptor
  if (mode == Mode::kOff) {
    int expected = kIdle;
    if (!g_state.compare_exchange_strong(expected, kStarting, std::memory_order_acq_rel)) return;
    snprintf(g_status, sizeof(g_status), "CUPTI driver-API tracking off (disabled by option)");
    g_state.store(kOff, std::memory_order_release);
    locksan::SetDriverTrackingStatus(false, g_status);
    return;
  }
  t_in_start = true;
  bool loaded = LibcudaLoaded();
  t_in_start = false;
  if (!loaded) return;
  TryStart(mode, /*from_injection=*/false);
}

const char* StatusLine() {
  switch (g_state.load(std::memory_order_acquire)) {
    case kActive:
    case kOff:
      return g_status;
    case kStopped:
      return g_status_stop;
    case kStarting:
      return "CUPTI driver-API tracking: starting";
    default:
      return "CUPTI driver-API tracking not started (libcuda.so.1 not loaded yet)";
  }
}

bool Active() { return g_state.load(std::memory_order_acquire) == kActive; }

namespace {
// Leave the active state (or forbid a later start). `why` becomes the status line.
void StopWith(bool unsubscribe, const char* why, const char* why_not_started) {
  g_forward.store(false, std::memory_order_release);
  int expected = kActive;
  if (g_state.compare_exchange_strong(expected, kStarting, std::memory_order_acq_rel)) {
#if LOCKSAN_HAVE_CUPTI
    // In a fork child (unsubscribe=false) the parent's pruner thread, which may have held the lock at
    // fork time, does not exist: the lock is free again.
    if (!unsubscribe) g_sub_mu.store(false, std::memory_order_relaxed);
    SubLock lock;
    if (unsubscribe && p_unsubscribe && g_sub) p_unsubscribe(g_sub);
    g_sub = nullptr;
#else
    (void)unsubscribe;
#endif
    CopyStr(g_status_stop, sizeof(g_status_stop), why);
    g_state.store(kStopped, std::memory_order_release);
    locksan::SetDriverTrackingStatus(false, g_status_stop);
    return;
  }
  expected = kIdle;
  if (g_state.compare_exchange_strong(expected, kStarting, std::memory_order_acq_rel)) {
    CopyStr(g_status, sizeof(g_status), why_not_started);
    g_state.store(kOff, std::memory_order_release);
    locksan::SetDriverTrackingStatus(false, g_status);
  }
}
}  // namespace

void Shutdown(bool unsubscribe) {
  StopWith(unsubscribe, "CUPTI driver-API tracking stopped (shutdown)",
           "CUPTI driver-API tracking off (shut down before it started)");
}

}  // namespace locksan::cupti

LOCKSAN_CUPTI_EXPORT int InitializeInjection(void) {
  using namespace locksan::cupti;
  auto mode = static_cast<Mode>(g_mode.load(std::memory_order_relaxed));
  if (mode != Mode::kOff) TryStart(mode, /*from_injection=*/true);
  return 1;
}

#if LOCKSAN_HAVE_CUPTI && !defined(LOCKSAN_CUPTI_NO_YIELD)
// --- giving CUPTI up to a later subscriber ----------------------------------------------------------
//
// liblocksan.so is preloaded, so a program's own call to cuptiSubscribe (Kineto inside
// torch.profiler, a user's CUPTI code) binds here first. If locksan holds the subscription it
// unsubscribes and hands the call on, so the profiler works as it would without locksan; driver calls
// are no longer tracked from then on (the status line says so). LOCKSAN_CUPTI_YIELD=0 keeps the
// subscription instead (the other subscriber then gets error 39). Calls that reach libcupti by a
// handle (dlsym(handle, "cuptiSubscribe")) bypass this and get error 39.
namespace locksan::cupti {
namespace {

// The libcupti function the caller would have reached without us. A process may hold two libcupti
// copies (a framework's wheel copy and another); the caller's own subscriber handle must come from the
// copy that its later cuptiEnableDomain/... calls bind to, so look in the caller's dependency scope
// first (dlsym on the caller's handle does not search the global scope, hence never finds us).
void* RealCupti(const char* name, const void* caller, const void* self) {
  Dl_info info;
  if (caller && dladdr(caller, &info) && info.dli_fname && info.dli_fname[0]) {
    if (void* h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD)) {
      void* p = dlsym(h, name);
      dlclose(h);
      if (p && p != self) return p;
    }
    dlerror();
  }
  if (void* p = dlsym(RTLD_NEXT, name)) return p;
  if (g_cupti)
    if (void* p = dlsym(g_cupti, name)) return p;
  LoadedScan* sc = new (std::nothrow) LoadedScan();  // rare path: no libcupti known to us yet
  if (!sc) return nullptr;
  dl_iterate_phdr(ScanPhdr, sc);
  void* p = nullptr;
  if (sc->cupti[0])
    if (void* h = dlopen(sc->cupti, RTLD_LAZY | RTLD_NOLOAD)) p = dlsym(h, name);
  delete sc;
  return p;
}

void YieldFor(const char* api) {
  const char* env = getenv("LOCKSAN_CUPTI_YIELD");
  if (env && env[0] == '0') return;
  char why[512];
  snprintf(why, sizeof(why),
           "CUPTI driver-API tracking stopped: another CUPTI client called %s (a profiler such as "
           "torch.profiler/Kineto, or the program itself); locksan gave CUPTI up to it: driver calls are "
           "no longer tracked; falling back to the pthread layer",
           api);
  char why_not[512];
  snprintf(why_not, sizeof(why_not),
           "CUPTI driver-API tracking off: another CUPTI client called %s before locksan subscribed: "
           "driver calls are not tracked; falling back to the pthread layer",
           api);
  StopWith(/*unsubscribe=*/true, why, why_not);
}

}  // namespace
}  // namespace locksan::cupti

LOCKSAN_CUPTI_EXPORT CUptiResult cuptiSubscribe(CUpti_SubscriberHandle* subscriber,
                                                CUpti_CallbackFunc callback, void* userdata) {
  locksan::cupti::YieldFor("cuptiSubscribe");
  using Fn = CUptiResult (*)(CUpti_SubscriberHandle*, CUpti_CallbackFunc, void*);
  auto real = reinterpret_cast<Fn>(locksan::cupti::RealCupti(
      "cuptiSubscribe", __builtin_return_address(0), reinterpret_cast<const void*>(&cuptiSubscribe)));
  return real ? real(subscriber, callback, userdata) : CUPTI_ERROR_NOT_INITIALIZED;
}

#ifdef CUpti_SubscriberParams_STRUCT_SIZE
LOCKSAN_CUPTI_EXPORT CUptiResult cuptiSubscribe_v2(CUpti_SubscriberHandle* subscriber,
                                                   CUpti_CallbackFunc callback, void* userdata,
                                                   CUpti_SubscriberParams* params) {
  locksan::cupti::YieldFor("cuptiSubscribe_v2");
  using Fn = CUptiResult (*)(CUpti_SubscriberHandle*, CUpti_CallbackFunc, void*, CUpti_SubscriberParams*);
  auto real = reinterpret_cast<Fn>(locksan::cupti::RealCupti(
      "cuptiSubscribe_v2", __builtin_return_address(0), reinterpret_cast<const void*>(&cuptiSubscribe_v2)));
  return real ? real(subscriber, callback, userdata, params) : CUPTI_ERROR_NOT_INITIALIZED;
}
#endif
#endif
