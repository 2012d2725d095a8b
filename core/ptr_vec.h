// core/ptr_vec.h — a growable array of trivially copyable values on internal memory.
// Not thread-safe. Used for adjacency lists and report data.
#pragma once
#include <cstring>
#include <new>
#include <type_traits>

#include "core/common.h"
#include "core/internal_alloc.h"

namespace locksan {

template <typename T>
class PtrVec {
 public:
  PtrVec() = default;
  ~PtrVec() { InternalFree(data_, cap_ * sizeof(T)); }
  PtrVec(const PtrVec&) = delete;
  PtrVec& operator=(const PtrVec&) = delete;
  PtrVec(PtrVec&& o) noexcept : data_(o.data_), size_(o.size_), cap_(o.cap_) {
    o.data_ = nullptr;
    o.size_ = o.cap_ = 0;
  }

  u32 size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](u32 i) { return data_[i]; }
  const T& operator[](u32 i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  T& back() { return data_[size_ - 1]; }

  void push_back(const T& v) {
    if (size_ == cap_) Reserve(cap_ ? cap_ * 2 : 4);
    data_[size_++] = v;
  }
  void pop_back() { size_--; }
  // SwapRemove — O(1) removal that moves the last element into slot i.
  void SwapRemove(u32 i) {
    data_[i] = data_[size_ - 1];
    size_--;
  }
  void clear() { size_ = 0; }
  void Reserve(u32 n) {
    if (n <= cap_) return;
    T* nd = static_cast<T*>(InternalAlloc(n * sizeof(T)));
    if (size_) memcpy(static_cast<void*>(nd), data_, size_ * sizeof(T));
    InternalFree(data_, cap_ * sizeof(T));
    data_ = nd;
    cap_ = n;
  }
  size_t MemoryBytes() const { return cap_ * sizeof(T); }

 private:
  T* data_ = nullptr;
  u32 size_ = 0;
  u32 cap_ = 0;
};

// SmallVec — a PtrVec whose first N elements live inline (on the stack, for a slow path's
// temporaries): no allocation, hence no allocator lock, until it grows beyond N. The inline storage is
// left uninitialised (elements are constructed by push_back): a vector of N large elements does not
// write N of them on every construction (CheckAcquireSlow's eight EdgeFacts: 13 cache lines).
template <typename T, u32 N>
class SmallVec {
  static_assert(std::is_trivially_copyable<T>::value && std::is_trivially_destructible<T>::value,
                "elements are moved with memcpy and never destroyed");

 public:
  SmallVec() = default;
  ~SmallVec() {
    if (data_ != Inline()) InternalFree(data_, cap_ * sizeof(T));
  }
  SmallVec(const SmallVec&) = delete;
  SmallVec& operator=(const SmallVec&) = delete;

  u32 size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](u32 i) { return data_[i]; }
  const T& operator[](u32 i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  T& back() { return data_[size_ - 1]; }
  void pop_back() { size_--; }
  void clear() { size_ = 0; }

  void push_back(const T& v) {
    if (size_ == cap_) {
      u32 ncap = cap_ * 2;
      T* nd = static_cast<T*>(InternalAlloc(ncap * sizeof(T)));
      memcpy(static_cast<void*>(nd), data_, size_ * sizeof(T));
      if (data_ != Inline()) InternalFree(data_, cap_ * sizeof(T));
      data_ = nd;
      cap_ = ncap;
    }
    new (static_cast<void*>(data_ + size_)) T(v);
    size_++;
  }

 private:
  T* Inline() { return reinterpret_cast<T*>(inline_); }
  alignas(T) unsigned char inline_[N * sizeof(T)];
  T* data_ = Inline();
  u32 size_ = 0;
  u32 cap_ = N;
};

}  // namespace locksan
