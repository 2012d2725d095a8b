#include "core/flags.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace locksan {
namespace {

struct Sink {
  std::vector<std::string> lines;
  static void Add(void* ctx, const char* line) { static_cast<Sink*>(ctx)->lines.push_back(line); }
};

TEST(Flags, Defaults) {
  Flags f;
  SetDefaultFlags(&f);
  EXPECT_EQ(f.exitcode, 66);
  EXPECT_STREQ(f.log_path, "stderr");
  EXPECT_FALSE(f.report_gate_locks);
  EXPECT_EQ(f.stack_depth, 24);
}

TEST(Flags, ParsesColonCommaAndSpaceSeparated) {
  Flags f;
  SetDefaultFlags(&f);
  Sink s;
  EXPECT_EQ(ParseFlags("exitcode=3:report_gate_locks=1,stack_depth=8 log_path=/tmp/x%p", &f, Sink::Add, &s), 0);
  EXPECT_EQ(f.exitcode, 3);
  EXPECT_TRUE(f.report_gate_locks);
  EXPECT_EQ(f.stack_depth, 8);
  EXPECT_STREQ(f.log_path, "/tmp/x%p");
  EXPECT_TRUE(s.lines.empty());
}

TEST(Flags, QuotedValueKeepsSeparators) {
  Flags f;
  SetDefaultFlags(&f);
  Sink s;
  EXPECT_EQ(ParseFlags("suppressions='/tmp/a:b c.supp':verbosity=2", &f, Sink::Add, &s), 0);
  EXPECT_STREQ(f.suppressions, "/tmp/a:b c.supp");
  EXPECT_EQ(f.verbosity, 2);
}

TEST(Flags, MalformedEntriesGiveOneLineEachAndKeepDefaults) {
  Flags f;
  SetDefaultFlags(&f);
  Sink s;
  int errors = ParseFlags("exitcode=abc:nosuchflag=1:verbosity:=5:halt_on_error=maybe:stack_depth=1000", &f,
                          Sink::Add, &s);
  EXPECT_EQ(errors, 6);
  EXPECT_EQ(f.exitcode, 66);
  EXPECT_FALSE(f.halt_on_error);
  EXPECT_EQ(f.stack_depth, 24);
  ASSERT_EQ(s.lines.size(), 6u);
  EXPECT_NE(s.lines[0].find("invalid value 'abc' for option 'exitcode'"), std::string::npos);
  EXPECT_NE(s.lines[1].find("unknown option 'nosuchflag'"), std::string::npos);
  EXPECT_NE(s.lines[2].find("malformed option 'verbosity'"), std::string::npos);
  EXPECT_NE(s.lines[3].find("empty name"), std::string::npos);
  EXPECT_NE(s.lines[5].find("stack_depth must be 1-64"), std::string::npos);
  for (const std::string& l : s.lines) EXPECT_EQ(l.find('\n'), std::string::npos) << l;
}

TEST(Flags, UnterminatedQuote) {
  Flags f;
  SetDefaultFlags(&f);
  Sink s;
  EXPECT_GT(ParseFlags("log_path='/tmp/x", &f, Sink::Add, &s), 0);
  EXPECT_STREQ(f.log_path, "stderr");
}

TEST(Flags, HelpListsEveryFlag) {
  Sink s;
  PrintFlagsHelp(Sink::Add, &s);
  std::string all;
  for (auto& l : s.lines) all += l + "\n";
  for (const char* name : {"log_path", "exitcode", "halt_on_error", "suppressions", "report_gate_locks",
                           "stack_depth", "verbosity", "max_memory_mb", "help"})
    EXPECT_NE(all.find(name), std::string::npos) << name;
}

}  // namespace
}  // namespace locksan
