// report/symbolized.h — symbolised stacks shared by the printers of one report.
//
// StackCache symbolises each stack of the depot at most once per report (symbolisation is the
// expensive part of printing) and drops the runtime's own interceptor frames.
//   StackCache cache;  const SymStack* s = cache.Get(edge.facts.stack_to);
#pragma once
#include "core/flat_map.h"
#include "core/symbolizer.h"

namespace locksan {

struct SymStack {
  u32 size;
  FrameInfo* frames;
};

class StackCache {
 public:
  StackCache() = default;
  ~StackCache();
  StackCache(const StackCache&) = delete;
  StackCache& operator=(const StackCache&) = delete;
  // Get — the symbolised stack with this depot id; nullptr for 0.
  const SymStack* Get(u32 id);

 private:
  FlatMap<SymStack*> map_;
};

// IsSystemModule — libc, libstdc++, libgcc_s, the dynamic loader.
bool IsSystemModule(const char* module_path);
// IsSystemSource — a frame of library code compiled into the program (libstdc++ headers).
bool IsSystemSource(const FrameInfo& f);
// FirstUserFrame — the first frame outside the runtime and the C/C++ runtime libraries.
const FrameInfo* FirstUserFrame(const SymStack* s);
// CallbackCaller — in the stack of a thread that takes the GIL to enter a ctypes/cffi callback
// (innermost first: the interpreter's GIL-taking frames, the callback's module, libffi's closure),
// the C function that called the callback: the first frame outside the first frame's module, the
// module after it and any libffi; nullptr if there is none.
const FrameInfo* CallbackCaller(const SymStack* s);

}  // namespace locksan
