// tests/report/progs/escape.cc — a report full of characters that JSON, XML, logfmt and dot must
// escape: a thread name with a quote, a backslash, a tab, a control byte and a byte that is not
// UTF-8, and a C++ template function name with spaces, '<', '>' and ','.
#include <pthread.h>

struct Account {
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
};
Account checking, savings;

template <typename T>
__attribute__((noinline)) void take_both(T* first, T* second) {
  pthread_mutex_lock(&first->m);
  pthread_mutex_lock(&second->m);
  pthread_mutex_unlock(&second->m);
  pthread_mutex_unlock(&first->m);
}

static void* body(void*) {
  pthread_setname_np(pthread_self(), "q\"b\\\t\x01\xff<&>");
  take_both(&checking, &savings);
  take_both(&savings, &checking);
  return nullptr;
}

int main() {
  pthread_t t;
  pthread_create(&t, nullptr, body, nullptr);
  pthread_join(t, nullptr);
  return 0;
}
