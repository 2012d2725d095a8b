// tools/locksan.cc — the `locksan` command.
//
//   locksan run [--options=K=V:K=V] [--log-dir=DIR] -- CMD ARGS...
//       Runs CMD with liblocksan.so preloaded (the copy beside this program), passes its exit status
//       through (a process that reported exits with `exitcode`, 66 by default) and says where the
//       reports are.
//   locksan report FILES|DIRS... [--format=text|json|sarif|junit|svg] [--output=FILE|DIR]
//                  [--suppressions=FILE] [--baseline=FILE] [--write-baseline=FILE]
//       Merges the per-process JSON reports of many processes and hosts (tools/report_cmd.cc).
//   locksan lib      prints the path of liblocksan.so (for LD_PRELOAD=$(locksan lib)).
//   locksan --help
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tools/report_cmd.h"

namespace {

const char kUsage[] =
    "usage: locksan run [--options=NAME=VALUE:...] [--log-dir=DIR] -- CMD [ARGS...]\n"
    "       locksan report FILES|DIRS... [--format=text|json|sarif|junit|svg] [--output=FILE|DIR]\n"
    "                      [--suppressions=FILE] [--baseline=FILE] [--write-baseline=FILE]\n"
    "       locksan lib\n"
    "       locksan --help\n"
    "\n"
    "run      run CMD under the lock-order sanitizer (LD_PRELOAD of liblocksan.so); exit with CMD's\n"
    "         status. --options is appended to LOCKSAN_OPTIONS; --log-dir writes each process's\n"
    "         reports to files instead of stderr: DIR/locksan.PID (text) and DIR/locksan.PID.json\n"
    "         (report_format=both unless LOCKSAN_OPTIONS or --options say otherwise).\n"
    "report   merge the JSON reports of many processes (files, or directories searched for *.json),\n"
    "         count each finding over processes and hosts, and print text, JSON, SARIF, JUnit or SVG.\n"
    "         Exit status 0: no findings, 1: findings, 2: usage or input errors.\n"
    "         `locksan report --help` says more.\n"
    "lib      print the path of liblocksan.so\n"
    "\n"
    "Runtime options: LOCKSAN_OPTIONS=help=1 lists them.\n";

std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = 0;
  std::string s(buf);
  size_t slash = s.rfind('/');
  return slash == std::string::npos ? "." : s.substr(0, slash);
}

std::string LibPath() {
  std::string dir = SelfDir();
  for (const char* rel : {"/liblocksan.so", "/../lib/liblocksan.so", "/../lib/locksan/liblocksan.so"}) {
    std::string p = dir + rel;
    if (access(p.c_str(), R_OK) == 0) return p;
  }
  return "";
}

int Run(int argc, char** argv) {
  std::string options, log_dir;
  int i = 0;
  for (; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--") {
      i++;
      break;
    }
    if (a.rfind("--options=", 0) == 0) {
      options = a.substr(10);
    } else if (a.rfind("--log-dir=", 0) == 0) {
      log_dir = a.substr(10);
    } else if (a[0] != '-') {
      break;  // the command starts here
    } else {
      fprintf(stderr, "locksan: unknown option '%s' for 'run'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "locksan: 'run' needs a command after '--'\n%s", kUsage);
    return 2;
  }
  std::string lib = LibPath();
  if (lib.empty()) {
    fprintf(stderr, "locksan: cannot find liblocksan.so next to %s\n", SelfDir().c_str());
    return 2;
  }
  std::string preload = lib;
  if (const char* old = getenv("LD_PRELOAD"); old && *old) preload += std::string(":") + old;
  std::string opts;
  // With a log directory, write both forms (the JSON for `locksan report`); later options win.
  if (!log_dir.empty()) opts = "report_format=both";
  if (const char* old = getenv("LOCKSAN_OPTIONS"); old && *old) opts += (opts.empty() ? "" : ":") + std::string(old);
  if (!log_dir.empty()) {
    if (mkdir(log_dir.c_str(), 0755) != 0 && errno != EEXIST) {
      fprintf(stderr, "locksan: cannot create log directory '%s': %s\n", log_dir.c_str(), strerror(errno));
      return 2;
    }
    opts += (opts.empty() ? "" : ":") + std::string("log_path=") + log_dir + "/locksan";
  }
  if (!options.empty()) opts += (opts.empty() ? "" : ":") + options;
  pid_t pid = fork();
  if (pid < 0) {
    perror("locksan: fork");
    return 2;
  }
  if (pid == 0) {
    setenv("LD_PRELOAD", preload.c_str(), 1);
    if (!opts.empty()) setenv("LOCKSAN_OPTIONS", opts.c_str(), 1);
    execvp(argv[i], argv + i);
    fprintf(stderr, "locksan: cannot run '%s': %s\n", argv[i], strerror(errno));
    _exit(127);
  }
  // Forward interrupts to the child; wait for it.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!log_dir.empty()) fprintf(stderr, "locksan: reports (if any) are in %s/\n", log_dir.c_str());
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "run")) return Run(argc - 2, argv + 2);
  if (!strcmp(argv[1], "report")) return locksan_tool::ReportMain(argc - 2, argv + 2);
  if (!strcmp(argv[1], "lib")) {
    std::string lib = LibPath();
    if (lib.empty()) {
      fprintf(stderr, "locksan: cannot find liblocksan.so\n");
      return 2;
    }
    puts(lib.c_str());
    return 0;
  }
  fprintf(stderr, "locksan: unknown command '%s'\n%s", argv[1], kUsage);
  return 2;
}
