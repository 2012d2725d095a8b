// core/ptr_map.h — an open-addressing hash set of pointers to records that carry their own 64-bit
// key (KeyOf reads it), on internal memory. A slot is 8 bytes: the pointer in the low 48 bits and
// 16 bits of the key's hash above it, so a lookup reads a record only when those bits match. Half the
// memory of a FlatMap<T*> (which stores the key beside the pointer). Not thread-safe: callers hold
// the lock that owns the map. Deletion uses backward shift (no tombstones).
//   u64 AddrOf(const LockInfo* l);  PtrMap<LockInfo, AddrOf> by_addr;
//   by_addr.Insert(li);  if (LockInfo* l = by_addr.Find(addr)) ...;  by_addr.Erase(addr);
#pragma once
#include "core/common.h"
#include "core/internal_alloc.h"

namespace locksan {

template <typename T, u64 (*KeyOf)(const T*)>
class PtrMap {
 public:
  PtrMap() = default;
  ~PtrMap() { InternalFree(slots_, cap_ * sizeof(u64)); }
  PtrMap(const PtrMap&) = delete;
  PtrMap& operator=(const PtrMap&) = delete;

  size_t size() const { return size_; }
  size_t MemoryBytes() const { return cap_ * sizeof(u64); }

  T* Find(u64 key) const {
    if (!cap_) return nullptr;
    u64 h = Mix64(key);
    u64 tag = h & kTagMask;
    size_t mask = cap_ - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      u64 s = slots_[i];
      if (!s) return nullptr;
      if ((s & kTagMask) == tag && KeyOf(Ptr(s)) == key) return Ptr(s);
    }
  }

  // Insert — adds a record whose key is not in the map yet.
  void Insert(T* p) {
    if ((size_ + 1) * 4 > cap_ * 3) Grow();
    Place(p);
    size_++;
  }

  // Erase — removes the record with this key (every record in the map must still carry its key).
  bool Erase(u64 key) {
    if (!cap_) return false;
    u64 h = Mix64(key);
    u64 tag = h & kTagMask;
    size_t mask = cap_ - 1;
    size_t i = h & mask;
    for (;; i = (i + 1) & mask) {
      u64 s = slots_[i];
      if (!s) return false;
      if ((s & kTagMask) == tag && KeyOf(Ptr(s)) == key) break;
    }
    size_t j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (!slots_[j]) break;
      size_t home = Mix64(KeyOf(Ptr(slots_[j]))) & mask;
      bool in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
      if (!in_range) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = 0;
    size_--;
    return true;
  }

  template <typename F>
  void ForEach(F f) const {
    for (size_t i = 0; i < cap_; i++)
      if (slots_[i]) f(Ptr(slots_[i]));
  }

 private:
  static constexpr u64 kPtrMask = (u64{1} << 48) - 1;
  static constexpr u64 kTagMask = ~kPtrMask;
  static T* Ptr(u64 s) { return reinterpret_cast<T*>(s & kPtrMask); }
  void Place(T* p) {
    u64 v = reinterpret_cast<u64>(p);
    if (v & kTagMask) Die("locksan: PtrMap: record above 2^48");
    u64 h = Mix64(KeyOf(p));
    size_t mask = cap_ - 1;
    size_t i = h & mask;
    while (slots_[i]) i = (i + 1) & mask;
    slots_[i] = v | (h & kTagMask);
  }
  void Grow() {
    size_t ncap = cap_ ? cap_ * 2 : 16;
    u64* old = slots_;
    size_t ocap = cap_;
    slots_ = static_cast<u64*>(InternalAlloc(ncap * sizeof(u64)));
    cap_ = ncap;
    for (size_t i = 0; i < ocap; i++)
      if (old[i]) Place(Ptr(old[i]));
    InternalFree(old, ocap * sizeof(u64));
  }
  u64* slots_ = nullptr;
  size_t cap_ = 0;
  size_t size_ = 0;
};

}  // namespace locksan
