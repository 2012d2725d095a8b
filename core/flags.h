// core/flags.h — LOCKSAN_OPTIONS.
//
// Options are declared once in flags.inc. ParseFlags() fills a Flags struct from a
// "key=value:key=value" string (also ',' or whitespace separated) and reports each malformed entry as
// one line through `error_sink`; a malformed entry never stops the program: the default stays.
//   Flags f; ParseFlags("exitcode=1:log_path=/tmp/ls", &f, sink, ctx);
#pragma once
#include "core/common.h"

namespace locksan {

struct Flags {
#define LOCKSAN_FLAG(Type, Name, Default, Desc) LOCKSAN_FLAG_TYPE_##Type Name;
#define LOCKSAN_FLAG_TYPE_bool bool
#define LOCKSAN_FLAG_TYPE_int int
#define LOCKSAN_FLAG_TYPE_string const char*
#include "core/flags.inc"
#undef LOCKSAN_FLAG
  // Storage for string values (the parsed copies of the option strings), used up to storage_used.
  char storage[4096];
  size_t storage_used;
};

using FlagErrorSink = void (*)(void* ctx, const char* line);

// SetDefaultFlags — every flag to its declared default.
void SetDefaultFlags(Flags* f);
// ParseFlags — applies `str` on top of the current values. Returns the number of errors.
int ParseFlags(const char* str, Flags* f, FlagErrorSink sink, void* ctx);
// PrintFlagsHelp — one line per flag: "  name=default  description".
void PrintFlagsHelp(FlagErrorSink sink, void* ctx);

}  // namespace locksan
