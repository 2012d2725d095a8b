// Naming ctypes/cffi callbacks from candidate words (core/python/callback.h) and finding the C caller
// (report/symbolized.h CallbackCaller), without an interpreter: fake CPython objects with the 3.12
// layout are built in memory and published as the process's Python. Garbage among the candidates —
// unmapped and PROT_NONE addresses, wrong types, a str whose data runs into an inaccessible page —
// must give no name and never fault (a fault kills this test); so must a stale callback object whose
// cif is not among the words (not the closure being called).
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

#include <gtest/gtest.h>

#include "core/python/callback.h"
#include "core/python/layout.h"
#include "report/symbolized.h"

namespace locksan {
namespace python {
namespace {

using internal::ProcessPython;
using internal::PyLayout;

// An object: 8-byte words, zeroed, in a static pool (never freed: the published record keeps type
// addresses for the whole process).
struct alignas(16) Obj {
  uint64_t w[40];
};
Obj g_pool[256];
int g_used;

Obj* New(const void* type) {
  Obj* o = &g_pool[g_used++];
  memset(o, 0, sizeof *o);
  o->w[0] = 1;  // ob_refcnt
  o->w[1] = reinterpret_cast<uint64_t>(type);
  return o;
}

void Put(Obj* o, int offset, const void* p) { memcpy(reinterpret_cast<char*>(o) + offset, &p, sizeof p); }
void PutInt(Obj* o, int offset, int v) { memcpy(reinterpret_cast<char*>(o) + offset, &v, sizeof v); }
uintptr_t Addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

struct Fake {
  Obj* type_type;
  Obj* unicode_type;
  Obj* code_type;
  Obj* function_type;
  Obj* method_type;
  Obj* tuple_type;
  Obj* bytes_type;
  Obj* frame_type;
  CallbackTypes types;
  const PyLayout* l;
};

// A type object named `name` (tp_name at 24, tp_basicsize at 32).
Obj* Type(Fake* f, const char* name, uint64_t basicsize) {
  Obj* t = New(f->type_type);
  Put(t, 24, name);
  t->w[4] = basicsize;
  return t;
}

// A compact ASCII str (3.12: PyASCIIObject is 40 bytes, data after it).
Obj* Str(Fake* f, const char* s) {
  Obj* o = New(f->unicode_type);
  const size_t n = strlen(s);
  o->w[2] = n;                               // length at 16
  PutInt(o, f->l->uni_state, (1 << 2) | (1 << 5) | (1 << 6));  // kind 1, compact, ascii
  memcpy(reinterpret_cast<char*>(o) + f->l->uni_ascii_size, s, n + 1);
  return o;
}

// A function: func_qualname at 40, func_code at 48 (3.10+); its code's co_filename / co_firstlineno.
Obj* Function(Fake* f, const char* qualname, const char* file, int line) {
  Obj* code = New(f->code_type);
  Put(code, f->l->co_filename, Str(f, file));
  PutInt(code, f->l->co_firstlineno, line);
  Obj* fn = New(f->function_type);
  Put(fn, 40, Str(f, qualname));
  Put(fn, 48, code);
  return fn;
}

Fake* FakePython() {
  static Fake* fake = nullptr;
  if (fake) return fake;
  static Fake f;
  f.l = internal::LayoutForMinor(12);
  f.type_type = New(nullptr);
  f.type_type->w[1] = Addr(f.type_type);  // type(type) is type
  f.unicode_type = New(f.type_type);
  f.code_type = New(f.type_type);
  f.function_type = New(f.type_type);
  f.method_type = New(f.type_type);
  f.tuple_type = New(f.type_type);
  f.bytes_type = New(f.type_type);
  f.frame_type = New(f.type_type);
  ProcessPython pp{};
  pp.layout = *f.l;
  pp.version_hex = 0x030c01f0;
  pp.code_type = f.code_type;
  pp.unicode_type = f.unicode_type;
  pp.bytes_type = f.bytes_type;
  pp.frame_type = f.frame_type;
  pp.function_type = f.function_type;
  pp.method_type = f.method_type;
  pp.tuple_type = f.tuple_type;
  pp.type_type = f.type_type;
  static char runtime[64];
  pp.runtime = runtime;
  internal::Publish(pp);
  f.types.function_type = f.function_type;
  f.types.method_type = f.method_type;
  f.types.tuple_type = f.tuple_type;
  f.types.type_type = f.type_type;
  fake = &f;
  return fake;
}

// Two pages: the first readable, the second PROT_NONE; and the address of an unmapped page.
struct Pages {
  char* readable;
  char* none;
  uintptr_t unmapped;
};

Pages MapPages() {
  const long pg = sysconf(_SC_PAGESIZE);
  char* p = static_cast<char*>(mmap(nullptr, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  EXPECT_NE(p, MAP_FAILED);
  EXPECT_EQ(mprotect(p + pg, pg, PROT_NONE), 0);
  EXPECT_EQ(munmap(p + 2 * pg, pg), 0);
  return {p, p + pg, Addr(p + 2 * pg)};
}

TEST(PyCallback, SafeReadNeverFaultsAndKeepsErrno) {
  const Pages pages = MapPages();
  const char text[] = "hello";
  char buf[8] = {};
  errno = 1234;
  EXPECT_TRUE(SafeRead(Addr(text), buf, sizeof text));
  EXPECT_STREQ(buf, "hello");
  EXPECT_FALSE(SafeRead(16, buf, 8));
  EXPECT_FALSE(SafeRead(pages.unmapped, buf, 8));
  EXPECT_FALSE(SafeRead(Addr(pages.none), buf, 8));
  EXPECT_FALSE(SafeRead(Addr(pages.none) - 4, buf, 8));  // the last 4 bytes are readable, the rest not
  EXPECT_EQ(errno, 1234);
}

TEST(PyCallback, NamesTheCtypesCallbackAfterGarbage) {
  Fake* f = FakePython();
  const Pages pages = MapPages();
  Obj* thunk_type = Type(f, "_ctypes.CThunkObject", 128);
  Obj* thunk = New(thunk_type);
  Put(thunk, 88, Function(f, "Handler.on_event", "/srv/job/handlers.py", 42));
  Obj* random = New(nullptr);
  for (int i = 0; i < 40; i++) random->w[i] = 0x9e3779b97f4a7c15ULL * (i + 1);
  Obj* bad_type = New(reinterpret_cast<void*>(pages.unmapped));  // its type is unmapped
  const uintptr_t words[] = {0,
                             1,
                             0xdeadbeef,
                             ~uintptr_t{0},
                             pages.unmapped,
                             Addr(pages.none),
                             Addr(pages.none) - 8,  // readable object header, type word beyond
                             Addr(random),
                             Addr(bad_type),
                             Addr(f->unicode_type),
                             Addr(thunk),
                             Addr(thunk) + 40};  // &thunk->cif, which libffi passes along
  PyFrameRec rec;
  ASSERT_EQ(DescribeCallback(words, sizeof words / sizeof words[0], f->types, &rec), CallbackVia::kCtypes);
  EXPECT_STREQ(rec.function, "Handler.on_event");
  EXPECT_STREQ(rec.file, "/srv/job/handlers.py");
  EXPECT_EQ(rec.line, 42);
}

TEST(PyCallback, BoundMethodIsNamedByItsFunction) {
  Fake* f = FakePython();
  Obj* method = New(f->method_type);
  Put(method, 16, Function(f, "Worker.done", "/srv/w.py", 7));
  Obj* thunk = New(Type(f, "_ctypes.CThunkObject", 128));
  Put(thunk, 88, method);
  const uintptr_t words[] = {Addr(thunk), Addr(thunk) + 40};
  PyFrameRec rec;
  ASSERT_EQ(DescribeCallback(words, 2, f->types, &rec), CallbackVia::kCtypes);
  EXPECT_STREQ(rec.function, "Worker.done");
  EXPECT_EQ(rec.line, 7);
}

TEST(PyCallback, OtherCallablesAreNamedByTheirType) {
  Fake* f = FakePython();
  Obj* partial = New(Type(f, "functools.partial", 64));
  Obj* thunk = New(Type(f, "_ctypes.CThunkObject", 128));
  Put(thunk, 88, partial);
  const uintptr_t words[] = {Addr(thunk) + 40, Addr(thunk)};
  PyFrameRec rec;
  ASSERT_EQ(DescribeCallback(words, 2, f->types, &rec), CallbackVia::kCtypes);
  EXPECT_STREQ(rec.function, "<functools.partial object>");
  EXPECT_STREQ(rec.file, "");
  EXPECT_EQ(rec.line, -1);
}

TEST(PyCallback, NamesTheCffiCallback) {
  Fake* f = FakePython();
  Obj* ctype = New(Type(f, "_cffi_backend.CType", 96));
  static char cif_description[64];
  Put(ctype, 40, cif_description);  // ct_extra: the cif the closure was prepared with
  Obj* info = New(f->tuple_type);
  info->w[2] = 4;  // ob_size
  Put(info, 24, ctype);
  Put(info, 32, Function(f, "on_data", "/srv/cb.py", 3));
  Obj* other_tuple = New(f->tuple_type);  // a tuple that is not cffi's: (1-tuple)
  other_tuple->w[2] = 1;
  PyFrameRec rec;
  const uintptr_t without_cif[] = {Addr(other_tuple), Addr(info)};  // a stale tuple pointer
  EXPECT_EQ(DescribeCallback(without_cif, 2, f->types, &rec), CallbackVia::kNone);
  const uintptr_t words[] = {Addr(other_tuple), Addr(info), Addr(cif_description)};
  ASSERT_EQ(DescribeCallback(words, 3, f->types, &rec), CallbackVia::kCffi);
  EXPECT_STREQ(rec.function, "on_data");
  EXPECT_STREQ(rec.file, "/srv/cb.py");
}

TEST(PyCallback, LookalikesAreNotNamed) {
  Fake* f = FakePython();
  const Pages pages = MapPages();
  // The right name with the wrong size: not a CThunkObject.
  Obj* wrong_size = New(Type(f, "_ctypes.CThunkObject", 120));
  Put(wrong_size, 88, Function(f, "nope", "/x.py", 1));
  // A CThunk-like object whose type's type is not `type`.
  Obj* meta = New(f->function_type);
  Put(meta, 24, "_ctypes.CThunkObject");
  meta->w[4] = 128;
  Obj* wrong_meta = New(meta);
  Put(wrong_meta, 88, Function(f, "nope", "/x.py", 1));
  // A real thunk whose callable claims to be a function but whose code is not a code object.
  Obj* bad_fn = New(f->function_type);
  Put(bad_fn, 40, Str(f, "nope"));
  Put(bad_fn, 48, Str(f, "not code"));
  Obj* thunk_bad_fn = New(Type(f, "_ctypes.CThunkObject", 128));
  Put(thunk_bad_fn, 88, bad_fn);
  // A thunk whose callable's qualname is a str whose data runs into the PROT_NONE page.
  Obj* fn_bad_name = Function(f, "placeholder", "/x.py", 1);
  const long pg = sysconf(_SC_PAGESIZE);
  char* str = pages.none - 48;  // 40-byte header + 8 readable data bytes, then PROT_NONE
  memset(str, 0, 48);
  uint64_t hdr[5] = {1, Addr(f->unicode_type), 1000, 0, 0};
  memcpy(str, hdr, sizeof hdr);
  const int state = (1 << 2) | (1 << 5) | (1 << 6);
  memcpy(str + f->l->uni_state, &state, sizeof state);
  (void)pg;
  Put(fn_bad_name, 40, str);
  Obj* thunk_bad_name = New(Type(f, "_ctypes.CThunkObject", 128));
  Put(thunk_bad_name, 88, fn_bad_name);
  // A cffi-shaped tuple whose first item is not a CType.
  Obj* not_cffi = New(f->tuple_type);
  not_cffi->w[2] = 4;
  Put(not_cffi, 24, Str(f, "ctype?"));
  Put(not_cffi, 32, Function(f, "nope", "/x.py", 1));
  // A real thunk with a good callable whose cif is not among the words: a stale pointer, not the
  // closure being called.
  Obj* stale = New(Type(f, "_ctypes.CThunkObject", 128));
  Put(stale, 88, Function(f, "stale", "/x.py", 1));
  const uintptr_t words[] = {Addr(wrong_size),     Addr(wrong_size) + 40, Addr(wrong_meta),
                             Addr(wrong_meta) + 40, Addr(thunk_bad_fn),  Addr(thunk_bad_fn) + 40,
                             Addr(thunk_bad_name), Addr(thunk_bad_name) + 40, Addr(not_cffi),
                             Addr(stale),          Addr(stale) + 48};
  PyFrameRec rec;
  EXPECT_EQ(DescribeCallback(words, sizeof words / sizeof words[0], f->types, &rec), CallbackVia::kNone);
}

// The C caller: after the interpreter's frames, the callback module's and libffi's.
TEST(PyCallback, CallerIsTheFrameAfterTheCallbackAndLibffiFrames) {
  FrameInfo frames[8];
  const char* modules[] = {"/usr/bin/python3.12",       "/usr/bin/python3.12",
                           "/usr/lib/_ctypes.so",       "/usr/lib/_ctypes.so",
                           "/lib/libffi.so.8",          "/lib/libffi.so.8",
                           "/usr/lib/libcuda.so.1",     "/usr/lib/libcuda.so.1"};
  for (int i = 0; i < 8; i++) {
    memset(&frames[i], 0, sizeof frames[i]);
    snprintf(frames[i].module, sizeof frames[i].module, "%s", modules[i]);
    snprintf(frames[i].function, sizeof frames[i].function, "f%d", i);
  }
  SymStack s{8, frames};
  const FrameInfo* c = CallbackCaller(&s);
  ASSERT_NE(c, nullptr);
  EXPECT_STREQ(c->function, "f6");
  // cffi with a static libffi: the callback module holds libffi's frames too.
  snprintf(frames[4].module, sizeof frames[4].module, "/usr/lib/_ctypes.so");
  snprintf(frames[5].module, sizeof frames[5].module, "/usr/lib/_ctypes.so");
  c = CallbackCaller(&s);
  ASSERT_NE(c, nullptr);
  EXPECT_STREQ(c->function, "f6");
  SymStack only_interp{2, frames};
  EXPECT_EQ(CallbackCaller(&only_interp), nullptr);
  EXPECT_EQ(CallbackCaller(nullptr), nullptr);
}

}  // namespace
}  // namespace python
}  // namespace locksan
