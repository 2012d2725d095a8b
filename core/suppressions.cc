#include "core/suppressions.h"

#include <cstdio>
#include <cstring>

namespace locksan {
namespace {

// GlobHere — does `p` (up to pend) match a prefix of `s` (with `full`: all of `s`)? '*' matches any
// run. Linear-time matching that remembers only the last '*' (no recursion: a pattern with many
// stars cannot make it exponential).
bool GlobHere(const char* p, const char* pend, const char* s, bool full) {
  const char* star = nullptr;  // position after the last '*' seen
  const char* mark = nullptr;  // where in s that star's run currently ends
  for (;;) {
    if (p < pend && *p == '*') {
      while (p < pend && *p == '*') p++;
      if (p == pend) return true;  // a trailing '*' matches the rest (and any prefix)
      star = p;
      mark = s;
      continue;
    }
    if (p == pend) {
      if (!full || !*s) return true;
    } else if (*s && *s == *p) {
      p++;
      s++;
      continue;
    }
    // Mismatch (or pattern ended before the string, with `full`): let the last star take one more char.
    if (!star || !*mark) return false;
    p = star;
    s = ++mark;
  }
}

}  // namespace

bool TemplateMatch(const char* pattern, const char* s) {
  if (!pattern[0]) return false;
  const char* p = pattern;
  const char* pend = p + strlen(p);
  bool start = false, end = false;
  if (*p == '^') start = true, p++;
  if (pend > p && pend[-1] == '$') end = true, pend--;
  if (start) return GlobHere(p, pend, s, end);
  for (const char* t = s;; t++) {
    if (GlobHere(p, pend, t, end)) return true;
    if (!*t) return false;
  }
}

int Suppressions::Parse(const char* text, const char* source, void (*error)(void*, const char*),
                        void* ctx) {
  int bad = 0;
  int lineno = 0;
  const char* p = text;
  while (*p) {
    const char* eol = strchr(p, '\n');
    if (!eol) eol = p + strlen(p);
    lineno++;
    // Trim.
    const char* b = p;
    const char* e = eol;
    while (b < e && (*b == ' ' || *b == '\t' || *b == '\r')) b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
    p = *eol ? eol + 1 : eol;
    if (b == e || *b == '#') continue;
    const char* colon = static_cast<const char*>(memchr(b, ':', e - b));
    char msg[512];
    if (!colon || colon == b || colon + 1 == e) {
      snprintf(msg, sizeof msg, "locksan: %s:%d: expected 'kind:pattern', got '%.*s' (line ignored)",
               source, lineno, static_cast<int>(e - b), b);
      error(ctx, msg);
      bad++;
      continue;
    }
    size_t klen = colon - b, plen = e - colon - 1;
    if (klen >= sizeof rules_[0].kind || plen >= sizeof rules_[0].pattern) {
      snprintf(msg, sizeof msg, "locksan: %s:%d: kind or pattern too long (line ignored)", source, lineno);
      error(ctx, msg);
      bad++;
      continue;
    }
    if (n_ == kMax) {
      snprintf(msg, sizeof msg, "locksan: %s:%d: more than %d suppressions (rest ignored)", source,
               lineno, kMax);
      error(ctx, msg);
      return bad + 1;
    }
    Suppression& r = rules_[n_++];
    memcpy(r.kind, b, klen);
    r.kind[klen] = 0;
    memcpy(r.pattern, colon + 1, plen);
    r.pattern[plen] = 0;
    r.hits = 0;
  }
  return bad;
}

int Suppressions::Match(const char* kind, const char* s) const {
  if (!s || !*s) return -1;
  for (int i = 0; i < n_; i++) {
    if (strcmp(rules_[i].kind, "*") != 0 && strcmp(rules_[i].kind, kind) != 0) continue;
    if (TemplateMatch(rules_[i].pattern, s)) return i;
  }
  return -1;
}

}  // namespace locksan
