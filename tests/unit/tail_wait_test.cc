// TailWaitPending and HeldEntryIsPending (core/detector.cc): a wait that pthread_mutex_lock's tail
// path published (kWaitTail) still waits iff the waiter's top held entry is that mutex and the
// mutex's owner field is not the waiter. The owner is read with process_vm_readv, so that a mutex in
// memory given back to the system does not fault the reader (the watchdog), and directly, while the
// lock's record is current, where that system call is refused.
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include <gtest/gtest.h>

#include "core/detector.h"

namespace locksan {
namespace {

int MyTid() { return static_cast<int>(syscall(SYS_gettid)); }

// A thread state whose only held entry is `m` (record `li`), with a tail wait on it published.
std::unique_ptr<ThreadState> Waiter(pthread_mutex_t* m, LockInfo* li, int tid) {
  auto t = std::make_unique<ThreadState>();
  HeldLock& h = t->held[0];
  h.addr = reinterpret_cast<uptr>(m);
  h.lock = li;
  h.gen = li->gen.load();
  t->top = t->held + 1;
  t->tid = tid;
  t->wait_addr.store(h.addr | kWaitTail);
  return t;
}

TEST(TailWait, PendingOnlyWhileTheTopEntryIsTheMutexAndAnotherThreadOwnsIt) {
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  LockInfo li;
  int other = MyTid() + 1;  // not a thread of ours: only compared with the owner field
  auto t = Waiter(&m, &li, other);
  uptr wait = reinterpret_cast<uptr>(&m) | kWaitTail;

  ASSERT_EQ(pthread_mutex_lock(&m), 0);  // owned by this thread, not by t
  EXPECT_TRUE(TailWaitPending(t.get(), wait));
  EXPECT_TRUE(HeldEntryIsPending(t.get(), 0, 1));
  t->tid = MyTid();  // t is the owner: it holds the mutex, its publication is stale
  EXPECT_FALSE(TailWaitPending(t.get(), wait));
  EXPECT_FALSE(HeldEntryIsPending(t.get(), 0, 1));
  ASSERT_EQ(pthread_mutex_unlock(&m), 0);

  t->tid = other;  // free (owner 0): t is about to take it, it does not hold it
  EXPECT_TRUE(TailWaitPending(t.get(), wait));
  // Only the top entry of a tail wait can be pending: not an entry below it, not an untagged wait.
  EXPECT_FALSE(HeldEntryIsPending(t.get(), 0, 2));
  t->wait_addr.store(reinterpret_cast<uptr>(&m));
  EXPECT_FALSE(HeldEntryIsPending(t.get(), 0, 1));
  // Popped since (an unlock): the publication is stale.
  t->top = t->held;
  EXPECT_FALSE(TailWaitPending(t.get(), wait));
}

bool ProcessVmReadvWorks() {
  int src = 1, dst = 0;
  struct iovec l = {&dst, sizeof dst}, r = {&src, sizeof src};
  return syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 0) == sizeof dst && dst == 1;
}

TEST(TailWait, AMutexInUnmappedMemoryIsNotWaitedForAndDoesNotFault) {
  if (!ProcessVmReadvWorks()) GTEST_SKIP() << "process_vm_readv is refused here (the direct read is then used)";
  long page = sysconf(_SC_PAGESIZE);
  void* mem = mmap(nullptr, static_cast<size_t>(page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* m = new (mem) pthread_mutex_t(PTHREAD_MUTEX_INITIALIZER);
  LockInfo li;
  auto t = Waiter(m, &li, MyTid() + 1);
  uptr wait = reinterpret_cast<uptr>(m) | kWaitTail;
  ASSERT_EQ(pthread_mutex_lock(m), 0);
  EXPECT_TRUE(TailWaitPending(t.get(), wait));
  ASSERT_EQ(munmap(mem, static_cast<size_t>(page)), 0);  // the program freed a mutex it held
  // The record is still current (the unmapping was not seen): only process_vm_readv keeps the
  // reader from faulting here.
  EXPECT_FALSE(TailWaitPending(t.get(), wait));
}

// In a child whose seccomp filter makes process_vm_readv fail with EPERM: the owner is read directly
// while the entry's record is current (gen unchanged), and the wait is not trusted once it is not.
TEST(TailWait, WithoutProcessVmReadvTheOwnerIsReadWhileTheRecordIsCurrent) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
      _exit(77);  // no seccomp here
    int dummy = 0, out = 0;
    struct iovec l = {&out, sizeof out}, r = {&dummy, sizeof dummy};
    if (syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 0) != -1 || errno != EPERM) _exit(3);
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    LockInfo li;
    auto t = Waiter(&m, &li, MyTid() + 1);
    uptr wait = reinterpret_cast<uptr>(&m) | kWaitTail;
    if (pthread_mutex_lock(&m) != 0) _exit(4);
    if (!TailWaitPending(t.get(), wait)) _exit(5);  // read directly: owned by another thread
    t->tid = MyTid();
    if (TailWaitPending(t.get(), wait)) _exit(6);  // the owner
    t->tid = MyTid() + 1;
    li.gen.fetch_add(1);  // the record was recycled: the memory may be gone, so it is not read
    if (TailWaitPending(t.get(), wait)) _exit(7);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "seccomp filters are not available here";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "child check that failed: exit code";
}

}  // namespace
}  // namespace locksan
