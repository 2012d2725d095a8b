// Python stack depot (core/gil.cc): equal stacks share one record whatever their buffers hold after
// the strings' NULs (a capture's buffer is not cleared; whole-record comparison once stored a new
// record per capture: unbounded memory, and a linear walk of a growing chain on every capture).
#include <cstring>

#include <gtest/gtest.h>

#include "core/gil.h"
#include "core/python/pystack.h"

namespace locksan {
namespace {

void Fill(python::PyFrameRec* f, int n, char garbage, const char* function) {
  memset(f, garbage, sizeof(python::PyFrameRec) * n);
  for (int i = 0; i < n; i++) {
    snprintf(f[i].file, sizeof f[i].file, "/srv/job/module%d.py", i);
    snprintf(f[i].function, sizeof f[i].function, "%s", function);
    f[i].line = 10 + i;
  }
}

TEST(PyStackDepot, EqualStacksShareOneRecordWhateverFollowsTheStrings) {
  python::PyFrameRec a[3], b[3], c[3];
  Fill(a, 3, 'x', "worker");
  Fill(b, 3, 'y', "worker");
  Fill(c, 3, 'x', "worker2");
  u32 ia = PyStackDepotPut(a, 3);
  u32 ib = PyStackDepotPut(b, 3);
  u32 ic = PyStackDepotPut(c, 3);
  ASSERT_NE(ia, 0u);
  EXPECT_EQ(ia, ib);
  EXPECT_NE(ia, ic);
  EXPECT_NE(ia, PyStackDepotPut(a, 2));  // a prefix is another stack
  b[1].line = 99;
  EXPECT_NE(ia, PyStackDepotPut(b, 3));
  PyStack s = PyStackDepotGet(ia);
  ASSERT_EQ(s.size, 3u);
  EXPECT_STREQ(s.frames[2].file, "/srv/job/module2.py");
  EXPECT_EQ(s.frames[2].line, 12);
  for (int i = 0; i < 1000; i++) {
    Fill(b, 3, static_cast<char>(i), "worker");
    ASSERT_EQ(PyStackDepotPut(b, 3), ia) << "capture " << i;
  }
}

}  // namespace
}  // namespace locksan
