// core/common.h — small definitions shared by every part of the runtime.
#pragma once
#include <cstddef>
#include <cstdint>

#define LOCKSAN_EXPORT extern "C" __attribute__((visibility("default")))
#define LOCKSAN_LIKELY(x) __builtin_expect(!!(x), 1)
#define LOCKSAN_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LOCKSAN_NOINLINE __attribute__((noinline))
#define LOCKSAN_ALWAYS_INLINE inline __attribute__((always_inline))
// The hottest interceptors start on a 64-byte line: where a function starts decided how many 32-byte
// windows its fast path spans, and a layout change elsewhere (3f98a9f moved pthread_mutex_lock from
// a 64-byte to a 16-byte boundary) made two threads on this machine's CPUs spend 8-13% more CPU time
// per nested pair (pair_bench -s -t 2; one thread unchanged). docs/design.md, "The fast path".
#define LOCKSAN_HOT_ENTRY __attribute__((aligned(64)))
// Code that may run before a sanitizer runtime that locksan is built with (LOCKSAN_SANITIZE) has set
// up its shadow memory: an interceptor the sanitizer's own start-up calls.
#define LOCKSAN_NO_SANITIZE __attribute__((no_sanitize("address", "undefined")))

namespace locksan {

using u8 = uint8_t;
using u16 = uint16_t;
using u32 = uint32_t;
using u64 = uint64_t;
using uptr = uintptr_t;

constexpr size_t kCacheLine = 64;

// Mix64 — a strong 64-bit mixer (the splitmix64 finaliser); used for hashing ids and chains.
LOCKSAN_ALWAYS_INLINE u64 Mix64(u64 x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// RawWrite — write(2) the whole buffer, retrying on EINTR/short writes. Never allocates.
void RawWrite(int fd, const char* buf, size_t len);

// RawPrintf-style formatting into a caller buffer is done with vsnprintf, which is async-safe enough for
// our needs (no locale-dependent conversions are used: no %ls, no %f in hot paths).

// Die — a fatal internal error: print one line and _exit. Used only for broken invariants.
[[noreturn]] void Die(const char* msg);

}  // namespace locksan
