#!/usr/bin/env python3
"""run_test.py -- a small lit-like runner for locksan's end-to-end tests (python3 stdlib only).

Usage:
    run_test.py --lib build/liblocksan.so [--workdir DIR] [--cc cc] [--cxx c++] [-v] TEST.c [TEST.cc ...]

Each test is one C (.c) or C++ (.cc, built with -std=c++17) source file. Its comments declare what to
do and what to expect, one directive per line, anywhere in the file:

    // RUN-OPTIONS: report_gate_locks=1        LOCKSAN_OPTIONS of the run (default: unset)
    // EXPECT-EXIT: 66                         exit status (default 0); ignored with KILL-AFTER
    // EXPECT-REPORTS: lock-order-inversion=1  exact count of '==PID==WARNING: locksan: KIND' headlines
                                               (stderr and LOG-FILE); also kind>=N, kind=* (any number).
                                               Kinds not listed must not appear; without the directive,
                                               no report at all is expected.
    // CHECK: regex                            must match stderr, each after the previous CHECK's match
    // CHECK-NOT: regex                        must not match anywhere in stderr
    // CHECK-STDOUT: regex                     like CHECK, on stdout
    // CHECK-LOG: regex                        like CHECK, on the LOG-FILE
    // CHECK-COUNT: N regex                    regex matches exactly N times in stderr (N lines with re.M)
    // LOG-FILE: %t/rep.%pid                   file written by the run (log_path), read after it
    // EXPECT-NO-STDERR                        stderr must be empty
    // KILL-AFTER: 3                           the program is expected to hang: kill it after N seconds
                                               (failure if it exits first); checks run on its output
    // TIMEOUT: 20                             seconds before a run counts as hung (default 30)
    // CFLAGS: -O1                             extra compiler flags (always: -g -pthread); a VARIANT with
                                               other CFLAGS gets its own binary
    // ENV: NAME=value                         environment of the run (repeatable)
    // ARGS: a b c                             program arguments (shell-like split)
    // WRITE: %t/supp.txt: text                append the line 'text' to a file before the run
    // NATIVE-SAME-OUTPUT                      also run without locksan; stdout must be identical
    // VARIANT: name                           starts another run of the same binary. Directives after it
                                               belong to that run: it starts from a copy of the directives
                                               before the first VARIANT (the base run, which always runs);
                                               single-valued ones are replaced, CHECK*/ENV/WRITE lists are
                                               extended, EXPECT-REPORTS counts are merged per kind.
    // CLEAR: CHECK CHECK-STDOUT               (in a VARIANT) drop what it inherited for those directives

Lines of stdout or stderr that start with 'TIMING:' are repeated in the PASS line.

Substitutions in values: %t (a scratch directory of the test, emptied before it runs), %s (the source
file), %S (its directory), %pid (the pid of the process started; in CHECK*/LOG-FILE only), %line(NAME)
(the number of the source line that carries the marker '@NAME', e.g. `lock(&a);  // @A1`). In regexes
the substituted text is escaped.

Every run under locksan is also checked for well-formed reports: each headline must be followed by its
'SUMMARY: locksan: KIND' line before the next headline or the end of the output.
"""
import argparse
import difflib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

HEADLINE = re.compile(r"^==(\d+)==WARNING: locksan: ([A-Za-z-]+)", re.M)
SUMMARY = re.compile(r"^SUMMARY: locksan: ([A-Za-z-]+)", re.M)
DIRECTIVE = re.compile(r"^\s*//\s*([A-Z][A-Z-]*[A-Z])\s*(?::\s?(.*?))?\s*$")
KNOWN = {
    "RUN-OPTIONS", "EXPECT-EXIT", "EXPECT-REPORTS", "CHECK", "CHECK-NOT", "CHECK-STDOUT", "CHECK-LOG",
    "LOG-FILE", "EXPECT-NO-STDERR", "KILL-AFTER", "TIMEOUT", "CFLAGS", "ENV", "ARGS", "WRITE",
    "NATIVE-SAME-OUTPUT", "VARIANT", "CLEAR", "CHECK-COUNT",
}
LISTS = {"CHECK", "CHECK-NOT", "CHECK-STDOUT", "CHECK-LOG", "CHECK-COUNT", "ENV", "WRITE"}
FLAGS_ONLY = {"EXPECT-NO-STDERR", "NATIVE-SAME-OUTPUT"}
DEFAULT_TIMEOUT = 30


class TestError(Exception):
    pass


class Failure(Exception):
    pass


# ------------------------------------------------------------------------------------------------
# Parsing
# ------------------------------------------------------------------------------------------------
class Run:
    def __init__(self, name):
        self.name = name
        self.d = {}  # directive -> value (str, list, dict or True)

    def copy(self, name):
        r = Run(name)
        for k, v in self.d.items():
            r.d[k] = list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v
        return r

    def get(self, k, default=None):
        return self.d.get(k, default)


def parse_reports(value, where):
    out = {}
    for item in value.split():
        m = re.fullmatch(r"([A-Za-z-]+)(=|>=)(\d+|\*)", item)
        if not m or (m.group(2) == ">=" and m.group(3) == "*"):
            raise TestError("%s: bad EXPECT-REPORTS item %r (want kind=N, kind>=N or kind=*)" % (where, item))
        lo = 0 if m.group(3) == "*" else int(m.group(3))
        hi = lo if m.group(2) == "=" and m.group(3) != "*" else None
        out[m.group(1)] = (lo, hi)
    return out


def parse_test(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    base = Run("base")
    variants = []
    cur = base
    markers = {}
    for no, line in enumerate(lines, 1):
        m = DIRECTIVE.match(line)
        if m and m.group(1) not in KNOWN and difflib.get_close_matches(m.group(1), KNOWN, 1, 0.75):
            raise TestError("%s:%d: unknown directive %s (did you mean %s?)" % (
                os.path.basename(path), no, m.group(1), difflib.get_close_matches(m.group(1), KNOWN, 1, 0.75)[0]))
        if m and m.group(1) in KNOWN:
            key, value = m.group(1), (m.group(2) or "").strip()
            where = "%s:%d" % (os.path.basename(path), no)
            if key == "VARIANT":
                if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
                    raise TestError("%s: VARIANT needs a name ([A-Za-z0-9_.-]+)" % where)
                if any(v.name == value for v in variants) or value == "base":
                    raise TestError("%s: duplicate VARIANT %r" % (where, value))
                cur = base.copy(value)
                variants.append(cur)
            elif key == "CLEAR":
                if cur is base:
                    raise TestError("%s: CLEAR only makes sense inside a VARIANT" % where)
                for k in value.split():
                    if k not in KNOWN:
                        raise TestError("%s: CLEAR of unknown directive %r" % (where, k))
                    cur.d.pop(k, None)
            elif key in FLAGS_ONLY:
                cur.d[key] = True
            elif key in LISTS:
                if not value:
                    raise TestError("%s: %s needs a value" % (where, key))
                cur.d.setdefault(key, []).append(value)
            elif key == "EXPECT-REPORTS":
                cur.d.setdefault(key, {}).update(parse_reports(value, where))
            else:
                if key in ("EXPECT-EXIT", "KILL-AFTER", "TIMEOUT"):
                    try:
                        float(value) if key != "EXPECT-EXIT" else int(value)
                    except ValueError:
                        raise TestError("%s: %s needs a number, got %r" % (where, key, value))
                cur.d[key] = value
            continue
        for mk in re.findall(r"@([A-Za-z_][A-Za-z0-9_]*)", line):
            if m:  # a comment line that is not a directive: not a marker carrier
                break
            if mk in markers:
                raise TestError("%s:%d: marker @%s also on line %d" % (path, no, mk, markers[mk]))
            markers[mk] = no
    return base, variants, markers


# ------------------------------------------------------------------------------------------------
# Substitutions
# ------------------------------------------------------------------------------------------------
class Subst:
    def __init__(self, source, tmpdir, markers):
        self.source = os.path.abspath(source)
        self.tmpdir = tmpdir
        self.markers = markers

    def __call__(self, text, pid=None, regex=False):
        esc = re.escape if regex else (lambda s: s)

        def line(m):
            name = m.group(1)
            if name not in self.markers:
                raise TestError("%%line(%s): no line carries the marker @%s" % (name, name))
            return str(self.markers[name])

        text = re.sub(r"%line\(([A-Za-z_][A-Za-z0-9_]*)\)", line, text)
        if pid is not None:
            text = text.replace("%pid", str(pid))
        text = text.replace("%t", esc(self.tmpdir))
        text = text.replace("%S", esc(os.path.dirname(self.source)))
        text = text.replace("%s", esc(self.source))
        return text


# ------------------------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------------------------
class Result:
    def __init__(self):
        self.stdout = ""
        self.stderr = ""
        self.rc = None
        self.killed = False  # killed by us after KILL-AFTER
        self.timed_out = False
        self.pid = None
        self.seconds = 0.0


def execute(argv, env, cwd, out_prefix, limit, expect_hang):
    """Runs argv with stdout/stderr into files (so that a killed program's output is kept)."""
    res = Result()
    out_path, err_path = out_prefix + ".stdout", out_prefix + ".stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.monotonic()
        p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                             start_new_session=True)
        res.pid = p.pid
        try:
            res.rc = p.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            if expect_hang:
                res.killed = True
            else:
                res.timed_out = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            res.rc = p.wait()
        res.seconds = time.monotonic() - start
    # Children of the program (fork tests) may outlive it: give them a moment, then end the group.
    try:
        os.killpg(p.pid, 0)
        time.sleep(0.2)
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    with open(out_path, "rb") as f:
        res.stdout = f.read().decode("utf-8", "replace")
    with open(err_path, "rb") as f:
        res.stderr = f.read().decode("utf-8", "replace")
    return res


def describe_rc(rc):
    if rc is None:
        return "none"
    if rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return str(rc)


def section(title, text):
    body = text if text else "(empty)\n"
    if not body.endswith("\n"):
        body += "\n"
    return "---- %s ----\n%s" % (title, body)


def check_in_order(patterns, text, what, subst, pid):
    pos = 0
    for pat in patterns:
        rx = subst(pat, pid=pid, regex=True)
        try:
            m = re.compile(rx, re.M).search(text, pos)
        except re.error as e:
            raise TestError("bad regex %r: %s" % (pat, e))
        if not m:
            earlier = re.compile(rx, re.M).search(text)
            hint = " (it matches earlier, out of order)" if earlier else ""
            raise Failure("%s: expected a match for\n    %s\n  (after offset %d)%s" % (what, rx, pos, hint))
        pos = m.end()


def check_report_structure(text, what):
    heads = list(HEADLINE.finditer(text))
    for i, h in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        sums = [s for s in SUMMARY.finditer(text, h.end(), end)]
        if not sums:
            raise Failure("%s: report '%s' (at offset %d) has no 'SUMMARY: locksan: %s' line before the "
                          "next report / end of output" % (what, h.group(0), h.start(), h.group(2)))
        if sums[-1].group(1) != h.group(2):
            raise Failure("%s: report of kind %s ends with a SUMMARY of kind %s"
                          % (what, h.group(2), sums[-1].group(1)))


def count_reports(*texts):
    counts = {}
    for t in texts:
        for m in HEADLINE.finditer(t):
            counts[m.group(2)] = counts.get(m.group(2), 0) + 1
    return counts


class Runner:
    def __init__(self, args):
        self.lib = os.path.abspath(args.lib)
        self.workdir = os.path.abspath(args.workdir)
        self.cc = args.cc
        self.cxx = args.cxx
        self.verbose = args.verbose

    def compile(self, source, exe, cflags):
        is_cxx = source.endswith((".cc", ".cpp", ".cxx"))
        cmd = [self.cxx, "-std=c++17"] if is_cxx else [self.cc]
        cmd += ["-g", "-pthread", "-o", exe, source] + cflags
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if p.returncode != 0:
            raise TestError("compilation failed: %s\n%s" % (" ".join(map(shlex.quote, cmd)),
                                                            p.stdout.decode("utf-8", "replace")))

    def base_env(self):
        env = dict(os.environ)
        for k in ("LD_PRELOAD", "LOCKSAN_OPTIONS"):
            env.pop(k, None)
        env["LC_ALL"] = "C"
        return env

    def run_one(self, test_name, exe, run, subst, tmpdir):
        """Runs one variant under locksan (and natively if asked). Returns a log string; raises Failure."""
        label = "%s[%s]" % (test_name, run.name)
        for w in run.get("WRITE", []):
            m = re.fullmatch(r"(\S+?):\s?(.*)", w)
            if not m:
                raise TestError("WRITE wants 'path: text', got %r" % w)
            with open(subst(m.group(1)), "a", encoding="utf-8") as f:
                f.write(subst(m.group(2)) + "\n")
        env = self.base_env()
        for e in run.get("ENV", []):
            k, sep, v = e.partition("=")
            if not sep:
                raise TestError("ENV wants NAME=value, got %r" % e)
            env[k.strip()] = subst(v)
        argv = [exe] + [subst(a) for a in shlex.split(run.get("ARGS", ""))]
        kill_after = float(run.get("KILL-AFTER")) if run.get("KILL-AFTER") else None
        limit = kill_after if kill_after is not None else float(run.get("TIMEOUT", DEFAULT_TIMEOUT))

        penv = dict(env)
        penv["LD_PRELOAD"] = self.lib
        opts = run.get("RUN-OPTIONS")
        if opts is not None:
            penv["LOCKSAN_OPTIONS"] = subst(opts)
        res = execute(argv, penv, tmpdir, os.path.join(tmpdir, "out." + run.name), limit, kill_after is not None)

        log_text = ""
        log_path = None
        if run.get("LOG-FILE"):
            log_path = subst(run.get("LOG-FILE"), pid=res.pid)
            if os.path.exists(log_path):
                with open(log_path, encoding="utf-8", errors="replace") as f:
                    log_text = f.read()

        cmdline = "cd %s && %sLD_PRELOAD=%s %s" % (
            shlex.quote(tmpdir),
            "LOCKSAN_OPTIONS=%s " % shlex.quote(penv["LOCKSAN_OPTIONS"]) if opts is not None else "",
            shlex.quote(self.lib), " ".join(map(shlex.quote, argv)))
        for e in run.get("ENV", []):
            k, _, v = e.partition("=")
            cmdline = "%s=%s %s" % (k.strip(), shlex.quote(subst(v)), cmdline)

        def fail(msg):
            text = "FAIL %s: %s\n  command: %s\n  exit: %s, %.2fs, pid %d%s\n" % (
                label, msg, cmdline, describe_rc(res.rc), res.seconds, res.pid,
                ", killed after KILL-AFTER as expected" if res.killed else "")
            text += section("stderr", res.stderr) + section("stdout", res.stdout)
            if log_path:
                text += section("log file %s%s" % (log_path, "" if os.path.exists(log_path) else " (missing)"),
                                log_text)
            raise Failure(text)

        try:
            # Exit status.
            if res.timed_out:
                raise Failure("did not finish within %gs (TIMEOUT); killed" % limit)
            if kill_after is not None:
                if not res.killed:
                    raise Failure("expected the program to hang (KILL-AFTER: %g), but it exited first"
                                  % kill_after)
            else:
                want = int(run.get("EXPECT-EXIT", "0"))
                if res.rc != want:
                    raise Failure("EXPECT-EXIT: %d, but the exit status is %s" % (want, describe_rc(res.rc)))
            # Reports.
            check_report_structure(res.stderr, "stderr")
            if log_path:
                if not os.path.exists(log_path):
                    raise Failure("LOG-FILE %s was not written" % log_path)
                check_report_structure(log_text, "log file")
            want_reports = run.get("EXPECT-REPORTS", {})
            got = count_reports(res.stderr, log_text)
            for kind in sorted(set(want_reports) | set(got)):
                lo, hi = want_reports.get(kind, (0, 0))
                g = got.get(kind, 0)
                if g < lo or (hi is not None and g > hi):
                    want = "=%d" % lo if hi == lo else ">=%d" % lo if lo else "=*"
                    raise Failure("EXPECT-REPORTS: %s%s, but %d '%s' report%s printed" % (
                        kind, want, g, kind, "" if g == 1 else "s"))
            if run.get("EXPECT-NO-STDERR") and res.stderr:
                raise Failure("EXPECT-NO-STDERR, but the program wrote to stderr")
            check_in_order(run.get("CHECK", []), res.stderr, "CHECK (stderr)", subst, res.pid)
            check_in_order(run.get("CHECK-STDOUT", []), res.stdout, "CHECK-STDOUT", subst, res.pid)
            if run.get("CHECK-LOG"):
                if not log_path:
                    raise TestError("CHECK-LOG without LOG-FILE")
                check_in_order(run.get("CHECK-LOG"), log_text, "CHECK-LOG", subst, res.pid)
            for item in run.get("CHECK-COUNT", []):
                n, _, pat = item.partition(" ")
                if not n.isdigit() or not pat:
                    raise TestError("CHECK-COUNT wants 'N regex', got %r" % item)
                rx = subst(pat.strip(), pid=res.pid, regex=True)
                found = len(re.compile(rx, re.M).findall(res.stderr))
                if found != int(n):
                    raise Failure("CHECK-COUNT: expected %s match(es) of\n    %s\n  found %d" % (n, rx, found))
            for pat in run.get("CHECK-NOT", []):
                rx = subst(pat, pid=res.pid, regex=True)
                m = re.compile(rx, re.M).search(res.stderr)
                if m:
                    line_start = res.stderr.rfind("\n", 0, m.start()) + 1
                    line_end = res.stderr.find("\n", m.end())
                    raise Failure("CHECK-NOT: %s\n  matched: %s" % (
                        rx, res.stderr[line_start:line_end if line_end >= 0 else None]))
        except Failure as f:
            fail(str(f))

        log = "PASS %s (%.2fs)" % (label, res.seconds)
        for tl in re.findall(r"^TIMING:.*$", res.stdout + res.stderr, re.M):
            log += "\n  " + tl
        # Native run: the same stdout without locksan.
        if run.get("NATIVE-SAME-OUTPUT"):
            nat = execute(argv, env, tmpdir, os.path.join(tmpdir, "native." + run.name), limit,
                          kill_after is not None)
            if nat.timed_out:
                fail("NATIVE-SAME-OUTPUT: the native run did not finish within %gs" % limit)
            if nat.stdout != res.stdout:
                diff = "".join(difflib.unified_diff(
                    nat.stdout.splitlines(True), res.stdout.splitlines(True),
                    "stdout without locksan (exit %s)" % describe_rc(nat.rc), "stdout with locksan"))
                fail("NATIVE-SAME-OUTPUT: stdout differs without locksan\n" + section("diff", diff))
            log += "; native stdout identical"
        if self.verbose:
            log += "\n" + section("stderr", res.stderr) + section("stdout", res.stdout)
        return log

    def run_test(self, source):
        source = os.path.abspath(source)
        name = os.path.splitext(os.path.basename(source))[0]
        base, variants, markers = parse_test(source)
        os.makedirs(self.workdir, exist_ok=True)
        tmpdir = os.path.join(self.workdir, name + ".tmp")
        shutil.rmtree(tmpdir, ignore_errors=True)
        os.makedirs(tmpdir)
        subst = Subst(source, tmpdir, markers)
        # One binary per distinct CFLAGS (normally one for the whole test).
        exes = {}
        for run in [base] + variants:
            key = run.get("CFLAGS", "")
            if key in exes:
                continue
            exe = os.path.join(self.workdir, name + (".exe" if not exes else ".%d.exe" % len(exes)))
            t0 = time.monotonic()
            self.compile(source, exe, shlex.split(subst(key)))
            print("compiled %s%s in %.2fs" % (os.path.basename(source), " with %s" % key if key else "",
                                              time.monotonic() - t0))
            exes[key] = exe
        sys.stdout.flush()
        failures = []
        for run in [base] + variants:
            try:
                print(self.run_one(name, exes[run.get("CFLAGS", "")], run, subst, tmpdir))
            except Failure as f:
                failures.append(str(f))
                print(str(f))
            sys.stdout.flush()
        return failures


def main():
    ap = argparse.ArgumentParser(description="locksan end-to-end test runner")
    ap.add_argument("--lib", required=True, help="path of liblocksan.so")
    ap.add_argument("--workdir", default=None, help="where binaries and scratch files go")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--cxx", default=os.environ.get("CXX", "c++"))
    ap.add_argument("-v", "--verbose", action="store_true", help="print the output of passing runs too")
    ap.add_argument("tests", nargs="+")
    args = ap.parse_args()
    if args.workdir is None:
        args.workdir = os.path.join(os.getcwd(), "e2e-work")
    if not os.path.exists(args.lib):
        print("error: library %s does not exist" % args.lib)
        return 2
    runner = Runner(args)
    failed = []
    for t in args.tests:
        try:
            fails = runner.run_test(t)
        except TestError as e:
            print("ERROR %s: %s" % (t, e))
            fails = [str(e)]
        if fails:
            failed.append(t)
    if failed:
        print("\n%d of %d test file(s) failed: %s" % (len(failed), len(args.tests), " ".join(failed)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
