// core/output.h — where reports go (log_path), written whole with write(2).
//
// OutputWrite writes one finished report or line at once; callers serialise with the report lock,
// and a log file is opened with O_APPEND, so reports of threads and processes never interleave.
// An unwritable log_path falls back to stderr with one line saying so.
#pragma once
#include <cstdarg>

#include "core/common.h"

namespace locksan {

void OutputConfigure(const char* log_path, bool color);
void OutputWrite(const char* buf, size_t len);
// OutputPrintf — formats one message (up to 4 KiB) and writes it.
void OutputPrintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
bool OutputUseColor();
// OutputPathForReports — the file reports go to, or "stderr"/"stdout".
const char* OutputDescribe();
void OutputAfterFork();

// A growable text buffer on internal memory, for building one report before writing it.
class TextBuffer {
 public:
  TextBuffer() = default;
  ~TextBuffer();
  TextBuffer(const TextBuffer&) = delete;
  TextBuffer& operator=(const TextBuffer&) = delete;
  void Append(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void AppendV(const char* fmt, va_list ap);
  void AppendRaw(const char* s, size_t n);
  const char* data() const { return data_ ? data_ : ""; }
  size_t size() const { return size_; }
  void Clear() { size_ = 0; if (data_) data_[0] = 0; }

 private:
  void Reserve(size_t n);
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = 0;
};

}  // namespace locksan
