#include "report/symbolized.h"

#include <cstring>

#include "core/internal_alloc.h"
#include "core/stack.h"

namespace locksan {

StackCache::~StackCache() {
  map_.ForEach([](u64, SymStack* s) {
    InternalFree(s->frames, (s->size ? s->size : 1) * sizeof(FrameInfo));
    InternalDelete(s);
  });
}

const SymStack* StackCache::Get(u32 id) {
  if (!id) return nullptr;
  if (SymStack** s = map_.Find(id)) return *s;
  StackTrace st = StackDepotGet(id);
  SymStack* s = InternalNew<SymStack>();
  constexpr u32 kMaxInline = 8;
  u32 cap = (st.size ? st.size : 1) * kMaxInline;
  s->frames = static_cast<FrameInfo*>(InternalAlloc(cap * sizeof(FrameInfo)));
  u32 k = 0;
  for (u32 i = 0; i < st.size; i++) {
    int n = SymbolizeCodeInline(st.pcs[i], &s->frames[k], kMaxInline);
    if (IsRuntimeModule(s->frames[k].module)) continue;  // interceptor frames
    k += static_cast<u32>(n);
  }
  // Keep the allocation size in `size`'s terms: frees use the capacity.
  if (k != cap) {
    FrameInfo* f = static_cast<FrameInfo*>(InternalAlloc((k ? k : 1) * sizeof(FrameInfo)));
    memcpy(static_cast<void*>(f), s->frames, k * sizeof(FrameInfo));
    InternalFree(s->frames, cap * sizeof(FrameInfo));
    s->frames = f;
  }
  s->size = k;
  map_.Insert(id, s);
  return s;
}

bool IsSystemModule(const char* m) {
  const char* b = ModuleBaseName(m);
  return !strncmp(b, "libc.so", 7) || !strncmp(b, "libc-", 5) || !strncmp(b, "libpthread", 10) ||
         !strncmp(b, "libstdc++", 9) || !strncmp(b, "libgcc_s", 8) || !strncmp(b, "ld-linux", 8);
}

bool IsSystemSource(const FrameInfo& f) {
  // Library code compiled into the program: libstdc++'s std::mutex / __gthread wrappers etc.
  return !strncmp(f.file, "/usr/include/", 13) || !strncmp(f.file, "/usr/lib/gcc/", 13) ||
         !strncmp(f.function, "__gthread_", 10) || strstr(f.file, "/include/c++/") != nullptr;
}

const FrameInfo* FirstUserFrame(const SymStack* s) {
  if (!s) return nullptr;
  for (u32 i = 0; i < s->size; i++)
    if (!IsSystemModule(s->frames[i].module) && !IsSystemSource(s->frames[i])) return &s->frames[i];
  for (u32 i = 0; i < s->size; i++)
    if (!IsSystemModule(s->frames[i].module)) return &s->frames[i];
  return s->size ? &s->frames[0] : nullptr;
}

const FrameInfo* CallbackCaller(const SymStack* s) {
  if (!s || !s->size) return nullptr;
  u32 i = 0;
  const char* interpreter = s->frames[0].module;
  while (i < s->size && !strcmp(s->frames[i].module, interpreter)) i++;
  if (i == s->size) return nullptr;
  const char* handler = s->frames[i].module;  // _ctypes, _cffi_backend
  while (i < s->size && (!strcmp(s->frames[i].module, handler) ||
                         !strncmp(ModuleBaseName(s->frames[i].module), "libffi", 6)))
    i++;
  return i < s->size ? &s->frames[i] : nullptr;
}

}  // namespace locksan
