// core/python/utf8.h — code points of CPython str objects to UTF-8, for the stack and callback readers.
#pragma once
#include <cstdint>

namespace locksan {
namespace python {

// Lone surrogates and out-of-range values become '?', so the output is always valid UTF-8.
inline uint32_t Sanitize(uint32_t c) { return (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF ? '?' : c; }

inline int Utf8Len(uint32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

// PutUtf8 — writes the (sanitised) code point `c` at p; returns its length (1-4).
inline int PutUtf8(uint32_t c, char* p) {
  if (c < 0x80) {
    p[0] = static_cast<char>(c);
    return 1;
  }
  if (c < 0x800) {
    p[0] = static_cast<char>(0xC0 | (c >> 6));
    p[1] = static_cast<char>(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    p[0] = static_cast<char>(0xE0 | (c >> 12));
    p[1] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    p[2] = static_cast<char>(0x80 | (c & 0x3F));
    return 3;
  }
  p[0] = static_cast<char>(0xF0 | (c >> 18));
  p[1] = static_cast<char>(0x80 | ((c >> 12) & 0x3F));
  p[2] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
  p[3] = static_cast<char>(0x80 | (c & 0x3F));
  return 4;
}

}  // namespace python
}  // namespace locksan
