// core/python/gil.cc — LocateGil(): find the main interpreter's GIL by reading _PyRuntime at known
// offsets (layout.cc), with cheap cross-checks so that a wrong table entry gives "false + reason",
// never a wrong address. See gil.h for the contract and docs/python.md for the mechanism.
#include "core/python/gil.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>

#include <cstdint>
#include <cstring>

#include "core/python/layout.h"

namespace locksan {
namespace python {
namespace {

using internal::LayoutForMinor;
using internal::ProcessPython;
using internal::PyLayout;

// A handle on libpython3.x.so when it was loaded RTLD_LOCAL (an embedding program that dlopen()ed it),
// so that dlsym(RTLD_DEFAULT) cannot see it. Found once, never closed.
struct LibFinder {
  char path[512];
  bool found;
};

int FindLibpython(struct dl_phdr_info* info, size_t, void* data) {
  LibFinder* f = static_cast<LibFinder*>(data);
  const char* name = info->dlpi_name;
  if (name == nullptr || std::strstr(name, "libpython3.") == nullptr) return 0;
  size_t n = std::strlen(name);
  if (n >= sizeof(f->path)) return 0;
  std::memcpy(f->path, name, n + 1);
  f->found = true;
  return 1;
}

void* LocalLibpythonHandle() {
  static void* handle = nullptr;  // benign race: every thread finds the same handle
  if (handle != nullptr) return handle;
  LibFinder f;
  f.found = false;
  dl_iterate_phdr(FindLibpython, &f);
  if (!f.found) return nullptr;
  handle = dlopen(f.path, RTLD_LAZY | RTLD_NOLOAD);
  return handle;
}

void* Sym(const char* name) {
  void* p = dlsym(RTLD_DEFAULT, name);
  if (p != nullptr) return p;
  void* h = LocalLibpythonHandle();
  return h != nullptr ? dlsym(h, name) : nullptr;
}

template <typename T>
T Load(const char* base, int offset) {
  T v;
  std::memcpy(&v, base + offset, sizeof v);
  return v;
}

const char* LoadPtr(const char* base, int offset) { return Load<const char*>(base, offset); }

bool PlausiblePtr(const void* p) {
  uintptr_t v = reinterpret_cast<uintptr_t>(p);
  return v >= 4096 && v < (uintptr_t{1} << 47) && (v & 7) == 0;
}

// ParseVersion — "3.10.13 (main, ...)" / "3.9.0rc2+ ..." -> PY_VERSION_HEX, 0 when unreadable.
int ParseVersion(const char* s) {
  int part[3] = {0, 0, 0};
  int i = 0;
  const char* p = s;
  for (; i < 3; ++i) {
    if (*p < '0' || *p > '9') break;
    int v = 0;
    while (*p >= '0' && *p <= '9' && v < 1000) v = v * 10 + (*p++ - '0');
    part[i] = v;
    if (*p != '.') {
      ++i;
      break;
    }
    ++p;
  }
  if (i < 2) return 0;
  int level = 0xF, serial = 0;
  if (*p == 'a' || *p == 'b' || (p[0] == 'r' && p[1] == 'c')) {
    level = *p == 'a' ? 0xA : *p == 'b' ? 0xB : 0xC;
    p += level == 0xC ? 2 : 1;
    while (*p >= '0' && *p <= '9') serial = serial * 10 + (*p++ - '0');
  }
  return (part[0] << 24) | (part[1] << 16) | (part[2] << 8) | (level << 4) | (serial & 0xF);
}

// The start of 3.13's _Py_DebugOffsets (Include/internal/pycore_runtime.h), which _PyRuntime begins
// with: uint64_t fields, in this order. Only what the runtime uses is read.
struct DebugOffsets313 {
  char cookie[8];
  uint64_t version, free_threaded;
  struct { uint64_t size, finalizing, interpreters_head; } runtime_state;
  struct {
    uint64_t size, id, next, threads_head, gc, imports_modules, sysdict, builtins, ceval_gil,
        gil_runtime_state, gil_runtime_state_enabled, gil_runtime_state_locked,
        gil_runtime_state_holder;
  } interpreter_state;
  struct {
    uint64_t size, prev, next, interp, current_frame, thread_id, native_thread_id, datastack_chunk,
        status;
  } thread_state;
  struct { uint64_t size, previous, executable, instr_ptr, localsplus, owner; } interpreter_frame;
  struct {
    uint64_t size, filename, name, qualname, linetable, firstlineno, argcount, localsplusnames,
        localspluskinds, co_code_adaptive;
  } code_object;
  struct { uint64_t size, ob_type; } pyobject;
  struct { uint64_t size, tp_name, tp_repr, tp_flags; } type_object;
  struct { uint64_t size, ob_item, ob_size; } tuple_object, list_object;
  struct { uint64_t size, ma_keys, ma_values; } dict_object;
  struct { uint64_t size, ob_fval; } float_object;
  struct { uint64_t size, lv_tag, ob_digit; } long_object;
  struct { uint64_t size, ob_size, ob_sval; } bytes_object;
  struct { uint64_t size, state, length, asciiobject_size; } unicode_object;
};

bool Within(uint64_t off, uint64_t size) { return off < size && size < (1u << 20); }

// ApplyDebugOffsets — overrides the 3.13 table with the binary's own _Py_DebugOffsets (they are
// authoritative for this exact build). Returns false with a reason when they look wrong.
bool ApplyDebugOffsets(const DebugOffsets313& d, PyLayout* l, const char** why) {
  const auto& is = d.interpreter_state;
  const auto& ts = d.thread_state;
  const auto& fr = d.interpreter_frame;
  const auto& co = d.code_object;
  const auto& un = d.unicode_object;
  bool ok = Within(is.ceval_gil, is.size) && Within(is.gil_runtime_state, is.size) &&
            is.gil_runtime_state_locked > is.gil_runtime_state &&
            is.gil_runtime_state_locked - is.gil_runtime_state < 64 &&
            is.gil_runtime_state_holder > is.gil_runtime_state &&
            is.gil_runtime_state_holder - is.gil_runtime_state < 64 && Within(ts.interp, ts.size) &&
            Within(ts.current_frame, ts.size) && Within(ts.thread_id, ts.size) &&
            Within(fr.previous, fr.size) && Within(fr.executable, fr.size) &&
            Within(fr.instr_ptr, fr.size) && Within(fr.owner, fr.size) &&
            Within(co.filename, co.size) && Within(co.name, co.size) && Within(co.qualname, co.size) &&
            Within(co.linetable, co.size) && Within(co.firstlineno, co.size) &&
            co.co_code_adaptive < co.size && co.size - co.co_code_adaptive <= 8 &&
            co.co_code_adaptive >= 16 &&
            d.pyobject.ob_type == 8 && Within(d.bytes_object.ob_sval, d.bytes_object.size + 1) &&
            Within(un.state, un.size) && Within(un.length, un.size) && un.asciiobject_size <= un.size;
  if (!ok) {
    *why = "CPython 3.13: _Py_DebugOffsets look implausible; layout unknown";
    return false;
  }
  l->interp_ceval_gil = static_cast<int>(is.ceval_gil);
  l->interp_own_gil = static_cast<int>(is.gil_runtime_state);
  l->gil_locked = static_cast<int>(is.gil_runtime_state_locked - is.gil_runtime_state);
  l->gil_last_holder = static_cast<int>(is.gil_runtime_state_holder - is.gil_runtime_state);
  l->ts_interp = static_cast<int>(ts.interp);
  l->ts_current_frame = static_cast<int>(ts.current_frame);
  l->ts_thread_id = static_cast<int>(ts.thread_id);
  l->if_previous = static_cast<int>(fr.previous);
  l->if_code = static_cast<int>(fr.executable);
  l->if_instr = static_cast<int>(fr.instr_ptr);
  l->if_owner = static_cast<int>(fr.owner);
  l->co_filename = static_cast<int>(co.filename);
  l->co_name = static_cast<int>(co.name);
  l->co_qualname = static_cast<int>(co.qualname);
  l->co_linetable = static_cast<int>(co.linetable);
  l->co_firstlineno = static_cast<int>(co.firstlineno);
  l->co_code_adaptive = static_cast<int>(co.co_code_adaptive);
  // `int _co_firsttraceable; void* co_extra;` directly precede co_code_adaptive (3.11–3.13).
  l->co_firsttraceable = static_cast<int>(co.co_code_adaptive) - 16;
  l->bytes_ob_size = static_cast<int>(d.bytes_object.ob_size);
  l->bytes_ob_sval = static_cast<int>(d.bytes_object.ob_sval);
  l->uni_state = static_cast<int>(un.state);
  l->uni_length = static_cast<int>(un.length);
  l->uni_ascii_size = static_cast<int>(un.asciiobject_size);
  l->uni_compact_size = static_cast<int>(un.asciiobject_size) + 16;  // + utf8_length, utf8
  return true;
}

// SymbolEnd — one past the end of the data symbol that contains `p` (from its ELF size), or nullptr.
const char* SymbolEnd(const void* p) {
  Dl_info info;
  void* extra = nullptr;
  if (dladdr1(p, &info, &extra, RTLD_DL_SYMENT) == 0) return nullptr;
  const ElfW(Sym)* sym = static_cast<const ElfW(Sym)*>(extra);
  if (sym == nullptr ||
      info.dli_saddr == nullptr || sym->st_size == 0) {
    return nullptr;
  }
  return static_cast<const char*>(info.dli_saddr) + sym->st_size;
}

bool Fail(const char** why, const char* reason) {
  if (why != nullptr) *why = reason;
  return false;
}

}  // namespace

bool LocateGil(GilInfo* out, const char** why) {
  GilInfo local;
  if (out == nullptr) out = &local;
  *out = GilInfo();
  const char* reason = nullptr;
  const char** w = why != nullptr ? why : &reason;

  const char* rt = static_cast<const char*>(Sym("_PyRuntime"));
  if (rt == nullptr) {
    if (Sym("Py_GetVersion") != nullptr) {
      return Fail(w, "CPython 3.6 or older: the GIL is not in an exported structure (unsupported)");
    }
    return Fail(w, "no CPython in this process (no _PyRuntime symbol)");
  }

  // Version: Py_Version (3.11+) or the static string of Py_GetVersion() (3.7–3.10).
  int version = 0;
  if (const unsigned long* v = static_cast<const unsigned long*>(Sym("Py_Version"))) {
    version = static_cast<int>(*v);
  } else if (void* f = Sym("Py_GetVersion")) {
    using GetVersion = const char* (*)();
    const char* s = reinterpret_cast<GetVersion>(f)();
    if (s != nullptr) version = ParseVersion(s);
  }
  out->version_hex = version;
  if (version == 0) return Fail(w, "CPython found but its version is unreadable");
  const int major = (version >> 24) & 0xFF, minor = (version >> 16) & 0xFF;

  // 3.13+ starts _PyRuntime with _Py_DebugOffsets; it says whether the build is free-threaded.
  DebugOffsets313 dbg;
  bool have_dbg = false;
  if (major == 3 && minor >= 13) {
    std::memcpy(&dbg, rt, sizeof dbg);
    have_dbg = std::memcmp(dbg.cookie, "xdebugpy", 8) == 0 &&
               (dbg.version >> 16) == static_cast<uint64_t>(version >> 16);
    if (have_dbg && dbg.free_threaded != 0) {
      out->free_threaded = true;
      return Fail(w, "free-threaded CPython (3.13t and later) has no GIL to track (unsupported)");
    }
  }
  const PyLayout* table = major == 3 ? LayoutForMinor(minor) : nullptr;
  if (table == nullptr) {
    return Fail(w, major == 3 && minor < 7 ? "CPython older than 3.7 is not supported"
                                            : "CPython version not supported (3.7 to 3.13 are)");
  }
  if (Sym("_Py_NegativeRefcount") != nullptr || Sym("_Py_RefTotal") != nullptr) {
    return Fail(w, "debug build of CPython (Py_DEBUG): struct layouts differ (unsupported)");
  }

  ProcessPython pp;
  pp.layout = *table;
  pp.version_hex = version;
  pp.runtime = rt;
  pp.code_type = Sym("PyCode_Type");
  pp.unicode_type = Sym("PyUnicode_Type");
  pp.bytes_type = Sym("PyBytes_Type");
  pp.frame_type = Sym("PyFrame_Type");
  const void* type_type = Sym("PyType_Type");
  pp.function_type = Sym("PyFunction_Type");
  pp.method_type = Sym("PyMethod_Type");
  pp.tuple_type = Sym("PyTuple_Type");
  pp.type_type = type_type;
  if (pp.code_type == nullptr || pp.unicode_type == nullptr || pp.bytes_type == nullptr ||
      pp.frame_type == nullptr || type_type == nullptr) {
    return Fail(w, "CPython type objects not found by dlsym");
  }
  PyLayout& l = pp.layout;
  if (minor == 13) {
    if (!have_dbg) return Fail(w, "CPython 3.13 without the _Py_DebugOffsets cookie (unsupported)");
    if (!ApplyDebugOffsets(dbg, &l, w)) return false;
  }
  // Object header check: PyUnicode_Type's ob_type is &PyType_Type (fails for Py_TRACE_REFS builds).
  if (LoadPtr(static_cast<const char*>(pp.unicode_type), l.ob_type) != type_type) {
    return Fail(w, "CPython object header layout not recognised (Py_TRACE_REFS build?)");
  }

  const char* rt_end = SymbolEnd(rt);
  const char* main_interp = LoadPtr(rt, l.rt_interpreters_main);
  if (main_interp == nullptr) return Fail(w, "CPython not initialised yet (no main interpreter)");
  if (!PlausiblePtr(main_interp)) return Fail(w, "CPython layout mismatch (interpreters.main)");
  const char* gil = nullptr;
  if (l.rt_ceval_gil >= 0) {
    gil = rt + l.rt_ceval_gil;  // 3.7–3.11: _PyRuntime.ceval.gil
  } else {
    // 3.12+: the main interpreter is embedded in _PyRuntime and owns its GIL (interp->_gil).
    if (main_interp != rt + l.rt_main_interpreter) {
      return Fail(w, "CPython layout mismatch (interpreters.main is not _PyRuntime._main_interpreter)");
    }
    gil = LoadPtr(main_interp, l.interp_ceval_gil);
    if (gil == nullptr) return Fail(w, "CPython not initialised yet (GIL not created)");
    if (gil != main_interp + l.interp_own_gil) {
      return Fail(w, "CPython layout mismatch (main interpreter's ceval.gil)");
    }
  }
  if (rt_end != nullptr && gil + l.gil_switch_mutex + 40 > rt_end) {
    return Fail(w, "CPython layout mismatch (GIL outside _PyRuntime)");
  }
  const int locked = __atomic_load_n(reinterpret_cast<const int*>(gil + l.gil_locked), __ATOMIC_ACQUIRE);
  if (locked == -1) return Fail(w, "CPython not initialised yet (GIL not created, or already destroyed)");
  if (locked != 0 && locked != 1) return Fail(w, "CPython layout mismatch (gil->locked is not 0/1)");
  const void* holder = LoadPtr(gil, l.gil_last_holder);
  if (holder != nullptr && !PlausiblePtr(holder)) {
    return Fail(w, "CPython layout mismatch (gil->last_holder)");
  }

  pp.main_gil = gil;
  out->mutex = gil + l.gil_mutex;
  out->cond = gil + l.gil_cond;
  out->switch_cond = gil + l.gil_switch_cond;
  out->switch_mutex = gil + l.gil_switch_mutex;
  out->locked = reinterpret_cast<const volatile int*>(gil + l.gil_locked);
  out->last_holder = reinterpret_cast<const char* const volatile*>(gil + l.gil_last_holder);
  out->ts_thread_id_offset = l.ts_thread_id;
  internal::Publish(pp);
  if (why != nullptr) *why = nullptr;
  return true;
}

}  // namespace python
}  // namespace locksan
