// core/symbolizer.h — turning addresses into function, file:line, module+offset.
//
// Used only when a report is printed (never on the lock path). It uses elfutils' libdwfl, dlopen'ed
// privately at first use (the copy shipped beside liblocksan.so first, then the system's), for
// .symtab symbols and DWARF line tables; without libdw it falls back to dladdr (exported symbols
// only) and module+offset. Callers serialise calls (the report lock).
#pragma once
#include "core/common.h"

namespace locksan {

struct FrameInfo {
  char function[512];   // demangled; empty if unknown
  char file[512];       // source file; empty if unknown
  int line;             // 0 if unknown
  char module[512];     // path of the module, empty if unknown
  uptr module_offset;
};

// SymbolizeCode — `pc` is a return address (the call site is pc-1).
void SymbolizeCode(uptr pc, FrameInfo* out);
// SymbolizeCodeInline — the frame at `pc` expanded into its inlined calls, innermost first (like
// addr2line -i): out[0] is the innermost inlined function at its line, the last entry is the real
// function at the call site of the outermost inlined call. Returns the count (at least 1).
int SymbolizeCodeInline(uptr pc, FrameInfo* out, int max);

// SymbolizeData — the global symbol containing `addr`; false if none.
bool SymbolizeData(uptr addr, char* name, size_t name_size, char* module, size_t module_size,
                   uptr* offset_in_symbol);
// ModuleBaseName — "libfoo.so" for "/usr/lib/libfoo.so".
const char* ModuleBaseName(const char* path);
// SymbolizerName — "libdw" or "dladdr".
const char* SymbolizerName();
// IsRuntimeModule — the module is liblocksan.so itself.
bool IsRuntimeModule(const char* module_path);

}  // namespace locksan
