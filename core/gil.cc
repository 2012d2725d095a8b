#include "core/gil.h"

#include <dlfcn.h>

#include <atomic>
#include <cstring>

#include "core/cuda.h"
#include "core/flat_map.h"
#include "core/internal_alloc.h"
#include "core/output.h"
#include "core/pycallback.h"
#include "core/python/gil.h"
#include "core/runtime_mutex.h"

namespace locksan {

uptr g_gil_mutex = 0;
uptr g_gil_cond = 0;
uptr g_gil_switch_mutex = 0;
uptr g_gil_switch_cond = 0;
uptr g_gil_lock_addr = 0;
const volatile int* g_gil_locked = nullptr;
const char* const volatile* g_gil_holder = nullptr;
int g_ts_thread_id_off = 0;
bool g_gil_trace = false;

namespace {

std::atomic<int> g_state{0};  // 0: no CPython, 1: CPython present, not located yet, 2: located, 3: refused
const char* g_status = "no CPython in this process";
RuntimeMutex g_locate_mu;
std::atomic<uptr> g_interp_lo{0}, g_interp_hi{0};

// NoteInterpreterRange — the interpreter's own code (libpython, or a static interpreter's
// executable): where CPython's locks are taken (InInterpreterCode). Py_IsInitialized is in it either
// way. Known as soon as CPython is, also where its GIL is not tracked (3.6).
void NoteInterpreterRange() {
  if (g_interp_hi.load(std::memory_order_acquire)) return;
  uptr lo = 0, hi = 0;
  if (void* probe = dlsym(RTLD_DEFAULT, "Py_IsInitialized"))
    if (ModuleRange(reinterpret_cast<uptr>(probe), &lo, &hi)) {
      g_interp_lo.store(lo, std::memory_order_relaxed);
      g_interp_hi.store(hi, std::memory_order_release);
    }
}

void TryLocate() {
  RuntimeLockGuard lock(&g_locate_mu);
  if (g_state.load(std::memory_order_acquire) != 1) return;
  python::GilInfo info;
  const char* why = nullptr;
  if (!python::LocateGil(&info, &why)) {
    g_status = why ? why : "CPython GIL not found";
    // "not initialised yet" is temporary; anything else is final.
    if (why && strncmp(why, "CPython not initialised yet", 27) != 0 && strncmp(why, "no CPython", 10) != 0)
      g_state.store(3, std::memory_order_release);
    return;
  }
  g_gil_switch_mutex = reinterpret_cast<uptr>(info.switch_mutex);
  g_gil_switch_cond = reinterpret_cast<uptr>(info.switch_cond);
  g_gil_locked = info.locked;
  g_gil_holder = info.last_holder;
  g_ts_thread_id_off = info.ts_thread_id_offset;
  g_gil_trace = GetFlags().verbosity >= 3;
  g_gil_lock_addr = reinterpret_cast<uptr>(info.locked);
  g_gil_cond = reinterpret_cast<uptr>(info.cond);
  __atomic_store_n(&g_gil_mutex, reinterpret_cast<uptr>(info.mutex), __ATOMIC_RELEASE);
  NoteInterpreterRange();
  g_status = "CPython GIL tracked";
  g_state.store(2, std::memory_order_release);
}

// ---------------------------------------------------------------------------------------------
// Python stack depot
// ---------------------------------------------------------------------------------------------
constexpr int kMaxPyFrames = 24;

struct PyRec {
  PyRec* next;
  u64 hash;
  u32 size;
  u32 id;  // depot id (index in by_id + 1)
  python::PyFrameRec frames[1];
};

struct PyDepot {
  RuntimeMutex mu;
  FlatMap<PyRec*> by_hash;
  PtrVec<PyRec*> by_id;  // id - 1
};
PyDepot* g_pydepot;

PyDepot* Depot() {
  static RuntimeMutex init_mu;
  PyDepot* d = __atomic_load_n(&g_pydepot, __ATOMIC_ACQUIRE);
  if (d) return d;
  RuntimeLockGuard lock(&init_mu);
  if (!g_pydepot) __atomic_store_n(&g_pydepot, InternalNew<PyDepot>(), __ATOMIC_RELEASE);
  return g_pydepot;
}

u64 HashFrames(const python::PyFrameRec* f, int n) {
  u64 h = 0x51ed27a3ULL ^ static_cast<u64>(n);
  for (int i = 0; i < n; i++) {
    h = Mix64(h ^ static_cast<u64>(f[i].line));
    for (const char* p = f[i].file; *p; p++) h = h * 131 + static_cast<u8>(*p);
    for (const char* p = f[i].function; *p; p++) h = h * 131 + static_cast<u8>(*p);
  }
  return h | 1;
}

// The records' strings are NUL-terminated: the bytes after the NUL are whatever the capture's buffer
// held (comparing whole records with memcmp made every capture a new record).
bool SameFrames(const python::PyFrameRec* a, const python::PyFrameRec* b, int n) {
  for (int i = 0; i < n; i++)
    if (a[i].line != b[i].line || strcmp(a[i].file, b[i].file) || strcmp(a[i].function, b[i].function))
      return false;
  return true;
}

}  // namespace

u32 PyStackDepotPut(const python::PyFrameRec* frames, int n) {
  if (n <= 0) return 0;
  if (n > kMaxPyFrames) n = kMaxPyFrames;
  PyDepot* d = Depot();
  u64 h = HashFrames(frames, n);
  RuntimeLockGuard lock(&d->mu);
  PyRec** head = d->by_hash.Find(h);
  for (PyRec* r = head ? *head : nullptr; r; r = r->next)
    if (r->hash == h && r->size == static_cast<u32>(n) && SameFrames(r->frames, frames, n)) return r->id;
  PyRec* r = static_cast<PyRec*>(InternalAlloc(sizeof(PyRec) + (n - 1) * sizeof(python::PyFrameRec)));
  r->hash = h;
  r->size = static_cast<u32>(n);
  memcpy(r->frames, frames, n * sizeof(python::PyFrameRec));
  r->next = head ? *head : nullptr;
  d->by_hash.Insert(h, r);
  d->by_id.push_back(r);
  r->id = d->by_id.size();
  return r->id;
}

PyStack PyStackDepotGet(u32 id) {
  if (!id) return {0, nullptr};
  PyDepot* d = Depot();
  RuntimeLockGuard lock(&d->mu);
  if (id > d->by_id.size()) return {0, nullptr};
  PyRec* r = d->by_id[id - 1];
  return {r->size, r->frames};
}

void GilForkLock() {
  g_locate_mu.Lock();
  Depot()->mu.Lock();
}

void GilForkUnlock(bool child) {
  if (child) {
    Depot()->mu.ResetAfterFork();
    g_locate_mu.ResetAfterFork();
  } else {
    Depot()->mu.Unlock();
    g_locate_mu.Unlock();
  }
}

// ---------------------------------------------------------------------------------------------
// Per-thread memo of captured Python stacks
// ---------------------------------------------------------------------------------------------
// Decoding a frame (its file and function names from str objects, its line from the line table) and
// storing the decoded stack (hashing and comparing ~9 KiB of records under the depot's lock) cost
// ~1.5k instructions a frame; reading the frames' keys (code object, instruction offset, a digest of
// the code object's names) costs a few loads. A thread that makes new edges again and again from the
// same Python code (a new lock per item of a loop) captures the same Python stack each time: the
// memo maps the keys of the last few stacks this thread stored to their depot ids, and a capture
// whose keys are all equal returns that id without decoding anything. Equal keys decode to equal
// records (pystack.h), so the id is the one decoding would have found. Allocated at a thread's first
// capture, kept with its ThreadState (recycled states keep it).
constexpr int kPyMemoEntries = 4;
struct PyStackMemo {
  struct Entry {
    u64 hash;
    u32 n;
    u32 id;
    python::PyFrameKey keys[kMaxPyFrames];
  } e[kPyMemoEntries];
};

namespace {

u64 HashKeys(const python::PyFrameKey* k, int n) {
  u64 h = 0x6a09e667f3bcc909ULL ^ static_cast<u64>(n);
  for (int i = 0; i < n; i++)
    h = Mix64(h ^ reinterpret_cast<uptr>(k[i].code) ^ (k[i].check * 0x9e3779b97f4a7c15ULL) ^
              (static_cast<u64>(static_cast<u32>(k[i].addr)) << 47));
  return h;
}

bool SameKeys(const python::PyFrameKey* a, const python::PyFrameKey* b, int n) {
  for (int i = 0; i < n; i++)
    if (a[i].code != b[i].code || a[i].addr != b[i].addr || a[i].check != b[i].check) return false;
  return true;
}

}  // namespace

u32 CapturePyStack() {
  if (g_state.load(std::memory_order_acquire) != 2) return 0;
  ThreadState* ts = t_local.ts;
  python::PyFrameKey keys[kMaxPyFrames];
  int n = python::CaptureOwnStackKeys(keys, kMaxPyFrames);
  if (n <= 0) return 0;
  u64 h = HashKeys(keys, n);
  PyStackMemo::Entry* slot = nullptr;
  if (ts) {
    if (!ts->py_memo) ts->py_memo = InternalNew<PyStackMemo>();
    slot = &ts->py_memo->e[h % kPyMemoEntries];
    if (slot->id && slot->hash == h && slot->n == static_cast<u32>(n) && SameKeys(slot->keys, keys, n))
      return slot->id;
  }
  python::PyFrameRec frames[kMaxPyFrames];
  python::DecodeFrameKeys(keys, n, frames);
  u32 id = PyStackDepotPut(frames, n);
  if (slot && id) {
    slot->hash = h;
    slot->n = static_cast<u32>(n);
    slot->id = id;
    memcpy(static_cast<void*>(slot->keys), keys, n * sizeof keys[0]);
  }
  return id;
}

u64 PyStackKey() {
  if (g_state.load(std::memory_order_acquire) != 2) return 0;
  python::PyFrameKey keys[8];
  int n = python::CaptureOwnStackKeys(keys, 8);
  return n > 0 ? HashKeys(keys, n) | 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// GIL
// ---------------------------------------------------------------------------------------------
void GilInit() {
  if (dlsym(RTLD_DEFAULT, "Py_IsInitialized") || dlsym(RTLD_DEFAULT, "_PyRuntime")) {
    g_state.store(1, std::memory_order_release);
    g_status = "CPython not initialised yet";
    NoteInterpreterRange();
  }
}

bool GilLocated() { return g_state.load(std::memory_order_acquire) == 2; }

bool InInterpreterCode(uptr pc) {
  uptr hi = g_interp_hi.load(std::memory_order_acquire);
  return hi && pc >= g_interp_lo.load(std::memory_order_relaxed) && pc < hi;
}
const char* GilStatus() { return g_status; }

bool GilIsInternal(uptr addr) {
  int st = g_state.load(std::memory_order_acquire);
  if (st == 1) {
    TryLocate();
    st = g_state.load(std::memory_order_acquire);
  }
  if (st != 2) return false;
  return addr == g_gil_mutex || addr == g_gil_switch_mutex || addr == g_gil_cond ||
         addr == g_gil_switch_cond;
}

void GilTrace(ThreadState* ts, int locked) {
  OutputPrintf("locksan: gil unlock T%u holds=%d taking=%d locked=%d owner=%d nheld=%u\n", ts->number,
               ts->holds_gil, ts->gil_taking, locked, python::CurrentThreadHoldsGil(), ts->Nheld());
}

}  // namespace locksan
