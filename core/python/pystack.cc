// core/python/pystack.cc — CaptureCurrentThreadStack(): see pystack.h. Reads CPython structs at the
// offsets published by LocateGil(); decodes line tables and str objects itself.
#include "core/python/pystack.h"

#include <pthread.h>

#include <cstdint>
#include <cstring>

#include "core/python/layout.h"
#include "core/python/utf8.h"

namespace locksan {
namespace python {
namespace {

using internal::FrameModel;
using internal::LineTable;
using internal::ProcessPython;
using internal::PyLayout;

constexpr int kMaxWalk = 4096;       // frames visited (skipped ones included): bounds a corrupt chain
constexpr int64_t kMaxStr = 1 << 20;  // longest str we believe
constexpr int64_t kMaxTable = 1 << 24;

template <typename T>
T Load(const char* base, int offset) {
  T v;
  std::memcpy(&v, base + offset, sizeof v);
  return v;
}

const char* LoadPtr(const char* base, int offset) { return Load<const char*>(base, offset); }

bool Plausible(const void* p) {
  uintptr_t v = reinterpret_cast<uintptr_t>(p);
  return v >= 4096 && v < (uintptr_t{1} << 47) && (v & 7) == 0;
}

bool IsA(const ProcessPython& pp, const char* obj, const void* type) {
  return Plausible(obj) && LoadPtr(obj, pp.layout.ob_type) == type;
}

// ---- str objects (PEP 393 compact layout) -------------------------------------------------------

struct StrView {
  const unsigned char* data;
  int64_t length;  // in code points
  int kind;        // 1, 2 or 4 bytes per code point
};

bool ReadStr(const ProcessPython& pp, const char* obj, StrView* s) {
  const PyLayout& l = pp.layout;
  if (!IsA(pp, obj, pp.unicode_type)) return false;
  const uint32_t state = Load<uint32_t>(obj, l.uni_state);
  const int kind = (state >> 2) & 7;
  const bool compact = (state >> 5) & 1;
  const bool ascii = (state >> 6) & 1;
  if (!compact || (kind != 1 && kind != 2 && kind != 4) || (ascii && kind != 1)) return false;
  const int64_t length = Load<int64_t>(obj, l.uni_length);
  if (length < 0 || length > kMaxStr) return false;
  s->data = reinterpret_cast<const unsigned char*>(obj + (ascii ? l.uni_ascii_size : l.uni_compact_size));
  s->length = length;
  s->kind = kind;
  return true;
}

uint32_t CodePoint(const StrView& s, int64_t i) {
  switch (s.kind) {
    case 1:
      return s.data[i];
    case 2: {
      uint16_t c;
      std::memcpy(&c, s.data + 2 * i, 2);
      return c;
    }
    default: {
      uint32_t c;
      std::memcpy(&c, s.data + 4 * i, 4);
      return c;
    }
  }
}

// Encodes code points [from, s.length) into buf, stopping before a character that does not fit.
int EncodeFrom(const StrView& s, int64_t from, char* buf, int cap) {
  int n = 0;
  for (int64_t i = from; i < s.length; ++i) {
    const uint32_t c = Sanitize(CodePoint(s, i));
    if (n + Utf8Len(c) > cap) break;
    n += PutUtf8(c, buf + n);
  }
  return n;
}

void CopyUnknown(char* buf) {
  buf[0] = '?';
  buf[1] = '\0';
}

// CopyHead — the string, cut at a character boundary when it does not fit (function names).
void CopyHead(const ProcessPython& pp, const char* obj, char* buf, int size) {
  StrView s;
  if (!ReadStr(pp, obj, &s)) return CopyUnknown(buf);
  buf[EncodeFrom(s, 0, buf, size - 1)] = '\0';
}

// CopyTail — the string, or "..." and as much of its end as fits (file names keep their basename).
void CopyTail(const ProcessPython& pp, const char* obj, char* buf, int size) {
  StrView s;
  if (!ReadStr(pp, obj, &s)) return CopyUnknown(buf);
  const int cap = size - 1;
  int64_t total = 0;
  for (int64_t i = 0; i < s.length && total <= cap; ++i) total += Utf8Len(Sanitize(CodePoint(s, i)));
  if (total <= cap) {
    buf[EncodeFrom(s, 0, buf, cap)] = '\0';
    return;
  }
  const int budget = cap - 3;
  int64_t from = s.length;
  int used = 0;
  while (from > 0) {
    const int len = Utf8Len(Sanitize(CodePoint(s, from - 1)));
    if (used + len > budget) break;
    used += len;
    --from;
  }
  std::memcpy(buf, "...", 3);
  buf[3 + EncodeFrom(s, from, buf + 3, budget)] = '\0';
}

// ---- line numbers ---------------------------------------------------------------------------

// 3.7–3.9 co_lnotab: pairs (unsigned byte-offset increment, signed line increment).
int LineFromLnotab(const uint8_t* t, int64_t len, int first, int addr) {
  int line = first, a = 0;
  for (int64_t i = 0; i + 1 < len; i += 2) {
    a += t[i];
    if (a > addr) break;
    line += static_cast<int8_t>(t[i + 1]);
  }
  return line;
}

// 3.10 co_linetable: pairs (unsigned byte-length, signed line delta or -128 for "no line").
int LineFromLinetable310(const uint8_t* t, int64_t len, int first, int addr) {
  if (addr < 0) return first;
  int line = first, end = 0;
  for (int64_t i = 0; i + 1 < len; i += 2) {
    const int start = end;
    end += t[i];
    const int delta = static_cast<int8_t>(t[i + 1]);
    int this_line = -1;
    if (delta != -128) {
      line += delta;
      this_line = line;
    }
    if (start != end && addr >= start && addr < end) return this_line;
  }
  return -1;
}

int ScanVarint(const uint8_t* t, int64_t len, int64_t* i) {
  if (*i >= len) return 0;
  unsigned read = t[(*i)++];
  unsigned val = read & 63;
  unsigned shift = 0;
  while ((read & 64) && *i < len && shift < 24) {
    read = t[(*i)++];
    shift += 6;
    val |= (read & 63) << shift;
  }
  return static_cast<int>(val);
}

int ScanSignedVarint(const uint8_t* t, int64_t len, int64_t* i) {
  const unsigned v = static_cast<unsigned>(ScanVarint(t, len, i));
  return (v & 1) ? -static_cast<int>(v >> 1) : static_cast<int>(v >> 1);
}

// 3.11+ location table: entries start with a byte 1cccclll (code, length-1 in code units); codes
// 0–9 short form (same line), 10–12 one-line form (delta code-10), 13 no columns and 14 long form
// (signed varint delta first), 15 no location.
int LineFromLocations(const uint8_t* t, int64_t len, int first, int addr) {
  if (addr < 0) return first;
  int line = first, end = 0;
  int64_t i = 0;
  while (i < len) {
    const uint8_t b = t[i];
    const int code = (b >> 3) & 15;
    const int start = end;
    end += ((b & 7) + 1) * 2;
    int delta = 0;
    if (code == 13 || code == 14) {
      int64_t j = i + 1;
      delta = ScanSignedVarint(t, len, &j);
    } else if (code >= 10 && code <= 12) {
      delta = code - 10;
    }
    line += delta;
    if (addr >= start && addr < end) return code == 15 ? -1 : line;
    ++i;
    while (i < len && (t[i] & 128) == 0) ++i;
  }
  return -1;
}

// LineOf — the line of the instruction at byte offset `addr` of `code` (PyCode_Addr2Line).
int LineOf(const ProcessPython& pp, const char* code, int addr) {
  const PyLayout& l = pp.layout;
  const int first = Load<int>(code, l.co_firstlineno);
  const char* table = LoadPtr(code, l.co_linetable);
  if (!IsA(pp, table, pp.bytes_type)) return -1;
  const int64_t len = Load<int64_t>(table, l.bytes_ob_size);
  if (len < 0 || len > kMaxTable) return -1;
  const uint8_t* t = reinterpret_cast<const uint8_t*>(table + l.bytes_ob_sval);
  switch (l.line_table) {
    case LineTable::kLnotab:
      return LineFromLnotab(t, len, first, addr);
    case LineTable::kLinetable310:
      return LineFromLinetable310(t, len, first, addr);
    case LineTable::kLocations311:
      return LineFromLocations(t, len, first, addr);
  }
  return -1;
}

void Fill(const ProcessPython& pp, const char* code, int addr, PyFrameRec* rec) {
  const PyLayout& l = pp.layout;
  CopyTail(pp, LoadPtr(code, l.co_filename), rec->file, sizeof rec->file);
  CopyHead(pp, LoadPtr(code, l.co_qualname >= 0 ? l.co_qualname : l.co_name), rec->function,
           sizeof rec->function);
  rec->line = LineOf(pp, code, addr);
}

// ---- thread state and frames ----------------------------------------------------------------

// HeldTstate — this thread's PyThreadState if it holds its interpreter's GIL, else nullptr.
const char* HeldTstate(const ProcessPython& pp) {
  const PyLayout& l = pp.layout;
  // This thread's tstate as the PyGILState API records it: a pthread key in _PyRuntime.
  if (Load<int>(pp.runtime, l.rt_autotsskey) != 1) return nullptr;  // Py_tss_t._is_initialized
  const pthread_key_t key = Load<pthread_key_t>(pp.runtime, l.rt_autotsskey + l.tss_key);
  const char* ts = static_cast<const char*>(pthread_getspecific(key));
  if (!Plausible(ts)) return nullptr;
  if (Load<unsigned long>(ts, l.ts_thread_id) != static_cast<unsigned long>(pthread_self())) return nullptr;
  const char* gil = pp.main_gil;
  if (l.interp_ceval_gil >= 0) {  // 3.12+: the GIL of this thread's interpreter
    const char* interp = LoadPtr(ts, l.ts_interp);
    if (!Plausible(interp)) return nullptr;
    gil = LoadPtr(interp, l.interp_ceval_gil);
    if (!Plausible(gil)) return nullptr;
  }
  if (__atomic_load_n(reinterpret_cast<const int*>(gil + l.gil_locked), __ATOMIC_ACQUIRE) != 1) {
    return nullptr;
  }
  if (LoadPtr(gil, l.gil_last_holder) != ts) return nullptr;
  return ts;
}

// The walkers call emit(code, addr) for each frame of user code, innermost first, until it returns
// false; addr is the instruction's byte offset (-1: before the first instruction, 3.7-3.10; -2: an
// instruction pointer outside the code, 3.11+, whose line is unknown). Returns the frames emitted.
template <typename Emit>
int WalkFrameObjects(const ProcessPython& pp, const char* ts, int max, Emit emit) {
  const PyLayout& l = pp.layout;
  int n = 0;
  const char* f = LoadPtr(ts, l.ts_frame);
  for (int guard = 0; f != nullptr && n < max && guard < kMaxWalk; ++guard) {
    if (!IsA(pp, f, pp.frame_type)) break;
    const char* code = LoadPtr(f, l.fo_code);
    if (!IsA(pp, code, pp.code_type)) break;
    const int lasti = Load<int>(f, l.fo_lasti);
    // f_lasti: a byte offset up to 3.9, an index of 2-byte code units in 3.10.
    const int addr = lasti < 0 ? -1 : l.line_table == LineTable::kLinetable310 ? lasti * 2 : lasti;
    emit(code, addr, n++);
    f = LoadPtr(f, l.fo_back);
  }
  return n;
}

template <typename Emit>
int WalkInterpreterFrames(const ProcessPython& pp, const char* ts, int max, Emit emit) {
  const PyLayout& l = pp.layout;
  const char* fr = nullptr;
  if (l.ts_cframe >= 0) {  // 3.11–3.12: tstate->cframe->current_frame
    const char* cframe = LoadPtr(ts, l.ts_cframe);
    if (!Plausible(cframe)) return 0;
    fr = LoadPtr(cframe, l.cframe_current_frame);
  } else {  // 3.13: tstate->current_frame
    fr = LoadPtr(ts, l.ts_current_frame);
  }
  int n = 0;
  for (int guard = 0; fr != nullptr && n < max && guard < kMaxWalk; ++guard) {
    if (!Plausible(fr)) break;
    const int owner = Load<signed char>(fr, l.if_owner);
    const char* previous = LoadPtr(fr, l.if_previous);
    const char* code = LoadPtr(fr, l.if_code);
    if (owner == internal::kFrameOwnedByCStack || !IsA(pp, code, pp.code_type)) {
      fr = previous;  // shim/entry frame (3.12+), or a 3.13 frame whose executable is not code
      continue;
    }
    const char* instr = LoadPtr(fr, l.if_instr);
    const char* first = code + l.co_code_adaptive;
    const int64_t index = (reinterpret_cast<intptr_t>(instr) - reinterpret_cast<intptr_t>(first)) / 2;
    const int64_t units = Load<int64_t>(code, l.bytes_ob_size);  // Py_SIZE(code): code units
    // Incomplete frame: created but not yet past its RESUME (what _PyFrame_IsIncomplete checks).
    if (owner != internal::kFrameOwnedByGenerator && index < Load<int>(code, l.co_firsttraceable)) {
      fr = previous;
      continue;
    }
    const int addr = index >= 0 && index < units ? static_cast<int>(index * 2) : -2;
    emit(code, addr, n++);
    fr = previous;
  }
  return n;
}

template <typename Emit>
int Walk(const ProcessPython& pp, const char* ts, int max, Emit emit) {
  if (pp.layout.frame_model == FrameModel::kFrameObject) return WalkFrameObjects(pp, ts, max, emit);
  return WalkInterpreterFrames(pp, ts, max, emit);
}

// FillRec — the record of the frame at (code, addr) as the walkers report it.
void FillRec(const ProcessPython& pp, const char* code, int addr, PyFrameRec* rec) {
  Fill(pp, code, addr, rec);
  if (addr == -2) rec->line = -1;
}

// CodeCheck — a digest of what a frame's record is decoded from besides the code object's address
// and the offset: its file name, name and line-table objects and first line.
uint64_t CodeCheck(const ProcessPython& pp, const char* code) {
  const PyLayout& l = pp.layout;
  uint64_t h = reinterpret_cast<uintptr_t>(LoadPtr(code, l.co_filename));
  h = (h ^ (h >> 31)) * 0x9e3779b97f4a7c15ULL ^
      reinterpret_cast<uintptr_t>(LoadPtr(code, l.co_qualname >= 0 ? l.co_qualname : l.co_name));
  h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ULL ^ reinterpret_cast<uintptr_t>(LoadPtr(code, l.co_linetable));
  h = (h ^ (h >> 32)) * 0x94d049bb133111ebULL ^ static_cast<uint32_t>(Load<int>(code, l.co_firstlineno));
  return h ^ (h >> 31);
}

}  // namespace

bool CurrentThreadHoldsGil() {
  const ProcessPython* pp = internal::Published();
  return pp != nullptr && HeldTstate(*pp) != nullptr;
}

// This thread's PyThreadState as the last full check (HeldTstate) found it: TookGil (core/gil.h)
// compares the GIL's last holder with it before it reads anything through the holder, so that a
// thread that gave up the GIL never reads another thread's state (which may be freed meanwhile).
__thread const char* t_own_tstate __attribute__((tls_model("initial-exec")));

bool ThisThreadTookMainGil() {
  const ProcessPython* pp = internal::Published();
  if (pp == nullptr || pp->main_gil == nullptr) return false;
  const PyLayout& l = pp->layout;
  const char* gil = pp->main_gil;
  if (__atomic_load_n(reinterpret_cast<const int*>(gil + l.gil_locked), __ATOMIC_ACQUIRE) != 1) return false;
  // The full check, through this thread's own state only (the common case, the last holder being
  // t_own_tstate, is core/gil.h's TookGil, which calls this when it fails).
  const char* ts = HeldTstate(*pp);
  if (ts != nullptr) t_own_tstate = ts;
  return ts != nullptr && ts == LoadPtr(gil, l.gil_last_holder);
}

// OwnTstate — this thread's PyThreadState, whether or not it holds the GIL.
static const char* OwnTstate(const ProcessPython& pp) {
  const PyLayout& l = pp.layout;
  if (Load<int>(pp.runtime, l.rt_autotsskey) != 1) return nullptr;
  const pthread_key_t key = Load<pthread_key_t>(pp.runtime, l.rt_autotsskey + l.tss_key);
  const char* ts = static_cast<const char*>(pthread_getspecific(key));
  if (!Plausible(ts)) return nullptr;
  if (Load<unsigned long>(ts, l.ts_thread_id) != static_cast<unsigned long>(pthread_self())) return nullptr;
  return ts;
}

int CaptureOwnStack(PyFrameRec* out, int max) {
  if (out == nullptr || max <= 0) return 0;
  const ProcessPython* pp = internal::Published();
  if (pp == nullptr) return 0;
  const char* ts = OwnTstate(*pp);
  if (ts == nullptr) return 0;
  return Walk(*pp, ts, max, [&](const char* code, int addr, int i) { FillRec(*pp, code, addr, &out[i]); });
}

int CaptureOwnStackKeys(PyFrameKey* out, int max) {
  if (out == nullptr || max <= 0) return 0;
  const ProcessPython* pp = internal::Published();
  if (pp == nullptr) return 0;
  const char* ts = OwnTstate(*pp);
  if (ts == nullptr) return 0;
  return Walk(*pp, ts, max, [&](const char* code, int addr, int i) {
    out[i].code = code;
    out[i].check = CodeCheck(*pp, code);
    out[i].addr = addr;
  });
}

void DecodeFrameKeys(const PyFrameKey* keys, int n, PyFrameRec* out) {
  const ProcessPython* pp = internal::Published();
  if (pp == nullptr) return;
  for (int i = 0; i < n; ++i) FillRec(*pp, static_cast<const char*>(keys[i].code), keys[i].addr, &out[i]);
}

int CaptureCurrentThreadStack(PyFrameRec* out, int max) {
  if (out == nullptr || max <= 0) return 0;
  const ProcessPython* pp = internal::Published();
  if (pp == nullptr) return 0;
  const char* ts = HeldTstate(*pp);
  if (ts == nullptr) return 0;
  return Walk(*pp, ts, max, [&](const char* code, int addr, int i) { FillRec(*pp, code, addr, &out[i]); });
}

}  // namespace python
}  // namespace locksan
