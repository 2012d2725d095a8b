// core/suppressions.h — sanitizer-style suppressions.
//
// File format: one `kind:pattern` per line; '#' starts a comment; blank lines are ignored.
// `kind` is a report kind ("lock-order-inversion", "double-lock", ...) or '*' for every kind.
// `pattern` is matched against every frame of the report: function name, source file path and module
// path. '*' matches any run of characters; the pattern matches anywhere in the string unless it
// starts with '^' or ends with '$' (anchors), as in TSan.
//   lock-order-inversion:libfoo.so
//   *:^legacy::Cache::*$
// Parsing never fails the program: a bad line is reported (one line each) and skipped.
#pragma once
#include "core/common.h"

namespace locksan {

struct Suppression {
  char kind[32];
  char pattern[256];
  u64 hits;
};

class Suppressions {
 public:
  // Parse — adds the rules in `text` (a file's content). `source` names the file in messages.
  // Returns the number of bad lines; each is passed to `error` as one line.
  int Parse(const char* text, const char* source, void (*error)(void*, const char*), void* ctx);
  // Match — index of the first rule of this kind whose pattern matches `s`, or -1.
  int Match(const char* kind, const char* s) const;
  void Hit(int index) { rules_[index].hits++; }
  int size() const { return n_; }
  const Suppression& rule(int i) const { return rules_[i]; }

 private:
  static constexpr int kMax = 256;
  Suppression rules_[kMax];
  int n_ = 0;
};

// TemplateMatch — glob with '*', substring unless anchored with ^ / $.
bool TemplateMatch(const char* pattern, const char* s);

}  // namespace locksan
