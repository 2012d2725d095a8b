// Report locations for C++ locks. std::mutex::lock reaches pthread_mutex_lock through libstdc++'s
// wrappers (std::mutex::lock, __gthread_mutex_lock in gthr-default.h), which are compiled into the
// program (out of line at -O0, inlined at -O2). Every place a report names -- the "previously
// acquired" stacks, the "first locked at" lines and the SUMMARY -- must still point at the user's
// source lines, not at the wrapper.
//
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T2 .*\n(    #.*\n)*?    #\d+ bank::Account::transfer_back\(bank::Account&, int\) .*cxx_report_locations\.cc:%line(BACK_SECOND)\b
// CHECK: ^  Mutex M\d+ previously acquired by the same thread here \(the call site is exact; outer frames are shared with the stack above: acquire_stacks=1 records the whole stack\):\n(    #.*\n)*?    #\d+ bank::Account::transfer_back\(bank::Account&, int\) .*cxx_report_locations\.cc:\d+\b
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T1 .*\n(    #.*\n)*?    #\d+ bank::Account::transfer_to\(bank::Account&, int\) .*cxx_report_locations\.cc:%line(TO_SECOND)\b
// CHECK: ^  Mutex M\d+ previously acquired by the same thread here \(the call site is exact; outer frames are shared with the stack above: acquire_stacks=1 records the whole stack\):\n(    #.*\n)*?    #\d+ bank::Account::transfer_to\(bank::Account&, int\) .*cxx_report_locations\.cc:\d+\b
// CHECK: ^  Mutex M\d+ \(0x[0-9a-f]+, mutex\): global 'bank::savings' in [^;]*; first locked at bank::Account::transfer_to\(bank::Account&, int\) .*cxx_report_locations\.cc:%line(TO_SECOND)\b
// CHECK: ^  Mutex M\d+ \(0x[0-9a-f]+, mutex\): global 'bank::checking' in [^;]*; first locked at bank::Account::transfer_to\(bank::Account&, int\) .*cxx_report_locations\.cc:%line(TO_FIRST)\b
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*cxx_report_locations\.cc:%line(BACK_SECOND) in bank::Account::transfer_back\(bank::Account&, int\)$
//
// With -O0 the std::mutex wrappers are real frames, and a "previously acquired" stack is exact only
// up to its call site unless acquire_stacks=1 records it whole:
// VARIANT: exact
// RUN-OPTIONS: acquire_stacks=1
// CLEAR: CHECK
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T2 .*\n(    #.*\n)*?    #\d+ bank::Account::transfer_back\(bank::Account&, int\) .*cxx_report_locations\.cc:%line(BACK_SECOND)\b
// CHECK: ^  Mutex M\d+ previously acquired by the same thread here( \(.*\))?:\n(    #.*\n)*?    #\d+ bank::Account::transfer_back\(bank::Account&, int\) .*cxx_report_locations\.cc:%line(BACK_FIRST)\b
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T1 .*\n(    #.*\n)*?    #\d+ bank::Account::transfer_to\(bank::Account&, int\) .*cxx_report_locations\.cc:%line(TO_SECOND)\b
// CHECK: ^  Mutex M\d+ previously acquired by the same thread here( \(.*\))?:\n(    #.*\n)*?    #\d+ bank::Account::transfer_to\(bank::Account&, int\) .*cxx_report_locations\.cc:%line(TO_FIRST)\b
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*cxx_report_locations\.cc:%line(BACK_SECOND) in bank::Account::transfer_back\(bank::Account&, int\)$
//
// With -O2 the wrappers are inlined into the user's function: the inlined frames are expanded (like
// addr2line -i) and the call site alone gives the user's line.
// VARIANT: O2
// CFLAGS: -O2
// CLEAR: CHECK
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T2 .*\n(    #.*\n)*?    #\d+ bank::Account::transfer_back\(bank::Account&, int\) .*cxx_report_locations\.cc:%line(BACK_SECOND)\b
// CHECK: ^  Mutex M\d+ previously acquired by the same thread here.*:\n(    #.*\n)*?    #\d+ bank::Account::transfer_back\(bank::Account&, int\) .*cxx_report_locations\.cc:%line(BACK_FIRST)\b
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T1 .*\n(    #.*\n)*?    #\d+ bank::Account::transfer_to\(bank::Account&, int\) .*cxx_report_locations\.cc:%line(TO_SECOND)\b
// CHECK: ^  Mutex M\d+ previously acquired by the same thread here.*:\n(    #.*\n)*?    #\d+ bank::Account::transfer_to\(bank::Account&, int\) .*cxx_report_locations\.cc:%line(TO_FIRST)\b
// CHECK: ^SUMMARY: locksan: lock-order-inversion .*cxx_report_locations\.cc:%line(BACK_SECOND) in bank::Account::transfer_back\(bank::Account&, int\)$
#include <cstdio>
#include <mutex>
#include <thread>

namespace bank {

struct Account {
  std::mutex& mu;
  int balance;
  void transfer_to(Account& other, int amount);
  void transfer_back(Account& other, int amount);
};

__attribute__((noinline)) void Account::transfer_to(Account& other, int amount) {
  std::lock_guard<std::mutex> mine(mu);  // @TO_FIRST
  std::lock_guard<std::mutex> theirs(other.mu);  // @TO_SECOND
  balance -= amount;
  other.balance += amount;
}

__attribute__((noinline)) void Account::transfer_back(Account& other, int amount) {
  std::unique_lock<std::mutex> theirs(other.mu);  // @BACK_FIRST
  std::unique_lock<std::mutex> mine(mu);  // @BACK_SECOND
  other.balance -= amount;
  balance += amount;
}

std::mutex checking, savings;

}  // namespace bank

int main() {
  bank::Account c{bank::checking, 100}, s{bank::savings, 100};
  std::thread([&] { c.transfer_to(s, 10); }).join();
  std::thread([&] { c.transfer_back(s, 5); }).join();
  std::printf("%d %d\n", c.balance, s.balance);
  return 0;
}
