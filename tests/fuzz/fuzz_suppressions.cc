// tests/fuzz/fuzz_suppressions.cc — libFuzzer target for the suppressions parser and matcher
// (core/suppressions.cc).
//
// Input: a suppressions file, then (after a 0xFF byte) query lines "kind<TAB>string". The file is
// parsed; every query is matched. Checked, besides memory safety (ASan/UBSan):
//  - every error line names the source and is bounded;
//  - every rule's kind and pattern are NUL-terminated and non-empty, with no surrounding blanks;
//  - TemplateMatch agrees with a reference matcher (dynamic programming over the documented
//    semantics: '*' matches any run of characters; substring match unless anchored with a leading
//    '^' and/or a trailing '$'; an empty pattern matches nothing);
//  - Match returns the first rule of the kind (or '*') whose pattern matches, and -1 for an empty s.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/suppressions.h"

namespace {

void OnError(void* ctx, const char* line) {
  (void)ctx;
  if (strnlen(line, 4096) >= 4096 || strncmp(line, "locksan: fuzz.supp:", 19) != 0) {
    fprintf(stderr, "bad error line: '%.200s'\n", line);
    abort();
  }
}

// Reference: does glob `p` (only '*' is special) match all of `s`? O(|p|*|s|) dynamic programming.
bool GlobFull(const std::string& p, const std::string& s) {
  std::vector<char> prev(s.size() + 1, 0), cur(s.size() + 1, 0);
  prev[0] = 1;
  for (size_t j = 1; j <= s.size(); j++) prev[j] = 0;
  for (size_t i = 1; i <= p.size(); i++) {
    char c = p[i - 1];
    cur[0] = c == '*' ? prev[0] : 0;
    for (size_t j = 1; j <= s.size(); j++) {
      if (c == '*') cur[j] = prev[j] || cur[j - 1];
      else cur[j] = prev[j - 1] && s[j - 1] == c;
    }
    prev.swap(cur);
  }
  return prev[s.size()];
}

bool ReferenceMatch(const std::string& pattern, const std::string& s) {
  if (pattern.empty()) return false;
  std::string core = pattern;
  bool start = false, end = false;
  if (core[0] == '^') {
    start = true;
    core.erase(0, 1);
  }
  if (!core.empty() && core.back() == '$') {
    end = true;
    core.pop_back();
  }
  return GlobFull((start ? "" : "*") + core + (end ? "" : "*"), s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  std::string input(reinterpret_cast<const char*>(data), size);
  std::string file = input, queries;
  size_t sep = input.find('\xff');
  if (sep != std::string::npos) {
    file = input.substr(0, sep);
    queries = input.substr(sep + 1);
  }
  file = file.c_str();  // a file's content is read up to its first NUL

  locksan::Suppressions* supp = new locksan::Suppressions;
  supp->Parse(file.c_str(), "fuzz.supp", OnError, nullptr);
  for (int i = 0; i < supp->size(); i++) {
    const locksan::Suppression& r = supp->rule(i);
    size_t kl = strnlen(r.kind, sizeof r.kind), pl = strnlen(r.pattern, sizeof r.pattern);
    if (kl == 0 || kl >= sizeof r.kind || pl == 0 || pl >= sizeof r.pattern) {
      fprintf(stderr, "rule %d: bad kind/pattern lengths %zu/%zu\n", i, kl, pl);
      abort();
    }
    if (r.kind[0] == ' ' || r.kind[0] == '\t' || r.pattern[pl - 1] == ' ' || r.pattern[pl - 1] == '\t' ||
        r.pattern[pl - 1] == '\r') {
      fprintf(stderr, "rule %d: untrimmed '%s:%s'\n", i, r.kind, r.pattern);
      abort();
    }
  }

  size_t pos = 0;
  int nq = 0;
  while (pos < queries.size() && nq < 64) {
    size_t eol = queries.find('\n', pos);
    if (eol == std::string::npos) eol = queries.size();
    std::string line = queries.substr(pos, eol - pos);
    pos = eol + 1;
    nq++;
    size_t tab = line.find('\t');
    std::string kind = tab == std::string::npos ? "lock-order-inversion" : line.substr(0, tab);
    std::string s = tab == std::string::npos ? line : line.substr(tab + 1);
    kind = kind.c_str();
    s = s.c_str();
    int got = supp->Match(kind.c_str(), s.c_str());
    int want = -1;
    if (!s.empty())
      for (int i = 0; i < supp->size() && want < 0; i++) {
        const locksan::Suppression& r = supp->rule(i);
        if (strcmp(r.kind, "*") != 0 && kind != r.kind) continue;
        if (ReferenceMatch(r.pattern, s)) want = i;
      }
    if (got != want) {
      fprintf(stderr, "Match('%s', '%s') = %d, reference %d\n", kind.c_str(), s.c_str(), got, want);
      abort();
    }
    // The matcher on its own, pattern = the query's kind field (any bytes).
    bool tm = locksan::TemplateMatch(kind.c_str(), s.c_str());
    if (tm != ReferenceMatch(kind, s)) {
      fprintf(stderr, "TemplateMatch('%s', '%s') = %d, reference %d\n", kind.c_str(), s.c_str(), tm, !tm);
      abort();
    }
  }
  delete supp;
  return 0;
}
