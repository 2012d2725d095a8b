// tests/python/embed_test.cc — LocateGil()/CaptureCurrentThreadStack() in a C++ program that has no
// Python at first, then dlopen()s libpython3.x.so with RTLD_LOCAL (so dlsym(RTLD_DEFAULT) cannot see
// it), initialises it, releases and re-takes the GIL, and finalises it.
//
// Usage: embed_test /path/libpython3.X.so PYTHONHOME
// Prints PASS/FAIL lines and "RESULT passed=N failed=M".
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/python/gil.h"
#include "core/python/pystack.h"

namespace {

int g_passed = 0, g_failed = 0;

void Check(const char* name, bool ok, const char* detail = "") {
  if (ok) {
    ++g_passed;
    printf("PASS %s\n", name);
  } else {
    ++g_failed;
    printf("FAIL %s: %s\n", name, detail);
  }
}

bool Contains(const char* s, const char* part) { return s != nullptr && strstr(s, part) != nullptr; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: embed_test libpython.so pythonhome\n");
    return 2;
  }
  using locksan::python::CaptureCurrentThreadStack;
  using locksan::python::CurrentThreadHoldsGil;
  using locksan::python::GilInfo;
  using locksan::python::LocateGil;
  using locksan::python::PyFrameRec;
  PyFrameRec frames[8];
  GilInfo gil;
  const char* why = nullptr;

  Check("no Python: refused", !LocateGil(&gil, &why) && Contains(why, "no CPython"), why ? why : "null");
  Check("no Python: no frames", CaptureCurrentThreadStack(frames, 8) == 0);
  Check("no Python: does not hold a GIL", !CurrentThreadHoldsGil());

  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    Check("dlopen libpython", false, dlerror());
    printf("RESULT passed=%d failed=%d\n", g_passed, g_failed);
    return 0;
  }
  Check("libpython invisible to dlsym(RTLD_DEFAULT)", dlsym(RTLD_DEFAULT, "_PyRuntime") == nullptr);
  why = nullptr;
  const bool early = LocateGil(&gil, &why);
  if (Contains(why, "3.6 or older")) {  // nothing more to see on 3.6
    Check("CPython 3.6: refused with its reason", !early);
    printf("RESULT passed=%d failed=%d\n", g_passed, g_failed);
    return 0;
  }
  Check("loaded, not initialised: refused", !early && (Contains(why, "not initialised") ||
                                                        Contains(why, "not created")),
        why ? why : "null");

  setenv("PYTHONHOME", argv[2], 1);
  setenv("PYTHONNOUSERSITE", "1", 1);
  if (int* no_site = static_cast<int*>(dlsym(h, "Py_NoSiteFlag"))) *no_site = 1;
  auto init = reinterpret_cast<void (*)(int)>(dlsym(h, "Py_InitializeEx"));
  auto save = reinterpret_cast<void* (*)()>(dlsym(h, "PyEval_SaveThread"));
  auto restore = reinterpret_cast<void (*)(void*)>(dlsym(h, "PyEval_RestoreThread"));
  auto finalize = reinterpret_cast<int (*)()>(dlsym(h, "Py_FinalizeEx"));
  auto run = reinterpret_cast<int (*)(const char*)>(dlsym(h, "PyRun_SimpleString"));
  if (!init || !save || !restore || !finalize || !run) {
    Check("libpython entry points", false, "dlsym failed");
    printf("RESULT passed=%d failed=%d\n", g_passed, g_failed);
    return 0;
  }
  init(0);
  why = nullptr;
  const bool ok = LocateGil(&gil, &why);
  Check("initialised: located through dl_iterate_phdr", ok, why ? why : "null");
  if (ok) {
    Check("initialised: GIL held by the main thread", *gil.locked == 1 && CurrentThreadHoldsGil());
    Check("initialised: no Python frames yet", CaptureCurrentThreadStack(frames, 8) == 0);
    Check("Python code runs", run("x = sum(range(10))\n") == 0);
    void* ts = save();
    Check("after PyEval_SaveThread: GIL free, not held", *gil.locked == 0 && !CurrentThreadHoldsGil());
    Check("after PyEval_SaveThread: no frames", CaptureCurrentThreadStack(frames, 8) == 0);
    restore(ts);
    Check("after PyEval_RestoreThread: held again", *gil.locked == 1 && CurrentThreadHoldsGil());
    Check("finalize", finalize() == 0);
    Check("finalised: no frames, GIL not held", CaptureCurrentThreadStack(frames, 8) == 0 &&
                                                    !CurrentThreadHoldsGil());
    why = nullptr;
    Check("finalised: refused", !LocateGil(&gil, &why), "located after Py_FinalizeEx");
    printf("INFO after finalize LocateGil says: %s\n", why ? why : "(located)");
  }
  printf("RESULT passed=%d failed=%d\n", g_passed, g_failed);
  return 0;
}
