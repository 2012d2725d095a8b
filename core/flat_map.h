// core/flat_map.h — an open-addressing hash map from a non-zero 64-bit key to a trivially copyable
// value, on internal memory. Not thread-safe: callers hold the lock that owns the map.
// Deletion uses backward-shift (no tombstones), so long runs of insert/erase keep lookups short.
//   FlatMap<Edge*> edges;  edges.Insert(key, e);  if (Edge** e = edges.Find(key)) ...
#pragma once
#include <cstring>

#include "core/common.h"
#include "core/internal_alloc.h"

namespace locksan {

template <typename V>
class FlatMap {
 public:
  FlatMap() = default;
  ~FlatMap() { InternalFree(slots_, cap_ * sizeof(Slot)); }
  FlatMap(const FlatMap&) = delete;
  FlatMap& operator=(const FlatMap&) = delete;

  size_t size() const { return size_; }
  size_t capacity() const { return cap_; }
  size_t MemoryBytes() const { return cap_ * sizeof(Slot); }

  V* Find(u64 key) {
    if (!cap_) return nullptr;
    size_t mask = cap_ - 1;
    for (size_t i = Hash(key) & mask;; i = (i + 1) & mask) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == 0) return nullptr;
    }
  }

  // Insert — inserts or overwrites; returns a pointer to the stored value.
  V* Insert(u64 key, const V& value) {
    if ((size_ + 1) * 4 > cap_ * 3) Grow();
    size_t mask = cap_ - 1;
    for (size_t i = Hash(key) & mask;; i = (i + 1) & mask) {
      if (slots_[i].key == key) {
        slots_[i].value = value;
        return &slots_[i].value;
      }
      if (slots_[i].key == 0) {
        slots_[i].key = key;
        slots_[i].value = value;
        size_++;
        return &slots_[i].value;
      }
    }
  }

  bool Erase(u64 key) {
    if (!cap_) return false;
    size_t mask = cap_ - 1;
    size_t i = Hash(key) & mask;
    while (slots_[i].key != key) {
      if (slots_[i].key == 0) return false;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion.
    size_t j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (slots_[j].key == 0) break;
      size_t home = Hash(slots_[j].key) & mask;
      // Move j into the hole at i if its home is not in the cyclic range (i, j].
      bool in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
      if (!in_range) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i].key = 0;
    slots_[i].value = V();
    size_--;
    return true;
  }

  template <typename F>
  void ForEach(F f) {
    for (size_t i = 0; i < cap_; i++)
      if (slots_[i].key) f(slots_[i].key, slots_[i].value);
  }

  void Clear() {
    InternalFree(slots_, cap_ * sizeof(Slot));
    slots_ = nullptr;
    cap_ = size_ = 0;
  }

 private:
  struct Slot {
    u64 key;
    V value;
  };
  static size_t Hash(u64 k) { return static_cast<size_t>(Mix64(k)); }
  void Grow() {
    size_t ncap = cap_ ? cap_ * 2 : 16;
    Slot* old = slots_;
    size_t ocap = cap_;
    slots_ = static_cast<Slot*>(InternalAlloc(ncap * sizeof(Slot)));
    cap_ = ncap;
    size_ = 0;
    for (size_t i = 0; i < ocap; i++)
      if (old[i].key) Insert(old[i].key, old[i].value);
    InternalFree(old, ocap * sizeof(Slot));
  }
  Slot* slots_ = nullptr;
  size_t cap_ = 0;
  size_t size_ = 0;
};

}  // namespace locksan
