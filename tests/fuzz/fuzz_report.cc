// tests/fuzz/fuzz_report.cc — libFuzzer target for `locksan report`'s input handling
// (tools/report_cmd.cc: loading per-process and merged JSON reports, JSON lines, baselines,
// suppressions; merging; rendering), called in-process through ReportMain().
//
// Input: byte 0 picks the mode, the rest is split at the first 0xFF byte into REPORT and EXTRA.
//   mode & 3   output format: text, json, sarif, junit
//   mode & 4   EXTRA is given as --suppressions=FILE
//   mode & 8   EXTRA is given as --baseline=FILE
//   mode & 16  EXTRA is a second report file
// Checked, besides memory safety (ASan/UBSan) and uncaught exceptions (a crash under libFuzzer):
//  - the exit status is 0, 1 or 2;
//  - round trip: with --format=json and no suppressions/baseline, when the inputs were read without
//    error, the merged document written is itself a valid input: merging it again gives exit status
//    0 or 1 (never an input error), the same number of findings and the same total occurrences.
// Run with -close_fd_mask=3 (the command's own messages go to stdout/stderr).
// FUZZ_REPORT_TEXT_ONLY=1 in the environment renders text and JUnit only (to look for other bugs
// while the JSON/SARIF invalid-UTF-8 abort is open).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/report_cmd.h"

namespace {

std::string g_dir;

void WriteFile(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) abort();
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n <= 0) abort();
    off += static_cast<size_t>(n);
  }
  close(fd);
}

std::string ReadFile(const std::string& path) {
  std::string out;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

int Run(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(&a[0]);
  argv.push_back(nullptr);
  return locksan_tool::ReportMain(static_cast<int>(args.size()), argv.data());
}

struct Summary {
  bool ok = false;
  size_t findings = 0;
  uint64_t occurrences = 0;
  size_t skipped = 0;
};

Summary Summarize(const std::string& text) {
  Summary s;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j["findings"].is_array()) return s;
  s.ok = true;
  for (const auto& f : j["findings"]) {
    s.findings++;
    if (f.is_object() && f.contains("occurrences") && f["occurrences"].is_number_unsigned())
      s.occurrences += f["occurrences"].get<uint64_t>();
  }
  if (j.contains("merged") && j["merged"].is_object() && j["merged"].contains("skipped") &&
      j["merged"]["skipped"].is_array())
    s.skipped = j["merged"]["skipped"].size();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* tmp = getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/locksan-fuzz-report.XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back(0);
  if (!mkdtemp(buf.data())) abort();
  g_dir = buf.data();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 65536) return 0;
  static const char* kFormats[] = {"text", "json", "sarif", "junit"};
  uint8_t mode = data[0];
  static const bool text_only = getenv("FUZZ_REPORT_TEXT_ONLY") != nullptr;
  if (text_only && (mode & 1)) mode &= ~1;  // json -> text, sarif -> junit
  std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string report = rest, extra;
  bool has_extra = false;
  size_t sep = rest.find('\xff');
  if (sep != std::string::npos) {
    report = rest.substr(0, sep);
    extra = rest.substr(sep + 1);
    has_extra = true;
  }
  std::string in = g_dir + "/in.json", in2 = g_dir + "/in2.json", extra_path = g_dir + "/extra";
  std::string out = g_dir + "/out";
  WriteFile(in, report);
  std::vector<std::string> args = {in, std::string("--format=") + kFormats[mode & 3], "--output=" + out};
  bool supp = has_extra && (mode & 4), base = has_extra && (mode & 8), second = has_extra && (mode & 16);
  if (supp || base) {
    WriteFile(extra_path, extra);
    if (supp) args.push_back("--suppressions=" + extra_path);
    if (base) args.push_back("--baseline=" + extra_path);
  }
  if (second) {
    WriteFile(in2, extra);
    args.push_back(in2);
  }
  int rc = Run(args);
  if (rc < 0 || rc > 2) {
    fprintf(stderr, "exit status %d\n", rc);
    abort();
  }
  if ((mode & 3) == 1 && !supp && !base && rc != 2) {
    std::string merged = ReadFile(out);
    Summary first = Summarize(merged);
    if (!first.ok) {
      fprintf(stderr, "--format=json wrote something that is not a JSON document:\n%.500s\n", merged.c_str());
      abort();
    }
    std::string again = g_dir + "/again.json";
    WriteFile(again, merged);
    std::string out2 = g_dir + "/out2";
    int rc2 = Run({again, "--format=json", "--output=" + out2});
    Summary second_pass = Summarize(ReadFile(out2));
    if (rc2 != rc || !second_pass.ok || second_pass.findings != first.findings ||
        second_pass.occurrences != first.occurrences) {
      fprintf(stderr,
              "round trip through the merged JSON changed the result: exit %d -> %d, findings %zu -> %zu, "
              "occurrences %llu -> %llu\n",
              rc, rc2, first.findings, second_pass.findings,
              static_cast<unsigned long long>(first.occurrences),
              static_cast<unsigned long long>(second_pass.occurrences));
      abort();
    }
  }
  return 0;
}
