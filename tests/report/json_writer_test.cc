// tests/report/json_writer_test.cc — the runtime's JSON string writer and fingerprint hash.
#include <gtest/gtest.h>

#include <string>

#include "core/output.h"
#include "report/json_report.h"

namespace locksan {
namespace {

std::string Json(const std::string& s) {
  TextBuffer b;
  JsonStringN(&b, s.data(), s.size());
  return std::string(b.data(), b.size());
}

TEST(JsonWriter, PlainAndEscapes) {
  EXPECT_EQ(Json("abc"), "\"abc\"");
  EXPECT_EQ(Json(""), "\"\"");
  EXPECT_EQ(Json("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
  EXPECT_EQ(Json("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(Json(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(Json(std::string("a\0b", 3)), "\"a\\u0000b\"");
}

TEST(JsonWriter, NullPointerIsNull) {
  TextBuffer b;
  JsonString(&b, nullptr);
  EXPECT_STREQ(b.data(), "null");
}

TEST(JsonWriter, ValidUtf8PassesThrough) {
  EXPECT_EQ(Json("caf\xc3\xa9"), "\"caf\xc3\xa9\"");              // U+00E9
  EXPECT_EQ(Json("\xe2\x82\xac"), "\"\xe2\x82\xac\"");            // U+20AC
  EXPECT_EQ(Json("\xf0\x9f\x94\x92"), "\"\xf0\x9f\x94\x92\"");    // U+1F512
  EXPECT_EQ(Json("\xef\xbf\xbd"), "\"\xef\xbf\xbd\"");            // U+FFFD itself
}

TEST(JsonWriter, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(Json("\xff"), "\"\\ufffd\"");
  EXPECT_EQ(Json("a\x80z"), "\"a\\ufffdz\"");                      // lone continuation byte
  EXPECT_EQ(Json("\xc3"), "\"\\ufffd\"");                          // cut at the end
  EXPECT_EQ(Json("\xe2\x82"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(Json("\xc0\xaf"), "\"\\ufffd\\ufffd\"");                // overlong '/'
  EXPECT_EQ(Json("\xe0\x80\xaf"), "\"\\ufffd\\ufffd\\ufffd\"");     // overlong, 3 bytes
  EXPECT_EQ(Json("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");     // a UTF-16 surrogate
  EXPECT_EQ(Json("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // past U+10FFFF
  EXPECT_EQ(Json("\xc3(x"), "\"\\ufffd(x\"");                      // continuation missing
}

TEST(Fingerprint, FnvVectors) {
  // FNV-1a 64 reference values.
  EXPECT_EQ(FnvAppend(kFnvOffset, "", 0), 0xcbf29ce484222325ULL);
  EXPECT_EQ(FnvAppend(kFnvOffset, "a", 1), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(FnvAppend(kFnvOffset, "foobar", 6), 0x85944171f73967e8ULL);
  char hex[17];
  FingerprintHex(0x00af63dc4c8601ecULL, hex);
  EXPECT_STREQ(hex, "00af63dc4c8601ec");
  EXPECT_STREQ(FingerprintBasename("/a/b/c.c"), "c.c");
  EXPECT_STREQ(FingerprintBasename("c.c"), "c.c");
}

TEST(Fingerprint, JsonReportPath) {
  char buf[256];
  EXPECT_FALSE(JsonReportPath("stderr", buf, sizeof buf));
  EXPECT_FALSE(JsonReportPath("stdout", buf, sizeof buf));
  EXPECT_FALSE(JsonReportPath("", buf, sizeof buf));
  ASSERT_TRUE(JsonReportPath("/tmp/x/ls", buf, sizeof buf));
  EXPECT_EQ(std::string(buf), "/tmp/x/ls." + std::to_string(getpid()) + ".json");
  ASSERT_TRUE(JsonReportPath("/tmp/r-%p.log", buf, sizeof buf));
  EXPECT_EQ(std::string(buf), "/tmp/r-" + std::to_string(getpid()) + ".log.json");
}

}  // namespace
}  // namespace locksan
