// tests/fuzz/fuzz_flags.cc — libFuzzer target for the LOCKSAN_OPTIONS parser (core/flags.cc).
//
// Input: up to two option strings separated by a 0xFF byte. The first is parsed onto the defaults,
// the second on top of the result (ParseFlags "applies `str` on top of the current values").
// Checked, besides memory safety (ASan/UBSan):
//  - every error line is a bounded, NUL-terminated "locksan: ..." line;
//  - after parsing, stack_depth is 1-64 and max_memory_mb is positive (Validate's promise);
//  - every string flag points to its default literal or into Flags::storage, NUL-terminated there;
//  - parsing the second string does not change a string flag that the second string does not set
//    (a string set by the first call survives the second).
// FUZZ_FLAGS_ONE_CALL=1 in the environment parses only the first string (to look for other bugs
// while the two-call one is open).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/flags.h"

using locksan::Flags;

namespace {

struct Sink {
  int lines = 0;
};

void OnError(void* ctx, const char* line) {
  Sink* s = static_cast<Sink*>(ctx);
  s->lines++;
  size_t n = strnlen(line, 4096);
  if (n >= 4096 || strncmp(line, "locksan: ", 9) != 0) {
    fprintf(stderr, "bad error line: '%.200s'\n", line);
    abort();
  }
}

// Every string flag, by name, as a pointer to the field.
struct StringField {
  const char* name;
  const char* Flags::*field;
};
const StringField kStrings[] = {
#define LOCKSAN_FLAG(Type, Name, Default, Desc) LOCKSAN_FUZZ_STR_##Type(Name)
#define LOCKSAN_FUZZ_STR_bool(Name)
#define LOCKSAN_FUZZ_STR_int(Name)
#define LOCKSAN_FUZZ_STR_string(Name) {#Name, &Flags::Name},
#include "core/flags.inc"
#undef LOCKSAN_FLAG
};
constexpr size_t kNumStrings = sizeof kStrings / sizeof kStrings[0];

void CheckFlags(const Flags& f, const Flags& defaults) {
  if (f.stack_depth < 1 || f.stack_depth > 64) {
    fprintf(stderr, "stack_depth %d out of range\n", f.stack_depth);
    abort();
  }
  if (f.max_memory_mb < 1) {
    fprintf(stderr, "max_memory_mb %d not positive\n", f.max_memory_mb);
    abort();
  }
  for (const StringField& s : kStrings) {
    const char* v = f.*s.field;
    if (v == defaults.*s.field) continue;
    if (v < f.storage || v >= f.storage + sizeof f.storage) {
      fprintf(stderr, "string flag %s points outside storage\n", s.name);
      abort();
    }
    if (!memchr(v, 0, f.storage + sizeof f.storage - v)) {
      fprintf(stderr, "string flag %s is not terminated inside storage\n", s.name);
      abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  std::string input(reinterpret_cast<const char*>(data), size);
  std::string first = input, second;
  bool two = false;
  static const bool one_call = getenv("FUZZ_FLAGS_ONE_CALL") != nullptr;
  size_t sep = input.find('\xff');
  if (sep != std::string::npos && !one_call) {
    first = input.substr(0, sep);
    second = input.substr(sep + 1);
    two = true;
  }
  // The runtime reads LOCKSAN_OPTIONS from the environment: no NUL inside.
  first = first.c_str();
  second = second.c_str();

  static Flags defaults;
  static bool init = false;
  if (!init) {
    locksan::SetDefaultFlags(&defaults);
    init = true;
  }
  Flags* f = new Flags;
  locksan::SetDefaultFlags(f);
  Sink sink;
  locksan::ParseFlags(first.c_str(), f, OnError, &sink);
  CheckFlags(*f, defaults);
  if (two) {
    // Which string flags does the second string set? Parse it alone onto sentinels.
    static const char kSentinel[] = "\x01sentinel";
    Flags* probe = new Flags;
    locksan::SetDefaultFlags(probe);
    for (const StringField& s : kStrings) probe->*s.field = kSentinel;
    Sink probe_sink;
    locksan::ParseFlags(second.c_str(), probe, OnError, &probe_sink);
    std::string before[kNumStrings];
    for (size_t i = 0; i < kNumStrings; i++) before[i] = f->*kStrings[i].field;
    locksan::ParseFlags(second.c_str(), f, OnError, &sink);
    CheckFlags(*f, defaults);
    for (size_t i = 0; i < kNumStrings; i++) {
      if (probe->*kStrings[i].field != kSentinel) continue;  // set by the second string
      const char* now = f->*kStrings[i].field;
      if (before[i] != now) {
        fprintf(stderr,
                "string flag %s changed from '%s' to '%s' by a second ParseFlags call that does "
                "not set it\n  first:  '%s'\n  second: '%s'\n",
                kStrings[i].name, before[i].c_str(), now, first.c_str(), second.c_str());
        abort();
      }
    }
    delete probe;
  }
  delete f;
  return 0;
}
