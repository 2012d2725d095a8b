// std::scoped_lock(a, b) in one thread and std::scoped_lock(b, a) in another, concurrently. std::lock's
// deadlock avoidance blocks only on the first lock and try-locks the others (backing off on failure),
// so no thread ever blocks on a lock while holding another: no edge, no report.
//
// NATIVE-SAME-OUTPUT
// EXPECT-NO-STDERR
#include <cstdio>
#include <mutex>
#include <thread>

std::mutex a, b;
long counter = 0;

int main() {
  std::thread t1([] {
    for (int i = 0; i < 20000; i++) {
      std::scoped_lock lk(a, b);
      counter++;
    }
  });
  std::thread t2([] {
    for (int i = 0; i < 20000; i++) {
      std::scoped_lock lk(b, a);
      counter++;
    }
  });
  t1.join();
  t2.join();
  // And std::lock directly, both orders, one thread.
  std::lock(a, b);
  a.unlock();
  b.unlock();
  std::lock(b, a);
  b.unlock();
  a.unlock();
  std::printf("counter=%ld\n", counter);
  return 0;
}
