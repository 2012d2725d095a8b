#include "core/flags.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace locksan {

void SetDefaultFlags(Flags* f) {
#define LOCKSAN_FLAG(Type, Name, Default, Desc) f->Name = Default;
#include "core/flags.inc"
#undef LOCKSAN_FLAG
  f->storage[0] = 0;
  f->storage_used = 0;
}

namespace {

bool ParseBool(const char* v, bool* out) {
  if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) return *out = true, true;
  if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) return *out = false, true;
  return false;
}

bool ParseInt(const char* v, int* out) {
  if (!*v) return false;
  char* end = nullptr;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || *end || x < INT_MIN || x > INT_MAX) return false;
  *out = static_cast<int>(x);
  return true;
}

void Error(FlagErrorSink sink, void* ctx, const char* fmt, const char* a, const char* b) {
  char line[512];
  snprintf(line, sizeof line, fmt, a, b);
  sink(ctx, line);
}

// Apply one "name=value" pair (both NUL-terminated, value may live in f->storage).
bool Apply(Flags* f, const char* name, const char* value, FlagErrorSink sink, void* ctx) {
#define LOCKSAN_FLAG(Type, Name, Default, Desc)                                               \
  if (!strcmp(name, #Name)) {                                                                  \
    if (!LOCKSAN_PARSE_##Type(value, &f->Name)) {                                             \
      Error(sink, ctx, "locksan: invalid value '%s' for option '%s' (ignored)", value, name); \
      return false;                                                                            \
    }                                                                                          \
    return true;                                                                               \
  }
#define LOCKSAN_PARSE_bool(v, p) ParseBool(v, p)
#define LOCKSAN_PARSE_int(v, p) ParseInt(v, p)
#define LOCKSAN_PARSE_string(v, p) ((*(p) = (v)), true)
#include "core/flags.inc"
#undef LOCKSAN_FLAG
  Error(sink, ctx, "locksan: unknown option '%s'%s (ignored; help=1 lists options)", name, "");
  return false;
}

bool Validate(Flags* f, FlagErrorSink sink, void* ctx) {
  bool ok = true;
  if (f->stack_depth < 1 || f->stack_depth > 64) {
    Error(sink, ctx, "locksan: stack_depth must be 1-64%s%s; using 24", "", "");
    f->stack_depth = 24;
    ok = false;
  }
  if (strcmp(f->unwinder, "auto") != 0 && strcmp(f->unwinder, "libgcc") != 0) {
    Error(sink, ctx, "locksan: unwinder must be 'auto' or 'libgcc', not '%s'%s; using 'auto'", f->unwinder,
          "");
    f->unwinder = "auto";
    ok = false;
  }
  if (f->class_after < 1 || f->class_after > 1000000) {
    Error(sink, ctx, "locksan: class_after must be 1-1000000%s%s; using 4", "", "");
    f->class_after = 4;
    ok = false;
  }
  if (f->max_memory_mb < 1) {
    Error(sink, ctx, "locksan: max_memory_mb must be positive%s%s; using 4096", "", "");
    f->max_memory_mb = 4096;
    ok = false;
  }
  return ok;
}

}  // namespace

int ParseFlags(const char* str, Flags* f, FlagErrorSink sink, void* ctx) {
  if (!str) return 0;
  size_t used = f->storage_used;  // earlier calls' strings stay valid: append after them
  size_t len = strlen(str);
  if (used + len + 1 > sizeof f->storage) {
    Error(sink, ctx, "locksan: LOCKSAN_OPTIONS is too long%s%s (ignored)", "", "");
    return 1;
  }
  char* buf = f->storage + used;
  memcpy(buf, str, len + 1);
  f->storage_used = used + len + 1;
  int errors = 0;
  char* p = buf;
  while (*p) {
    // Separators: ':' ',' and whitespace. A value may be quoted with ' or " to contain them.
    while (*p == ':' || *p == ',' || *p == ' ' || *p == '\t' || *p == '\n') p++;
    if (!*p) break;
    char* name = p;
    while (*p && *p != '=' && *p != ':' && *p != ',' && *p != ' ' && *p != '\t' && *p != '\n') p++;
    if (*p != '=') {
      char saved = *p;
      *p = 0;
      Error(sink, ctx, "locksan: malformed option '%s'%s: expected name=value (ignored)", name, "");
      errors++;
      if (!saved) break;
      p++;
      continue;
    }
    *p++ = 0;
    char* value = p;
    if (*p == '\'' || *p == '"') {
      char q = *p++;
      value = p;
      while (*p && *p != q) p++;
      if (!*p) {
        Error(sink, ctx, "locksan: unterminated quote in value of option '%s'%s (ignored)", name, "");
        errors++;
        break;
      }
      *p++ = 0;
    } else {
      while (*p && *p != ':' && *p != ',' && *p != ' ' && *p != '\t' && *p != '\n') p++;
      if (*p) *p++ = 0;
    }
    if (!*name) {
      Error(sink, ctx, "locksan: malformed option '=%s'%s: empty name (ignored)", value, "");
      errors++;
      continue;
    }
    if (!Apply(f, name, value, sink, ctx)) errors++;
  }
  if (!Validate(f, sink, ctx)) errors++;
  return errors;
}

void PrintFlagsHelp(FlagErrorSink sink, void* ctx) {
  char line[1024];
  sink(ctx, "locksan: LOCKSAN_OPTIONS=name=value:name=value... Available options:");
#define LOCKSAN_FLAG(Type, Name, Default, Desc) \
  LOCKSAN_HELP_##Type(Name, Default, Desc);
#define LOCKSAN_HELP_bool(Name, Default, Desc) \
  snprintf(line, sizeof line, "  %-20s %-8s %s", #Name, (Default) ? "1" : "0", Desc), sink(ctx, line)
#define LOCKSAN_HELP_int(Name, Default, Desc) \
  snprintf(line, sizeof line, "  %-20s %-8d %s", #Name, Default, Desc), sink(ctx, line)
#define LOCKSAN_HELP_string(Name, Default, Desc) \
  snprintf(line, sizeof line, "  %-20s %-8s %s", #Name, *(Default) ? (Default) : "\"\"", Desc), sink(ctx, line)
#include "core/flags.inc"
#undef LOCKSAN_FLAG
}

}  // namespace locksan
