#include "core/suppressions.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace locksan {
namespace {

void Collect(void* ctx, const char* line) { static_cast<std::vector<std::string>*>(ctx)->push_back(line); }

TEST(TemplateMatch, SubstringGlobAndAnchors) {
  EXPECT_TRUE(TemplateMatch("foo", "libfoo.so"));
  EXPECT_FALSE(TemplateMatch("^foo", "libfoo.so"));
  EXPECT_TRUE(TemplateMatch("^lib*.so$", "libfoo.so"));
  EXPECT_FALSE(TemplateMatch("^lib*.so$", "libfoo.so.1"));
  EXPECT_TRUE(TemplateMatch("Cache::*Lock", "ns::Cache::TakeLock()"));
  EXPECT_FALSE(TemplateMatch("Cache::*Lock$", "ns::Cache::TakeLock()"));
  EXPECT_TRUE(TemplateMatch("*", "x"));
  EXPECT_FALSE(TemplateMatch("", "x"));
  EXPECT_TRUE(TemplateMatch("a*b*c", "xxaYYbZZc"));
  EXPECT_FALSE(TemplateMatch("a*b*c", "xxaYYcZZb"));
}

TEST(Suppressions, ParseAndMatchByKind) {
  Suppressions s;
  std::vector<std::string> errors;
  const char* text =
      "# comment\n"
      "\n"
      "lock-order-inversion:libfoo.so\n"
      "  double-lock:^Legacy::*$  \n"
      "*:third_party/\n";
  EXPECT_EQ(s.Parse(text, "x.supp", Collect, &errors), 0);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(s.size(), 3);
  EXPECT_EQ(s.Match("lock-order-inversion", "/usr/lib/libfoo.so"), 0);
  EXPECT_EQ(s.Match("double-lock", "/usr/lib/libfoo.so"), -1);
  EXPECT_EQ(s.Match("double-lock", "Legacy::Get"), 1);
  EXPECT_EQ(s.Match("double-lock", "NotLegacy::Get"), -1);
  EXPECT_EQ(s.Match("deadlock", "/src/third_party/x.c"), 2);
  EXPECT_EQ(s.Match("deadlock", ""), -1);
  EXPECT_EQ(s.Match("deadlock", nullptr), -1);
}

TEST(Suppressions, BadLinesReportedOneEachAndSkipped) {
  Suppressions s;
  std::vector<std::string> errors;
  EXPECT_EQ(s.Parse("no colon here\n:pattern\nkind:\nlock-order-inversion:ok\n", "bad.supp", Collect, &errors), 3);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_NE(errors[0].find("bad.supp:1"), std::string::npos);
  EXPECT_NE(errors[1].find("bad.supp:2"), std::string::npos);
  EXPECT_NE(errors[2].find("bad.supp:3"), std::string::npos);
  EXPECT_EQ(s.size(), 1);
}

}  // namespace
}  // namespace locksan
