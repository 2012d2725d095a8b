// tests/gpu/cupti_smoke.cc — driver-API smoke tests for cupti/cupti_tracker.cc.
// Not linked against libcuda or libcupti: both are dlopen'd. Modes:
//   driver      (LD_PRELOAD=libsmoke_preload.so) names, nesting, balance, b2d, host func, cuGetProcAddress
//   bench N     cost per call of cuCtxGetCurrent / cuDeviceGet (run with and without the preload)
//   bench-own N the same with this program's own empty CUPTI subscriber (CUPTI's dispatch cost alone)
//   presub MOD  subscribe to CUPTI first, then dlopen MOD (libsmoke_preload.so): the tracker steps aside
//   inject      (CUDA_INJECTION64_PATH=libsmoke_preload.so, no preload) libcuda loads the module in cuInit
//   yield       (LD_PRELOAD) a later cuptiSubscribe: 39 through a libcupti handle, success through the
//               interposer, after which the tracker is stopped
// Prints "FACT: ..." lines (observations) and ends with "PASS" (exit 0) or "FAIL: ..." (exit 1).
// A skip prints "SKIP: ..." and exits 0.
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// ---- minimal driver API types (no cuda.h needed) ----
using CUresult = int;
using CUdevice = int;
using CUcontext = void*;
using CUmodule = void*;
using CUfunction = void*;
using CUstream = void*;
using CUdeviceptr = unsigned long long;
using B2D = size_t (*)(int);
using HostFn = void (*)(void*);

struct Driver {
  void* h = nullptr;
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int*);
  CUresult (*cuDeviceGet)(CUdevice*, int);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxGetCurrent)(CUcontext*);
  CUresult (*cuModuleLoadData)(CUmodule*, const void*);
  CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*);
  CUresult (*cuMemAlloc)(CUdeviceptr*, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuOccupancy)(int*, int*, CUfunction, B2D, size_t, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, CUstream, void**, void**);
  CUresult (*cuLaunchHostFunc)(CUstream, HostFn, void*);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuGetProcAddress)(const char*, void**, int, unsigned long long, int*);
  CUresult (*cuDriverGetVersion)(int*);
};

const char kPtx[] = R"(
.version 7.0
.target sm_80
.address_size 64
.visible .entry noop(.param .u64 p)
{
  ret;
}
.visible .entry spin(.param .u64 ns)
{
  .reg .u64 %rd<5>;
  .reg .pred %p1;
  ld.param.u64 %rd1, [ns];
  mov.u64 %rd2, %globaltimer;
LOOP:
  mov.u64 %rd3, %globaltimer;
  sub.u64 %rd4, %rd3, %rd2;
  setp.lt.u64 %p1, %rd4, %rd1;
  @%p1 bra LOOP;
  ret;
}
)";

std::vector<std::string> g_fail;
void Check(bool ok, const std::string& what) {
  if (!ok) g_fail.push_back(what);
  printf("  [%s] %s\n", ok ? "ok" : "FAIL", what.c_str());
}

template <typename T>
void Sym(void* h, T& out, const char* name) {
  out = reinterpret_cast<T>(dlsym(h, name));
  if (!out) {
    fprintf(stderr, "missing driver symbol %s\n", name);
    exit(1);
  }
}

bool LoadDriver(Driver& d) {
  d.h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (!d.h) return false;
  Sym(d.h, d.cuInit, "cuInit");
  Sym(d.h, d.cuDeviceGetCount, "cuDeviceGetCount");
  Sym(d.h, d.cuDeviceGet, "cuDeviceGet");
  Sym(d.h, d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  Sym(d.h, d.cuCtxSetCurrent, "cuCtxSetCurrent");
  Sym(d.h, d.cuCtxGetCurrent, "cuCtxGetCurrent");
  Sym(d.h, d.cuModuleLoadData, "cuModuleLoadData");
  Sym(d.h, d.cuModuleGetFunction, "cuModuleGetFunction");
  Sym(d.h, d.cuMemAlloc, "cuMemAlloc_v2");
  Sym(d.h, d.cuMemFree, "cuMemFree_v2");
  Sym(d.h, d.cuOccupancy, "cuOccupancyMaxPotentialBlockSize");
  Sym(d.h, d.cuLaunchKernel, "cuLaunchKernel");
  Sym(d.h, d.cuLaunchHostFunc, "cuLaunchHostFunc");
  Sym(d.h, d.cuStreamSynchronize, "cuStreamSynchronize");
  Sym(d.h, d.cuCtxSynchronize, "cuCtxSynchronize");
  Sym(d.h, d.cuGetProcAddress, "cuGetProcAddress_v2");
  Sym(d.h, d.cuDriverGetVersion, "cuDriverGetVersion");
  return true;
}

#define CU(call)                                                              \
  do {                                                                        \
    CUresult rc_ = (call);                                                    \
    if (rc_ != 0) {                                                           \
      fprintf(stderr, "%s failed: %d (line %d)\n", #call, rc_, __LINE__);     \
      printf("FAIL: driver call failed: %s -> %d\n", #call, rc_);             \
      exit(1);                                                                \
    }                                                                         \
  } while (0)

bool InitCtx(Driver& d, CUmodule* mod) {
  CU(d.cuInit(0));
  int n = 0;
  CU(d.cuDeviceGetCount(&n));
  if (n == 0) return false;
  CUdevice dev;
  CU(d.cuDeviceGet(&dev, 0));
  CUcontext ctx;
  CU(d.cuDevicePrimaryCtxRetain(&ctx, dev));
  CU(d.cuCtxSetCurrent(ctx));
  if (mod) CU(d.cuModuleLoadData(mod, kPtx));
  return true;
}

int Threads() {
  int n = 0;
  if (DIR* dir = opendir("/proc/self/task")) {
    while (struct dirent* e = readdir(dir))
      if (e->d_name[0] != '.') ++n;
    closedir(dir);
  }
  return n;
}

std::string ThreadName(long tid) {
  char path[64], buf[64] = {0};
  snprintf(path, sizeof(path), "/proc/self/task/%ld/comm", tid);
  if (FILE* f = fopen(path, "r")) {
    if (fgets(buf, sizeof(buf), f)) buf[strcspn(buf, "\n")] = 0;
    fclose(f);
  }
  return buf;
}

long Tid() { return syscall(SYS_gettid); }

double NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

// ---- the stub's query API (from libsmoke_preload.so) ----
struct Stub {
  void (*counts)(uint64_t*, uint64_t*, uint64_t*, uint64_t*);
  uint64_t (*seen)(const char*);
  const char* (*current)();
  int (*depth)();
  const char* (*last_symbol)();
  const char* (*tracker_status)();
  int (*tracker_active)();
  const char* (*held_locks)();
  int (*held_count)();
  void (*lockrec_begin)();
  const char* (*lockrec_end)();
  const char* (*names)(int);
  void (*summary)(const char*);
};

bool LoadStub(Stub& s, void* h) {
#define S(field, name) s.field = reinterpret_cast<decltype(s.field)>(dlsym(h, name))
  S(counts, "locksan_stub_counts");
  S(seen, "locksan_stub_seen");
  S(current, "locksan_stub_current");
  S(depth, "locksan_stub_depth");
  S(last_symbol, "locksan_stub_last_symbol");
  S(tracker_status, "locksan_stub_tracker_status");
  S(tracker_active, "locksan_stub_tracker_active");
  S(held_locks, "locksan_stub_held_locks");
  S(held_count, "locksan_stub_held_count");
  S(lockrec_begin, "locksan_stub_lockrec_begin");
  S(lockrec_end, "locksan_stub_lockrec_end");
  S(names, "locksan_stub_names");
  S(summary, "locksan_stub_summary");
#undef S
  return s.counts && s.seen && s.tracker_status;
}

Stub g_stub;

// ---- callbacks run by the driver ----
std::atomic<int> g_b2d_calls{0};
std::string g_b2d_current, g_b2d_locks;
long g_b2d_tid = 0;
size_t B2dCallback(int block) {
  if (g_b2d_calls.fetch_add(1) == 0) {
    const char* c = g_stub.current ? g_stub.current() : nullptr;
    g_b2d_current = c ? c : "(none)";
    g_b2d_locks = g_stub.held_locks ? g_stub.held_locks() : "";
    g_b2d_tid = Tid();
  }
  (void)block;
  return 0;
}

std::atomic<int> g_host_calls{0};
long g_host_tid = 0;
std::string g_host_current, g_host_locks, g_host_name;
void HostCallback(void*) {
  g_host_tid = Tid();
  g_host_name = ThreadName(g_host_tid);
  const char* c = g_stub.current ? g_stub.current() : nullptr;
  g_host_current = c ? c : "(none)";
  g_host_locks = g_stub.held_locks ? g_stub.held_locks() : "";
  g_host_calls.fetch_add(1);
}

// The first word of the first lock description ("W:0x1234(from libcuda.so.1)") -> "0x1234".
std::string FirstAddr(const std::string& desc, char kind) {
  size_t p = 0;
  while ((p = desc.find(std::string(1, kind) + ":", p)) != std::string::npos) {
    if (p == 0 || desc[p - 1] == ' ') {
      size_t e = desc.find('(', p);
      return desc.substr(p + 2, e - p - 2);
    }
    ++p;
  }
  return "";
}

int ModeDriver() {
  if (!LoadStub(g_stub, RTLD_DEFAULT)) {
    printf("FAIL: run under LD_PRELOAD=libsmoke_preload.so\n");
    return 1;
  }
  printf("before libcuda: status: %s\n", g_stub.tracker_status());
  int threads0 = Threads();
  Driver d;
  if (!LoadDriver(d)) {
    printf("SKIP: no libcuda.so.1\n");
    return 0;
  }
  int threads1 = Threads();
  printf("after dlopen(libcuda): status: %s\n", g_stub.tracker_status());
  Check(g_stub.tracker_active() == 1, "tracker active right after dlopen(libcuda.so.1)");
  printf("FACT: threads before dlopen(libcuda)+subscribe: %d, after: %d\n", threads0, threads1);
  {
    int n = -1;
    CUresult rc = d.cuDeviceGetCount(&n);
    printf("FACT: cuDeviceGetCount before cuInit, with the subscriber active -> %d (%s)\n", rc,
           rc == 3 ? "CUDA_ERROR_NOT_INITIALIZED: subscribing did not initialise the driver"
                   : "driver already initialised");
  }
  CUmodule mod;
  if (!InitCtx(d, &mod)) {
    printf("SKIP: no GPU\n");
    return 0;
  }
  printf("FACT: threads after cuInit+context: %d\n", Threads());
  CUfunction noop, spin;
  CU(d.cuModuleGetFunction(&noop, mod, "noop"));
  CU(d.cuModuleGetFunction(&spin, mod, "spin"));
  CUdeviceptr p;
  CU(d.cuMemAlloc(&p, 1 << 20));
  CU(d.cuMemFree(p));

  // b2d callback: which driver call are we in, which locks do we hold
  int grid = 0, block = 0;
  CU(d.cuOccupancy(&grid, &block, noop, B2dCallback, 0, 1024));
  printf("FACT: b2d callback ran %d times on tid %ld (caller tid %ld); CurrentDriverCall()=%s\n",
         g_b2d_calls.load(), g_b2d_tid, Tid(), g_b2d_current.c_str());
  Check(g_b2d_current == "cuOccupancyMaxPotentialBlockSize",
        "CurrentDriverCall() inside the b2d callback is cuOccupancyMaxPotentialBlockSize");
  if (getenv("LOCKSAN_STUB_LOCKS")) {
    printf("FACT: locks held by the thread inside the b2d callback: [%s]\n", g_b2d_locks.c_str());
    std::string w = FirstAddr(g_b2d_locks, 'W');
    g_stub.lockrec_begin();
    CU(d.cuMemAlloc(&p, 1 << 20));
    std::string alloc_locks = g_stub.lockrec_end();
    g_stub.lockrec_begin();
    CU(d.cuMemFree(p));
    std::string free_locks = g_stub.lockrec_end();
    g_stub.lockrec_begin();
    CUfunction f2;
    CU(d.cuModuleGetFunction(&f2, mod, "noop"));
    std::string getfn_locks = g_stub.lockrec_end();
    g_stub.lockrec_begin();
    CU(d.cuOccupancy(&grid, &block, noop, nullptr, 0, 1024));
    std::string occ_locks = g_stub.lockrec_end();
    printf("FACT: locks taken by cuMemAlloc_v2: [%s]\n", alloc_locks.c_str());
    printf("FACT: locks taken by cuMemFree_v2: [%s]\n", free_locks.c_str());
    printf("FACT: locks taken by cuModuleGetFunction: [%s]\n", getfn_locks.c_str());
    printf("FACT: locks taken by cuOccupancyMaxPotentialBlockSize (no b2d): [%s]\n", occ_locks.c_str());
    if (!w.empty()) {
      printf("FACT: the rwlock %s held for write during b2d is %staken by cuMemAlloc_v2, %staken by "
             "cuModuleGetFunction\n",
             w.c_str(), alloc_locks.find(w) != std::string::npos ? "" : "NOT ",
             getfn_locks.find(w) != std::string::npos ? "" : "NOT ");
    }
  }

  // launch: symbolName
  CUdeviceptr arg = 0;
  void* params[] = {&arg};
  CU(d.cuLaunchKernel(noop, 1, 1, 1, 32, 1, 1, 0, nullptr, params, nullptr));
  const char* sym = g_stub.last_symbol();
  printf("FACT: symbolName seen for cuLaunchKernel: %s\n", sym ? sym : "(null)");
  Check(sym && strstr(sym, "noop"), "cuLaunchKernel enter carries the kernel name");

  // host function behind a 200 ms kernel
  unsigned long long ns = 200000000ull;
  void* sparams[] = {&ns};
  CU(d.cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, nullptr, sparams, nullptr));
  CU(d.cuLaunchHostFunc(nullptr, HostCallback, nullptr));
  CU(d.cuStreamSynchronize(nullptr));
  printf("FACT: cuLaunchHostFunc function ran on tid %ld (\"%s\"), main tid %ld; CurrentDriverCall() "
         "there=%s; locks held there: [%s]\n",
         g_host_tid, g_host_name.c_str(), Tid(), g_host_current.c_str(), g_host_locks.c_str());
  Check(g_host_calls.load() == 1 && g_host_tid != Tid(), "host function ran once, on another thread");

  // cuGetProcAddress pointers
  uint64_t before = g_stub.seen("cuMemAlloc_v2");
  void* fp = nullptr;
  int qstatus = -1;
  CU(d.cuGetProcAddress("cuMemAlloc", &fp, 13000, 0, &qstatus));
  auto alloc2 = reinterpret_cast<CUresult (*)(CUdeviceptr*, size_t)>(fp);
  CU(alloc2(&p, 4096));
  CU(d.cuMemFree(p));
  uint64_t after = g_stub.seen("cuMemAlloc_v2");
  printf("FACT: cuMemAlloc via a cuGetProcAddress pointer (%p, dlsym gives %p) seen by CUPTI: %s\n", fp,
         dlsym(d.h, "cuMemAlloc_v2"), after == before + 1 ? "yes" : "no");
  Check(after == before + 1, "a call through a cuGetProcAddress pointer is seen");

  CU(d.cuCtxSynchronize());
  static const char* const kNames[] = {
      "cuDeviceGet", "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent", "cuModuleLoadData",
      "cuModuleGetFunction", "cuMemAlloc_v2", "cuMemFree_v2", "cuOccupancyMaxPotentialBlockSize",
      "cuLaunchKernel", "cuLaunchHostFunc", "cuStreamSynchronize", "cuGetProcAddress_v2",
      "cuCtxSynchronize"};
  printf("FACT: CUPTI reported cuInit: %s (cuDeviceGetCount before cuInit: %s)\n",
         g_stub.seen("cuInit") ? "yes" : "no", g_stub.seen("cuDeviceGetCount") ? "yes" : "no");
  std::string missing;
  for (const char* n : kNames)
    if (g_stub.seen(n) == 0) missing += std::string(" ") + n;
  Check(missing.empty(), "all expected function names seen" + (missing.empty() ? "" : ": missing" + missing));
  uint64_t e, x, xw, mm;
  g_stub.counts(&e, &x, &xw, &mm);
  printf("counts: enter=%llu exit=%llu exit_without_enter=%llu cbid_mismatch=%llu depth(main)=%d\n",
         (unsigned long long)e, (unsigned long long)x, (unsigned long long)xw, (unsigned long long)mm,
         g_stub.depth());
  Check(e == x && xw == 0 && mm == 0 && g_stub.depth() == 0, "enter/exit balanced, nesting consistent");
  printf("names: %s\n", g_stub.names(40));
  if (!g_fail.empty()) {
    printf("FAIL: %zu checks\n", g_fail.size());
    return 1;
  }
  printf("PASS\n");
  return 0;
}

// ---- bench ----
void CUPTIAPI_Empty(void*, int, uint32_t, const void*) {}

void* FindCuptiHandle() {
  const char* env = getenv("LOCKSAN_CUPTI_PATH");
  const char* cands[] = {env, "libcupti.so.13", "/usr/local/cuda/targets/x86_64-linux/lib/libcupti.so.13",
                         "/usr/local/cuda/extras/CUPTI/lib64/libcupti.so", "libcupti.so.12", "libcupti.so"};
  for (const char* c : cands) {
    if (!c || !c[0]) continue;
    std::string path = c;
    if (DIR* dd = opendir(c)) {  // a directory
      closedir(dd);
      path += "/libcupti.so";
    }
    if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
  }
  return nullptr;
}

using SubscribeFn = int (*)(void**, void (*)(void*, int, uint32_t, const void*), void*);
using EnableDomainFn = int (*)(uint32_t, void*, int);

std::atomic<uint64_t> g_own_calls{0};
void OwnCallback(void*, int domain, uint32_t, const void*) {
  if (domain == 1) g_own_calls.fetch_add(1, std::memory_order_relaxed);
}

// own: the program's own empty CUPTI subscriber, for the whole driver-API domain, or (one) for a single
// callback id only (cuOccupancyMaxPotentialBlockSize): whether CUPTI's cost falls on every driver
// call or only on the enabled ones.
using EnableCallbackFn = int (*)(uint32_t, void*, int, uint32_t);
constexpr uint32_t kCbidOccupancyMaxPotentialBlockSize = 384;  // cupti_driver_cbid.h, CUDA 13.0

int ModeBench(long n, bool own, bool one = false) {
  Driver d;
  if (!LoadDriver(d)) {
    printf("SKIP: no libcuda.so.1\n");
    return 0;
  }
  if (own) {
    void* c = FindCuptiHandle();
    if (!c) {
      printf("FAIL: no libcupti for bench-own\n");
      return 1;
    }
    auto sub = reinterpret_cast<SubscribeFn>(dlsym(c, "cuptiSubscribe"));
    auto en = reinterpret_cast<EnableDomainFn>(dlsym(c, "cuptiEnableDomain"));
    void* handle = nullptr;
    int rc = sub(&handle, CUPTIAPI_Empty, nullptr);
    if (rc == 0 && one) {
      auto en1 = reinterpret_cast<EnableCallbackFn>(dlsym(c, "cuptiEnableCallback"));
      rc = en1 ? en1(1, handle, 1, kCbidOccupancyMaxPotentialBlockSize) : -1;
    } else if (rc == 0) {
      rc = en(1, handle, 1);
    }
    if (rc != 0) {
      printf("FAIL: own subscribe: %d\n", rc);
      return 1;
    }
  }
  if (!InitCtx(d, nullptr)) {
    printf("SKIP: no GPU\n");
    return 0;
  }
  Stub s{};
  bool have_stub = LoadStub(s, RTLD_DEFAULT);
  // Under the full library (LD_PRELOAD=liblocksan.so, no stub): pthread_mutex_lock is its.
  Dl_info di{};
  void* lock_fn = dlsym(RTLD_DEFAULT, "pthread_mutex_lock");
  bool full = !have_stub && lock_fn && dladdr(lock_fn, &di) && di.dli_fname && strstr(di.dli_fname, "liblocksan");
  const char* env_label = getenv("LOCKSAN_BENCH_LABEL");
  const char* label = own ? (one ? "own-one-callback" : "own-empty-subscriber")
                      : full ? (env_label ? env_label : "locksan")
                      : !have_stub ? "no-preload"
                      : s.tracker_active() ? "preload-tracking"
                                           : "preload-off";
  CUcontext c;
  CUdevice dev;
  for (int i = 0; i < 10000; ++i) d.cuCtxGetCurrent(&c);  // warm-up
  double best_ctx = 1e18, best_dev = 1e18;
  for (int rep = 0; rep < 5; ++rep) {
    double t0 = NowNs();
    for (long i = 0; i < n; ++i) d.cuCtxGetCurrent(&c);
    double t1 = NowNs();
    for (long i = 0; i < n; ++i) d.cuDeviceGet(&dev, 0);
    double t2 = NowNs();
    best_ctx = std::min(best_ctx, (t1 - t0) / n);
    best_dev = std::min(best_dev, (t2 - t1) / n);
  }
  printf("BENCH %s cuCtxGetCurrent %.1f ns cuDeviceGet %.1f ns (best of 5 x %ld)\n", label, best_ctx,
         best_dev, n);
  if (have_stub) {
    uint64_t e, x, xw, mm;
    s.counts(&e, &x, &xw, &mm);
    printf("BENCH %s stub enters: %llu\n", label, (unsigned long long)e);
  }
  printf("PASS\n");
  return 0;
}

// ---- presub: another subscriber first ----
int ModePresub(const char* module) {
  Driver d;
  if (!LoadDriver(d)) {
    printf("SKIP: no libcuda.so.1\n");
    return 0;
  }
  void* c = FindCuptiHandle();
  if (!c) {
    printf("FAIL: no libcupti found (set LOCKSAN_CUPTI_PATH)\n");
    return 1;
  }
  auto sub = reinterpret_cast<SubscribeFn>(dlsym(c, "cuptiSubscribe"));
  auto en = reinterpret_cast<EnableDomainFn>(dlsym(c, "cuptiEnableDomain"));
  void* handle = nullptr;
  int rc = sub(&handle, OwnCallback, nullptr);
  if (rc == 0) rc = en(1, handle, 1);
  if (rc != 0) {
    printf("FAIL: own subscribe: %d\n", rc);
    return 1;
  }
  void* m = dlopen(module, RTLD_NOW | RTLD_LOCAL);
  if (!m) {
    printf("FAIL: dlopen %s: %s\n", module, dlerror());
    return 1;
  }
  Stub s{};
  if (!LoadStub(s, m)) {
    printf("FAIL: stub API missing in %s\n", module);
    return 1;
  }
  auto start = reinterpret_cast<void (*)()>(dlsym(m, "locksan_stub_maybe_start"));
  start();  // the constructor already tried; this must be a no-op
  start();
  const char* st = s.tracker_status();
  printf("tracker status: %s\n", st);
  if (!InitCtx(d, nullptr)) {
    printf("SKIP: no GPU\n");
    return 0;
  }
  CUdeviceptr p;
  CU(d.cuMemAlloc(&p, 4096));
  CU(d.cuMemFree(p));
  uint64_t e, x, xw, mm;
  s.counts(&e, &x, &xw, &mm);
  printf("own subscriber callbacks: %llu, tracker (stub) enters: %llu\n",
         (unsigned long long)g_own_calls.load(), (unsigned long long)e);
  Check(s.tracker_active() == 0, "tracker not active");
  Check(strstr(st, "in use by another tool") != nullptr, "status says CUPTI is in use by another tool");
  Check(g_own_calls.load() > 0, "the first subscriber still gets its callbacks");
  Check(e == 0, "tracker forwarded nothing");
  if (!g_fail.empty()) {
    printf("FAIL: %zu checks\n", g_fail.size());
    return 1;
  }
  printf("PASS\n");
  return 0;
}

// ---- yield: a later subscriber ----
int ModeYield() {
  if (!LoadStub(g_stub, RTLD_DEFAULT)) {
    printf("FAIL: run under LD_PRELOAD=libsmoke_preload.so\n");
    return 1;
  }
  Driver d;
  if (!LoadDriver(d)) {
    printf("SKIP: no libcuda.so.1\n");
    return 0;
  }
  if (!InitCtx(d, nullptr)) {
    printf("SKIP: no GPU\n");
    return 0;
  }
  Check(g_stub.tracker_active() == 1, "tracker active");
  void* c = FindCuptiHandle();  // same file as the tracker's (already loaded): same handle
  auto real_sub = reinterpret_cast<SubscribeFn>(dlsym(c, "cuptiSubscribe"));
  auto en = reinterpret_cast<EnableDomainFn>(dlsym(c, "cuptiEnableDomain"));
  void* handle = nullptr;
  int rc = real_sub(&handle, OwnCallback, nullptr);
  printf("cuptiSubscribe through the libcupti handle while tracking: %d\n", rc);
  Check(rc == 39, "a second subscriber through the libcupti handle gets 39");
  auto interposed = reinterpret_cast<SubscribeFn>(dlsym(RTLD_DEFAULT, "cuptiSubscribe"));
  rc = interposed(&handle, OwnCallback, nullptr);
  printf("cuptiSubscribe through the global symbol (interposer): %d\n", rc);
  Check(rc == 0, "the global cuptiSubscribe (locksan's interposer) succeeds");
  if (rc == 0) en(1, handle, 1);
  printf("tracker status: %s\n", g_stub.tracker_status());
  Check(g_stub.tracker_active() == 0 && strstr(g_stub.tracker_status(), "gave CUPTI up"),
        "tracker stopped and says so");
  uint64_t e0, x, xw, mm, e1;
  g_stub.counts(&e0, &x, &xw, &mm);
  CUdeviceptr p;
  CU(d.cuMemAlloc(&p, 4096));
  CU(d.cuMemFree(p));
  g_stub.counts(&e1, &x, &xw, &mm);
  Check(e1 == e0, "tracker forwards nothing after yielding");
  Check(g_own_calls.load() > 0, "the new subscriber gets callbacks");
  if (!g_fail.empty()) {
    printf("FAIL: %zu checks\n", g_fail.size());
    return 1;
  }
  printf("PASS\n");
  return 0;
}

// ---- inject: CUDA_INJECTION64_PATH=libsmoke_preload.so, no LD_PRELOAD ----
int ModeInject() {
  const char* path = getenv("CUDA_INJECTION64_PATH");
  if (!path || !path[0]) {
    printf("FAIL: set CUDA_INJECTION64_PATH to libsmoke_preload.so\n");
    return 1;
  }
  Driver d;
  if (!LoadDriver(d)) {
    printf("SKIP: no libcuda.so.1\n");
    return 0;
  }
  void* before = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (!InitCtx(d, nullptr)) {  // cuInit loads the injection library and calls InitializeInjection
    printf("SKIP: no GPU\n");
    return 0;
  }
  void* m = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  Check(before == nullptr && m != nullptr, "cuInit loaded the injection library");
  Stub s{};
  if (!m || !LoadStub(s, m)) {
    printf("FAIL: injection library not loaded or stub API missing\n");
    return 1;
  }
  printf("tracker status: %s\n", s.tracker_status());
  CUdeviceptr p;
  CU(d.cuMemAlloc(&p, 4096));
  CU(d.cuMemFree(p));
  uint64_t e, x, xw, mm;
  s.counts(&e, &x, &xw, &mm);
  printf("FACT: injected via CUDA_INJECTION64_PATH: enter=%llu exit=%llu exit_without_enter=%llu "
         "cuMemAlloc_v2 seen=%llu\n",
         (unsigned long long)e, (unsigned long long)x, (unsigned long long)xw,
         (unsigned long long)s.seen("cuMemAlloc_v2"));
  Check(s.tracker_active() == 1, "tracker active after cuInit");
  Check(s.seen("cuMemAlloc_v2") == 1 && mm == 0, "driver calls after cuInit are seen");
  if (!g_fail.empty()) {
    printf("FAIL: %zu checks\n", g_fail.size());
    return 1;
  }
  printf("PASS\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  const char* mode = argc > 1 ? argv[1] : "driver";
  if (!strcmp(mode, "driver")) return ModeDriver();
  if (!strcmp(mode, "bench")) return ModeBench(argc > 2 ? atol(argv[2]) : 1000000, false);
  if (!strcmp(mode, "bench-own")) return ModeBench(argc > 2 ? atol(argv[2]) : 1000000, true);
  if (!strcmp(mode, "bench-own-one")) return ModeBench(argc > 2 ? atol(argv[2]) : 1000000, true, true);
  if (!strcmp(mode, "presub")) return argc > 2 ? ModePresub(argv[2]) : 2;
  if (!strcmp(mode, "yield")) return ModeYield();
  if (!strcmp(mode, "inject")) return ModeInject();
  fprintf(stderr, "usage: %s driver|bench N|bench-own N|presub MODULE|yield|inject\n", argv[0]);
  return 2;
}
