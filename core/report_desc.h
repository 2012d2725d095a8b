// core/report_desc.h — the plain data of one report.
//
// The detector fills a ReportDesc under its lock (copying everything it needs: a report never points
// into live detector structures); printers (report/) turn it into text after the lock is released.
#pragma once
#include "core/common.h"
#include "core/lock_graph.h"
#include "core/ptr_vec.h"

namespace locksan {

enum class ReportKind : u8 {
  kLockOrderInversion,
  kDoubleLock,
  kBadUnlock,
  kDeadlock,
  kLongWait,
  kPythonCallbackInDriverCall,
};

// ReportKindName — the fixed lowercase word of the headline: "lock-order-inversion", ...
const char* ReportKindName(ReportKind k);
// ReportKindDetail — the headline's parenthesised explanation.
const char* ReportKindDetail(ReportKind k);

enum class LockKind : u8 {
  kMutex,
  kRecursiveMutex,
  kErrorCheckMutex,
  kRwlock,
  kSpin,
  kSemaphore,
  kGil,
  kCudaStream,  // pseudo-lock: work queued on CUDA streams (held by host functions while they run)
  kInternal,  // not tracked: e.g. the GIL's own mutexes, semaphores that are not binary
};
const char* LockKindName(LockKind k);  // "mutex", "rwlock", "GIL", ...

struct ReportLock {
  u64 id;
  uptr addr;
  LockKind kind;
  uptr first_pc;         // return address of its first acquisition
  u32 first_stack;       // a short stack of it (0 if none)
  u32 first_thread;
  const char* driver_call;  // driver API in progress when first used, or nullptr
  u64 class_locks;          // lock_identity=site: the locks of its class so far (0: a lock of its own);
                            // the other fields describe the first of them
};

struct ReportEdge {
  u64 from;
  u64 to;
  EdgeFacts facts;
};

struct ReportThread {
  u32 number;
  int tid;
  char name[16];
  u32 creation_stack;
  u32 parent;
  bool alive;
  u32 current_stack;     // deadlock/long-wait: the thread's stack now (0 if it could not be taken)
  u32 current_py_stack;  // ... and its Python stack (core/gil.h depot), 0 if none
};

// ReportWait — deadlock / long-wait: one blocked thread.
struct ReportWait {
  u32 thread;
  u64 lock_id;
  uptr lock_addr;
  LockKind lock_kind;
  u8 mode;               // AcquireMode wanted
  u32 waited_ms;         // at least this long
  u32 holder;            // a thread that holds the lock
  bool holder_exited;    // ... and has exited while holding it
  uptr wait_pc;          // the blocking call
  const char* driver_call;
};

// ReportHeld — a lock held by a thread of a deadlock report.
struct ReportHeld {
  u32 thread;
  u64 lock_id;
  uptr lock_addr;
  LockKind kind;
  u8 mode;
  uptr pc;               // where it was acquired
};

struct ReportDesc {
  ReportKind kind = ReportKind::kLockOrderInversion;
  PtrVec<ReportLock> locks;      // every lock mentioned
  PtrVec<ReportEdge> edges;      // the cycle, in order (lock-order-inversion)
  PtrVec<ReportThread> threads;  // every thread mentioned
  bool single_thread = false;    // every edge of the cycle was made by one thread
  u64 common_gate = 0;           // a shared lock held on every edge (reported with report_gate_locks=1)
  // double-lock / bad unlock: the lock, the current stack and where it was taken before.
  u32 current_thread = 0;
  u32 current_stack = 0;
  u32 current_py_stack = 0;
  u32 current_py_callback = 0;   // python-callback-in-driver-call: the callback (core/pycallback.h)
  u32 previous_stack = 0;
  const char* current_driver_call = nullptr;
  u64 signature = 0;             // deduplication key
  // deadlock / long-wait
  PtrVec<ReportWait> waits;
  PtrVec<ReportHeld> held;
  u32 predicted_by = 0;          // number of the lock-order-inversion report that predicted this
  u32 number = 0;                // this report's number in the process (1, 2, ...), set when printed

  const ReportLock* FindLock(u64 id) const {
    for (const ReportLock& l : locks)
      if (l.id == id) return &l;
    return nullptr;
  }
  const ReportThread* FindThread(u32 n) const {
    for (const ReportThread& t : threads)
      if (t.number == n) return &t;
    return nullptr;
  }
};

}  // namespace locksan
