#include "core/output.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "core/internal_alloc.h"

namespace locksan {
namespace {

char g_log_path[1024] = "stderr";
bool g_color = true;
int g_fd = -1;
int g_fd_pid = 0;
char g_opened_path[1200];

void OpenOutput() {
  int pid = getpid();
  if (g_fd >= 0 && g_fd_pid == pid) return;
  if (g_fd > 2) close(g_fd);
  g_fd_pid = pid;
  if (!strcmp(g_log_path, "stderr") || !g_log_path[0]) {
    g_fd = 2;
    snprintf(g_opened_path, sizeof g_opened_path, "stderr");
    return;
  }
  if (!strcmp(g_log_path, "stdout")) {
    g_fd = 1;
    snprintf(g_opened_path, sizeof g_opened_path, "stdout");
    return;
  }
  // Expand %p; without it append ".PID" so that processes never share one file.
  char path[1200];
  size_t o = 0;
  bool had_pid = false;
  for (const char* p = g_log_path; *p && o + 16 < sizeof path; p++) {
    if (p[0] == '%' && p[1] == 'p') {
      o += snprintf(path + o, sizeof path - o, "%d", pid);
      had_pid = true;
      p++;
    } else {
      path[o++] = *p;
    }
  }
  path[o] = 0;
  if (!had_pid) snprintf(path + o, sizeof path - o, ".%d", pid);
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    char line[1400];
    int n = snprintf(line, sizeof line,
                     "==%d==locksan: cannot open log_path '%s' (%s); reports go to stderr\n", pid, path,
                     strerror(errno));
    RawWrite(2, line, static_cast<size_t>(n) < sizeof line ? n : sizeof line - 1);
    g_fd = 2;
    snprintf(g_opened_path, sizeof g_opened_path, "stderr");
    return;
  }
  g_fd = fd;
  snprintf(g_opened_path, sizeof g_opened_path, "%s", path);
}

}  // namespace

void RawWrite(int fd, const char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    buf += n;
    len -= static_cast<size_t>(n);
  }
}

[[noreturn]] void Die(const char* msg) {
  RawWrite(2, msg, strlen(msg));
  RawWrite(2, "\n", 1);
  _exit(1);
}

void OutputConfigure(const char* log_path, bool color) {
  snprintf(g_log_path, sizeof g_log_path, "%s", log_path ? log_path : "stderr");
  g_color = color;
  g_fd = -1;
}

void OutputWrite(const char* buf, size_t len) {
  OpenOutput();
  RawWrite(g_fd, buf, len);
}

void OutputPrintf(const char* fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  OutputWrite(buf, static_cast<size_t>(n) < sizeof buf ? n : sizeof buf - 1);
}

bool OutputUseColor() {
  OpenOutput();
  return g_color && isatty(g_fd);
}

const char* OutputDescribe() {
  OpenOutput();
  return g_opened_path;
}

void OutputAfterFork() { /* reopened lazily: OpenOutput compares the pid */ }

TextBuffer::~TextBuffer() { InternalFree(data_, cap_); }

void TextBuffer::Reserve(size_t n) {
  if (n <= cap_) return;
  size_t ncap = cap_ ? cap_ : 1024;
  while (ncap < n) ncap *= 2;
  char* nd = static_cast<char*>(InternalAlloc(ncap));
  if (size_) memcpy(nd, data_, size_);
  nd[size_] = 0;
  InternalFree(data_, cap_);
  data_ = nd;
  cap_ = ncap;
}

void TextBuffer::AppendRaw(const char* s, size_t n) {
  Reserve(size_ + n + 1);
  memcpy(data_ + size_, s, n);
  size_ += n;
  data_[size_] = 0;
}

void TextBuffer::AppendV(const char* fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  char small[512];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  if (n < 0) {
    va_end(ap2);
    return;
  }
  if (static_cast<size_t>(n) < sizeof small) {
    AppendRaw(small, n);
  } else {
    Reserve(size_ + n + 1);
    vsnprintf(data_ + size_, n + 1, fmt, ap2);
    size_ += n;
  }
  va_end(ap2);
}

void TextBuffer::Append(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  AppendV(fmt, ap);
  va_end(ap);
}

}  // namespace locksan
