// C++: std::mutex with std::lock_guard in one order and std::unique_lock in the other, from member
// functions of a class in a namespace: reported, and the frames show demangled C++ names and the
// user's source lines.
//
// EXPECT-EXIT: 66
// EXPECT-REPORTS: lock-order-inversion=1
// NATIVE-SAME-OUTPUT
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T2 .*\n(    #.*\n)*?    #\d+ bank::Account::transfer_back\(bank::Account&, int\) .*cxx_mutex\.cc:%line(BACK_SECOND)\b
// CHECK: ^  Mutex M\d+ acquired here while holding mutex M\d+, in thread T1 .*\n(    #.*\n)*?    #\d+ bank::Account::transfer_to\(bank::Account&, int\) .*cxx_mutex\.cc:%line(TO_SECOND)\b
// CHECK: ^  Mutex M\d+ \(0x[0-9a-f]+, mutex\): global 'bank::savings' in 
// CHECK: ^  Mutex M\d+ \(0x[0-9a-f]+, mutex\): global 'bank::checking' in 
// CHECK: ^    #\d+ std::thread::thread<main::\{lambda\(\)#2\}
// CHECK: ^SUMMARY: locksan: lock-order-inversion 
// CHECK-NOT: _ZN
//
// VARIANT: acquire_stacks
// acquire_stacks=1 keeps the full stack of every acquisition: the "previously acquired" stacks show
// the first lock's own line.
// RUN-OPTIONS: acquire_stacks=1
// CLEAR: CHECK
// CHECK: ^  Mutex M\d+ previously acquired by the same thread here( \(.*\))?:\n(    #.*\n)*?    #\d+ bank::Account::transfer_back\(bank::Account&, int\) .*cxx_mutex\.cc:%line(BACK_FIRST)\b
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
