// core/python/callback.cc — DescribeCallback(): see callback.h.
#include "core/python/callback.h"

#include <errno.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>

#include "core/python/layout.h"
#include "core/python/utf8.h"

namespace locksan {
namespace python {
namespace {

using internal::ProcessPython;
using internal::PyLayout;

// CThunkObject (Modules/_ctypes/ctypes.h, the same in 3.6–3.13 on LP64): PyObject_VAR_HEAD (24),
// pcl_write, pcl_exec, ffi_cif cif (32), int flags, converters, callable, restype, setfunc,
// ffi_restype, atypes[1]: sizeof 128, `callable` at 88 (checked against closure_fcn's loads in every
// pyenv build here).
constexpr unsigned kThunkBasicSize = 128;
constexpr unsigned kThunkCallable = 88;
constexpr unsigned kThunkCif = 40;  // ffi_cif cif, whose address libffi passes to closure_fcn
// cffi's CTypeDescrObject: PyObject_VAR_HEAD, ct_itemdescr, ct_stuff, ct_extra (function types: the
// cif_description_t, whose first member is the ffi_cif the closure was prepared with).
constexpr unsigned kCTypeExtra = 40;
// PyTypeObject: ob_refcnt, ob_type, ob_size, tp_name, tp_basicsize.
constexpr unsigned kTpName = 24, kTpBasicSize = 32;
// PyMethodObject: im_func after the object header (3.6–3.13).
constexpr unsigned kMethodFunc = 16;
// PyTupleObject: ob_size at 16, items from 24.
constexpr unsigned kTupleSize = 16, kTupleItems = 24;

std::atomic<int> g_safe_read_broken{0};  // process_vm_readv not allowed here (seccomp, ...)

bool Plausible(uintptr_t v) { return v >= 4096 && v < (uintptr_t{1} << 47) && (v & 7) == 0; }

bool Contains(const uintptr_t* words, int n, uintptr_t v) {
  for (int i = 0; i < n; i++)
    if (words[i] == v) return true;
  return false;
}

uintptr_t Word(const unsigned char* p, unsigned off) {
  uintptr_t v;
  std::memcpy(&v, p + off, sizeof v);
  return v;
}

// ---- str objects, read through SafeRead ----------------------------------------------------------
// CopyStr — the str object at `obj` as UTF-8 into buf (size bytes, NUL-terminated). Long strings
// keep their head (`tail` false) or their tail after "..." (`tail` true: file names).
bool CopyStr(const ProcessPython& pp, uintptr_t obj, char* buf, int size, bool tail) {
  const PyLayout& l = pp.layout;
  constexpr int kMaxChars = 256;
  unsigned char hdr[96];
  if (!Plausible(obj) || l.uni_ascii_size > l.uni_compact_size ||
      l.uni_compact_size > static_cast<int>(sizeof hdr) || !SafeRead(obj, hdr, l.uni_ascii_size))
    return false;
  if (Word(hdr, l.ob_type) != reinterpret_cast<uintptr_t>(pp.unicode_type)) return false;
  uint32_t state;
  std::memcpy(&state, hdr + l.uni_state, sizeof state);
  const int kind = (state >> 2) & 7;
  const bool compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
  if (!compact || (kind != 1 && kind != 2 && kind != 4) || (ascii && kind != 1)) return false;
  int64_t length;
  std::memcpy(&length, hdr + l.uni_length, sizeof length);
  if (length < 0 || length > (1 << 20)) return false;
  const int64_t count = length < kMaxChars ? length : kMaxChars;
  const int64_t from = tail ? length - count : 0;
  const uintptr_t data = obj + (ascii ? l.uni_ascii_size : l.uni_compact_size);
  unsigned char raw[kMaxChars * 4];
  if (count && !SafeRead(data + from * kind, raw, count * kind)) return false;
  char text[kMaxChars * 4];
  int n = 0;
  for (int64_t i = 0; i < count; i++) {
    uint32_t c = 0;
    if (kind == 1) c = raw[i];
    else if (kind == 2) { uint16_t h; std::memcpy(&h, raw + 2 * i, 2); c = h; }
    else std::memcpy(&c, raw + 4 * i, 4);
    n += PutUtf8(Sanitize(c), text + n);
  }
  const int cap = size - 1;
  if (n <= cap && count == length) {
    std::memcpy(buf, text, n);
    buf[n] = '\0';
    return true;
  }
  if (!tail) {
    int k = n < cap ? n : cap;
    while (k > 0 && k < n && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80) k--;  // a whole character
    std::memcpy(buf, text, k);
    buf[k] = '\0';
    return true;
  }
  int start = n - (cap - 3);
  if (start < 0) start = 0;
  while (start < n && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) start++;
  std::memcpy(buf, "...", 3);
  std::memcpy(buf + 3, text + start, n - start);
  buf[3 + n - start] = '\0';
  return true;
}

// TypeNameIs — the type object at `type` is a type whose tp_name starts with `prefix`; its
// tp_basicsize into *basicsize.
bool TypeNameIs(const CallbackTypes& t, uintptr_t type, const char* prefix, uintptr_t* basicsize) {
  unsigned char hdr[40];
  if (!Plausible(type) || !SafeRead(type, hdr, sizeof hdr)) return false;
  if (Word(hdr, 8) != reinterpret_cast<uintptr_t>(t.type_type)) return false;  // a plain type (no metaclass)
  uintptr_t name = Word(hdr, kTpName);
  char s[48];
  const size_t len = std::strlen(prefix);
  if (!name || len >= sizeof s || !SafeRead(name, s, len)) return false;
  if (std::memcmp(s, prefix, len) != 0) return false;
  if (basicsize) *basicsize = Word(hdr, kTpBasicSize);
  return true;
}

// DescribeCallable — fills `out` for the callable at `obj`.
bool DescribeCallable(const ProcessPython& pp, const CallbackTypes& t, uintptr_t obj, PyFrameRec* out) {
  unsigned char hdr[16];
  if (!Plausible(obj) || !SafeRead(obj, hdr, sizeof hdr)) return false;
  uintptr_t type = Word(hdr, 8);
  if (type == reinterpret_cast<uintptr_t>(t.method_type)) {  // a bound method: its function
    uintptr_t func;
    if (!SafeRead(obj + kMethodFunc, &func, sizeof func) || !Plausible(func) || !SafeRead(func, hdr, sizeof hdr))
      return false;
    obj = func;
    type = Word(hdr, 8);
  }
  const PyLayout& l = pp.layout;
  if (type == reinterpret_cast<uintptr_t>(t.function_type)) {
    // PyFunctionObject: func_code/func_qualname at 16/104 (3.7–3.9), 48/40 (3.10–3.13).
    const unsigned code_off = l.minor >= 10 ? 48 : 16, qualname_off = l.minor >= 10 ? 40 : 104;
    uintptr_t code, qualname;
    if (!SafeRead(obj + code_off, &code, sizeof code) || !SafeRead(obj + qualname_off, &qualname, sizeof qualname))
      return false;
    unsigned char chdr[256];
    const int need = (l.co_filename > l.co_firstlineno ? l.co_filename : l.co_firstlineno) + 8;
    if (!Plausible(code) || need > static_cast<int>(sizeof chdr) || !SafeRead(code, chdr, need)) return false;
    if (Word(chdr, l.ob_type) != reinterpret_cast<uintptr_t>(pp.code_type)) return false;
    if (!CopyStr(pp, qualname, out->function, sizeof out->function, false)) return false;
    if (!CopyStr(pp, Word(chdr, l.co_filename), out->file, sizeof out->file, true)) out->file[0] = '\0';
    int line;
    std::memcpy(&line, chdr + l.co_firstlineno, sizeof line);
    out->line = line;
    return true;
  }
  // Any other callable (functools.partial, an object with __call__, a builtin): its type's name.
  unsigned char thdr[32];
  if (!Plausible(type) || !SafeRead(type, thdr, sizeof thdr)) return false;
  uintptr_t name = Word(thdr, kTpName);
  char s[96];
  std::memset(s, 0, sizeof s);
  if (!Plausible(name & ~uintptr_t{7}) || !SafeRead(name, s, 64)) {
    // The name may end closer than 64 bytes before an unreadable page: read it shorter.
    int k = 0;
    for (; k < 63 && SafeRead(name + k, s + k, 1) && s[k]; k++) {
    }
    s[k] = '\0';
  }
  s[63] = '\0';
  if (!s[0]) return false;
  std::snprintf(out->function, sizeof out->function, "<%s object>", s);
  out->file[0] = '\0';
  out->line = -1;
  return true;
}

}  // namespace

bool SafeRead(uintptr_t addr, void* buf, unsigned long len) {
  if (len == 0) return true;
  if (g_safe_read_broken.load(std::memory_order_relaxed)) return false;
  struct iovec local = {buf, len};
  struct iovec remote = {reinterpret_cast<void*>(addr), len};
  int saved = errno;
  long n = syscall(SYS_process_vm_readv, static_cast<long>(getpid()), &local, 1UL, &remote, 1UL, 0UL);
  bool broken = n < 0 && (errno == ENOSYS || errno == EPERM);
  errno = saved;  // the program's errno is unchanged
  if (broken) g_safe_read_broken.store(1, std::memory_order_relaxed);
  return n == static_cast<long>(len);
}

CallbackVia DescribeCallback(const uintptr_t* words, int n, const CallbackTypes& t, PyFrameRec* out) {
  const ProcessPython* pp = internal::Published();
  if (!pp || !t.function_type || !t.tuple_type || !t.type_type) return CallbackVia::kNone;
  // Types seen among the candidates, so that each is looked at once.
  uintptr_t rejected[32];
  int nrejected = 0;
  static std::atomic<uintptr_t> thunk_type{0}, cffi_ctype_type{0};
  for (int i = 0; i < n; i++) {
    const uintptr_t w = words[i];
    if (!Plausible(w)) continue;
    unsigned char hdr[kTupleItems + 2 * 8];
    if (!SafeRead(w, hdr, 16)) continue;
    const uintptr_t type = Word(hdr, 8);
    if (!Plausible(type)) continue;
    bool seen = false;
    for (int k = 0; k < nrejected && !seen; k++) seen = rejected[k] == type;
    if (seen) continue;
    if (type == reinterpret_cast<uintptr_t>(t.tuple_type)) {
      // cffi: (ctype, callable, error, onerror); the ctype's type is _cffi_backend.CType(Descr).
      if (!SafeRead(w, hdr, sizeof hdr) || Word(hdr, kTupleSize) != 4) continue;
      const uintptr_t ct = Word(hdr, kTupleItems), callable = Word(hdr, kTupleItems + 8);
      unsigned char cthdr[kCTypeExtra + 8];
      if (!Plausible(ct) || !SafeRead(ct, cthdr, sizeof cthdr)) continue;
      const uintptr_t cttype = Word(cthdr, 8);
      if (cttype != cffi_ctype_type.load(std::memory_order_relaxed)) {
        if (!TypeNameIs(t, cttype, "_cffi_backend.CType", nullptr)) continue;
        cffi_ctype_type.store(cttype, std::memory_order_relaxed);
      }
      // The closure being called: its cif is live in the same frames (not a stale tuple pointer).
      if (!Contains(words, n, Word(cthdr, kCTypeExtra))) continue;
      if (DescribeCallable(*pp, t, callable, out)) return CallbackVia::kCffi;
      continue;
    }
    if (type != thunk_type.load(std::memory_order_relaxed)) {
      uintptr_t basicsize = 0;
      if (!TypeNameIs(t, type, "_ctypes.CThunkObject", &basicsize) || basicsize != kThunkBasicSize) {
        if (nrejected < 32) rejected[nrejected++] = type;
        continue;
      }
      thunk_type.store(type, std::memory_order_relaxed);
    }
    // The thunk being called: libffi passed &thunk->cif along with it (a stale thunk pointer left in
    // an unused stack slot does not come with its cif).
    if (!Contains(words, n, w + kThunkCif)) continue;
    uintptr_t callable;
    if (SafeRead(w + kThunkCallable, &callable, sizeof callable) && DescribeCallable(*pp, t, callable, out))
      return CallbackVia::kCtypes;
  }
  return CallbackVia::kNone;
}

}  // namespace python
}  // namespace locksan
