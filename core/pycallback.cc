// core/pycallback.cc — CapturePyCallback(): see pycallback.h.
#include "core/pycallback.h"

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "core/detector.h"
#include "core/gil.h"
#include "core/output.h"
#include "core/python/callback.h"
#include "core/python/layout.h"
#include "core/stack.h"

namespace locksan {
namespace {

// glibc >= 2.35's lock-free _dl_find_object (struct dl_find_object, <dlfcn.h>), looked up at run time.
struct DlFindObject {
  unsigned long long flags;
  void* map_start;
  void* map_end;
  struct link_map* link_map;
  void* eh_frame;
  unsigned long long reserved[7];
};
using FindObjectFn = int (*)(void*, DlFindObject*);
std::atomic<int> g_find_state{0};  // 0 not looked up, 1 found, 2 absent
FindObjectFn g_find_object;

// ModuleOf — the loaded object that contains `addr` (its link_map; nullptr if none or unknown now).
const link_map* ModuleOf(uptr addr) {
  int st = g_find_state.load(std::memory_order_acquire);
  if (st == 0) {
    LoaderLockScope loader;  // dlsym
    if (!loader.ok()) return nullptr;
    g_find_object = reinterpret_cast<FindObjectFn>(dlsym(RTLD_DEFAULT, "_dl_find_object"));
    st = g_find_object ? 1 : 2;
    g_find_state.store(st, std::memory_order_release);
  }
  if (st == 1) {
    DlFindObject r;
    if (g_find_object(reinterpret_cast<void*>(addr), &r) != 0) return nullptr;
    return r.link_map;
  }
  LoaderLockScope loader;  // dladdr takes the loader lock (glibc < 2.35)
  if (!loader.ok()) return nullptr;
  Dl_info info;
  void* extra = nullptr;
  if (!dladdr1(reinterpret_cast<void*>(addr), &info, &extra, RTLD_DL_LINKMAP)) return nullptr;
  return static_cast<const link_map*>(extra);
}

}  // namespace

bool ModuleRange(uptr addr, uptr* lo, uptr* hi) {
  if (!ModuleOf(addr)) return false;  // also looks _dl_find_object up
  if (g_find_state.load(std::memory_order_acquire) != 1) return false;
  DlFindObject r;
  if (g_find_object(reinterpret_cast<void*>(addr), &r) != 0) return false;
  *lo = reinterpret_cast<uptr>(r.map_start);
  *hi = reinterpret_cast<uptr>(r.map_end);
  return *hi > *lo;
}

namespace {

// A module that enters Python callbacks from libffi closures: ctypes or cffi.
bool IsCallbackModule(const link_map* m) {
  if (!m || !m->l_name) return false;
  const char* base = strrchr(m->l_name, '/');
  base = base ? base + 1 : m->l_name;
  return !strncmp(base, "_ctypes.", 8) || !strncmp(base, "_ctypes_", 8) || !strncmp(base, "_cffi_backend", 13);
}

bool IsLibffi(const link_map* m) {
  if (!m || !m->l_name) return false;
  const char* base = strrchr(m->l_name, '/');
  base = base ? base + 1 : m->l_name;
  return !strncmp(base, "libffi", 6);
}

constexpr int kMaxFrames = 16;
constexpr int kInterpreterFrames = 8;  // take_gil, PyEval_RestoreThread, PyGILState_Ensure, ...
// ctypes: _CallPythonObject, closure_fcn, libffi's ffi_closure_unix64_inner and ffi_closure_unix64;
// cffi: gil_ensure, invoke_callback and libffi's two (linked into _cffi_backend by its wheels).
constexpr int kCallbackFrames = 6;
constexpr int kSlotsPerFrame = 128;  // the words nearest the frame's CFA (its locals and saved registers)

// CallbackFrames — in pcs (the user stack, innermost first), the frames [*first, *end) of a ctypes/cffi
// callback's entry: right outside the interpreter's GIL-taking frames, frames of _ctypes or
// _cffi_backend and then of libffi, and after them the C code that called the callback — not the
// interpreter: a ctypes/cffi call that returns to Python code also takes the GIL back from those
// modules' frames (_ctypes_callproc, cdata_call), but its next frame is the interpreter's.
bool CallbackFrames(const link_map* interp, const uptr* pcs, int n, int* first, int* end) {
  int i = 0;
  while (i < n && i < kInterpreterFrames && ModuleOf(pcs[i] - 1) == interp) i++;
  if (i == 0 || i >= n || i == kInterpreterFrames) return false;
  const link_map* handler = ModuleOf(pcs[i] - 1);
  if (!IsCallbackModule(handler)) return false;
  int j = i + 1;
  for (; j < n && j < i + kCallbackFrames; j++) {
    const link_map* m = ModuleOf(pcs[j] - 1);
    if (m != handler && !IsLibffi(m)) break;
  }
  if (j >= n || j == i + kCallbackFrames || ModuleOf(pcs[j] - 1) == interp) return false;
  *first = i;
  *end = j;
  return true;
}

}  // namespace

u32 CapturePyCallback(const uptr* pcs, int npcs) {
  if (!GilLocated()) return 0;
  const python::internal::ProcessPython* pp = python::internal::Published();
  if (!pp || !pp->function_type || !pp->tuple_type || !pp->type_type) return 0;
  static std::atomic<const link_map*> interp_cache{nullptr};  // the interpreter's object (it stays)
  const link_map* interp = interp_cache.load(std::memory_order_relaxed);
  if (!interp) {
    interp = ModuleOf(reinterpret_cast<uptr>(pp->runtime));
    if (!interp) return 0;
    interp_cache.store(interp, std::memory_order_relaxed);
  }
  // Decided on the stack already captured (a few module look-ups): most GIL takes with a lock held
  // are Python code taking the GIL back, and pay nothing more.
  int first, end;
  if (!CallbackFrames(interp, pcs, npcs, &first, &end)) return 0;
  FrameRegs fr[kMaxFrames];
  const int n = CaptureFrameRegs(fr, kMaxFrames);
  if (n < end) return 0;
  for (int k = 0; k < end; k++)
    if (fr[k].pc != pcs[k]) return 0;  // not the same frames (cannot happen; be sure)
  // Candidates, in order: each callback frame's callee-saved registers, then its stack slots (the
  // closure's user data and its cif are kept there by libffi: DescribeCallback wants both).
  uptr words[kCallbackFrames * (kFrameRegsSaved + kSlotsPerFrame)];
  int nw = 0;
  const uptr here = reinterpret_cast<uptr>(&fr[kMaxFrames]);  // this frame: the callers' lie above
  for (int j = first; j < end; j++) {
    for (int r = 0; r < kFrameRegsSaved; r++) words[nw++] = fr[j].regs[r];
    uptr lo = fr[j].sp, hi = fr[j].cfa;
    if (lo <= here || hi <= lo || (lo & 7)) continue;  // this thread's live stack only, above this frame
    if (hi - lo > kSlotsPerFrame * sizeof(uptr)) lo = hi - kSlotsPerFrame * sizeof(uptr);  // not alloca's
    int k = static_cast<int>((hi - lo) / sizeof(uptr));
    if (python::SafeRead(lo, words + nw, k * sizeof(uptr))) nw += k;
  }
  python::CallbackTypes types;
  types.function_type = pp->function_type;
  types.method_type = pp->method_type;
  types.tuple_type = pp->tuple_type;
  types.type_type = pp->type_type;
  python::PyFrameRec rec;
  if (python::DescribeCallback(words, nw, types, &rec) == python::CallbackVia::kNone) {
    // Said once (verbosity=1): an entry through _ctypes/_cffi_backend whose callable was not found.
    static std::atomic<bool> said{false};
    if (GetFlags().verbosity >= 1 && !said.exchange(true))
      OutputPrintf("==%d==locksan: Python: a ctypes/cffi callback is entered but its function was not found "
                   "in its C frames (%d candidate words): reports show no 'Python callback:' line\n",
                   getpid(), nw);
    return 0;
  }
  return PyStackDepotPut(&rec, 1);
}

}  // namespace locksan
