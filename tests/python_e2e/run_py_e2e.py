#!/usr/bin/env python3
"""run_py_e2e.py -- end-to-end tests of locksan on real CPython programs (python3 stdlib only).

Usage:
    run_py_e2e.py --lib build/liblocksan.so [--workdir DIR] [--cc cc] [--python PY ...] [--strict] SCENARIO ...
    run_py_e2e.py --list-pythons          # the interpreters found: "ID PATH VERSION" per line
    run_py_e2e.py --list-scenarios

Each SCENARIO runs once per interpreter (--python, repeatable; default: every interpreter found).
Interpreters: /usr/bin/python3.6 ... python3.14, $PYENV_ROOT/versions/*/bin/python3 (3.x only) and the
paths in $LOCKSAN_PYTHONS (colon-separated). A scenario whose expectations do not apply to an interpreter
(the GIL on CPython 3.6, which locksan cannot locate) says so on a "SKIP:" line.

Scenarios (the programs are in programs/, the C library they load is cblib.c, built here):
    gil_inversion  GIL <-> library mutex inversion, sequential: exit 66, exactly one lock-order-inversion
                   naming the GIL and global 'lib_mu', with both Python stacks (function, file:line) and
                   the ctypes callback ("Python callback: on_event at FILE:LINE, called by C function
                   lib_call_with_callback ...").
    gil_deadlock   the same looping in two threads until it hangs: the inversion first, then a deadlock
                   report naming the GIL, lib_mu and both threads; killed after the report (or 8 s).
    lock_abba      threading.Lock ABBA in two Python threads, sequential: one lock-order-inversion with
                   both Python stacks.
    lock_abba_io   the same with time.sleep() (a GIL release) between the two acquisitions.
    condition_abba the same where the first half also notifies a Condition built on lock A (its
                   ownership probe, a failed sem_trywait of A by its holder, leaves A tracked, with its
                   identity).
    condition_abba_after  the plain ABBA after one notify() of a Condition built on lock A (the same
                   program, argument "after").
    lock_deadlock  the same with a barrier (a real hang): the inversion, then a deadlock report naming
                   both threads and their Python stacks.
    c_inversion    ABBA between two C mutexes of the library (GIL released): every interpreter, 3.6 too.
    long_wait      long_wait_ms=300: a threading.Lock held 1.5 s while main waits is one long-wait report
                   (holder T1, main's Python frame); the join, Condition, Event, Queue, sleep and pipe waits
                   that follow are not reported.
    callback_names the gil_inversion pattern with the callback made in different ways
                   (programs/callback_names.py): a function, a bound method, functools.partial, a callback
                   on a thread the C library created, cffi's ffi.callback (interpreters with cffi) and
                   _cffi_backend's callback (interpreters with it): the report's "Python callback:" line
                   names it (qualname, file, first line; a partial by its type) and the C function that
                   called it; the JSON form (report_format=json) has it in edges[].python_callback;
                   with verbosity=1 no "callback ... not found" line (a ctypes call returning to Python,
                   which re-takes the GIL from _ctypes' frames, is no callback entry).
                   Without GIL tracking (3.6): exit 0, no report.
    callback_not_entry  GIL takes that are no callback entry (a ctypes call returning while a library
                   semaphore is held), next to real callbacks: the GIL <-> lib_sem report names no callback.
    callback_in_driver  the seed pattern of issue #4 without a GPU: a stand-in driver (fakecuda.c, built
                   as libcuda.so.1) holds its mutex while it calls a ctypes callback: exit 66, one
                   python-callback-in-driver-call naming the callback (b2d at its def line, called by
                   cuFakeOccupancy), the held driver mutex and the Python caller. 3.6: exit 0, no report.
    callback_in_driver_wait  the same program (argument `wait`): the driver's mutex re-acquired by a timed
                   condition wait before the callback runs is still a lock taken inside libcuda (exit
                   66, one report naming it and cuFakeOccupancyAfterWait).
    callback_in_tracked_driver  the seed pattern with CUPTI on, without a GPU: the stand-in driver, built
                   with the soname libcuda.so.1, reports its calls to a stand-in libcupti (fakecupti.c,
                   LOCKSAN_CUPTI_PATH; subscribed at cuInit through CUDA_INJECTION64_PATH) and runs a
                   ctypes callback inside cuOccupancyMaxPotentialBlockSize holding no pthread lock: exit
                   66, one python-callback-in-driver-call for two calls, naming the driver call, the
                   callback and the Python caller; the status line says tracking is active with the
                   stand-in. Skipped where the CUPTI headers are missing. 3.6: exit 0, no report.
    driver_lock_recurring  a stand-in driver object whose recursive mutex is initialised, used and destroyed
                   at the same address on each of 1,000 calls (as libcuda's per-step mutexes under
                   CuPy): 999 revivals (0 with revive_locks=0), no report; a cycle closed only through
                   the destroyed (parked) lock is not reported; a real inversion through the revived lock
                   is (exit 66, one lock-order-inversion with both call sites).
    site_classes   lock_identity=site: an ABBA between two C mutexes Python locks through ctypes'
                   pthread_mutex_lock at two Python lines is reported (the Python stack keys their class);
                   c_inversion too; lock_revival's 500 ctypes mutexes, first locked at one line, are one
                   class, with no report.
    gil_sem_inversion  two Python threads each block on a library semaphore with the GIL held and hold it
                   across a GIL release (sequential): one lock-order-inversion GIL <-> global 'lib_sem'
                   with both Python stacks (one thread alone doing it is clean_gil_sem_one_thread).
    signal_handlers  verbosity=1: CPython's own handlers (signal.signal, faulthandler) leave locksan's
                   signals unblocked around its lock graph; a C handler installed through ctypes does not.
    clean          programs/clean_*.py, each run without and with locksan: ThreadPoolExecutor, queue,
                   logging, Condition/Event/Semaphore/Barrier (zero timeouts too), subprocess,
                   multiprocessing fork and spawn, fork right after the other threads ended, fork from a
                   thread whose child ends with its last thread, threading in a fork child,
                   faulthandler's watchdog: exit 0, stdout and stderr identical to the native run (no
                   locksan output at all).

Known runtime bugs are listed in KNOWN_FAILURES below: a test they break prints "XFAIL" and does not fail
the run (unless --strict); once it passes it prints "XPASS" (delete the line).

Exit status: 0 all passed (or failed as known), 1 a failure, 77 everything that ran passed but something
was skipped (ctest SKIP_RETURN_CODE). Lines "TIMING: ..." give the measured delays.
"""
import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
HEADLINE = re.compile(r"^==(\d+)==WARNING: locksan: ([A-Za-z-]+)", re.M)
SUMMARY = re.compile(r"^SUMMARY: locksan: ([A-Za-z-]+)", re.M)
NOT_PRELOADED = "from LD_PRELOAD cannot be preloaded"
SKIP_RC = 77
# CPython versions whose GIL locksan locates (docs/python.md, "What works where"): 3.7 to 3.13. 3.6 keeps
# its GIL file-static in ceval.c; Python stacks need the same layout tables.
GIL_FIRST, GIL_LAST = (3, 7), (3, 13)
HANG_KILL_AFTER = 8.0  # seconds a hanging program may run before the test kills it
# The watchdog (watchdog_interval_ms=1000) reports threads seen blocked on two scans: about 2 s after the
# hang, which in these programs starts right after the inversion is reported. Allowed, with slack for a
# loaded machine:
DEADLOCK_REPORT_WITHIN = 5.0
CLEAN_PROGRAMS = [
    "clean_executor", "clean_queue", "clean_logging", "clean_sync", "clean_subprocess", "clean_mp_fork",
    "clean_mp_spawn", "clean_fork_after_threads", "clean_fork_from_thread",
    "clean_fork_child_threading", "clean_faulthandler", "clean_faulthandler_fork",
    "clean_gil_sem_one_thread", "clean_lock_order_io",
]


# Known runtime bugs, each found by these tests and reported to the runtime's owners: the affected test
# still runs and its failure is shown as "XFAIL" (expected) instead of failing the run; when it passes it
# says "XPASS" (the bug is fixed: delete its line here). --strict counts them as failures.
# (scenario or clean program, first CPython version, last version, the bug)
KNOWN_FAILURES = [
    ("long_wait", (3, 6), (3, 6),
     "Thread.join() reported as a long wait: it waits on the joined thread's tstate lock, recognised by its "
     "Python frame, and locksan reads no Python stacks on 3.6"),
]


def known_failure(name, version):
    for pattern, first, last, why in KNOWN_FAILURES:
        if (pattern == name or (pattern.endswith("*") and name.startswith(pattern[:-1]))) and \
                first <= tuple(version[:2]) <= last:
            return why
    return None


class Failure(Exception):
    pass


class Skip(Exception):
    pass


# ---------------------------------------------------------------------------------------------------
# Interpreters
# ---------------------------------------------------------------------------------------------------
def interpreter_info(path):
    """(version tuple, description) of a python, or None when it is not a working CPython 3."""
    try:
        out = subprocess.run(
            [path, "-c", "import sys, platform; print('%d %d %d' % sys.version_info[:3]); "
                         "print(platform.python_implementation()); "
                         "print(int(hasattr(sys, 'gettotalrefcount')))"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30,
            env=clean_env()).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    if len(out) < 5 or out[3] != "CPython" or out[0] != "3":
        return None
    return tuple(int(x) for x in out[:3]), out[4] == "1"


def find_pythons():
    """[(id, path, version)] of every CPython 3 interpreter found, in a stable order."""
    cands = ["/usr/bin/python3.%d" % m for m in range(6, 15)]
    root = os.environ.get("PYENV_ROOT", "/root/.pyenv")
    cands += sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python3")),
                    key=lambda p: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", p)])
    cands += [p for p in os.environ.get("LOCKSAN_PYTHONS", "").split(":") if p]
    seen, found = set(), []
    for p in cands:
        if not os.path.isfile(p) or not os.access(p, os.X_OK):
            continue
        real = os.path.realpath(p)
        if real in seen:
            continue
        seen.add(real)
        info = interpreter_info(p)
        if info is None:
            continue
        version, _debug = info
        if p.startswith("/usr/bin/"):
            pid = "system%d.%d" % version[:2]
        elif "/versions/" in p:
            pid = "pyenv" + p.split("/versions/")[1].split("/")[0]
        else:
            pid = "py" + re.sub(r"[^A-Za-z0-9.]+", "_", p.strip("/"))
        found.append((pid, p, version))
    return found


def clean_env():
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("PYTHON") or k.startswith("LOCKSAN") or k in ("LD_PRELOAD", "CUDA_INJECTION64_PATH"):
            del env[k]
    return env


# ---------------------------------------------------------------------------------------------------
# Running a program and parsing its reports
# ---------------------------------------------------------------------------------------------------
class Run:
    def __init__(self, rc, stdout, stderr, seconds, killed=False, events=None):
        self.rc, self.stdout, self.stderr, self.seconds, self.killed = rc, stdout, stderr, seconds, killed
        self.events = events or {}  # name -> seconds after start (hang runs)

    def reports(self):
        return parse_reports(self.stderr)


def parse_reports(text):
    """[(kind, text)] of every report, each from its headline to its SUMMARY line; a headline without
    its SUMMARY before the next headline (or the end) is a failure."""
    heads = list(HEADLINE.finditer(text))
    out = []
    for i, h in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        body = text[h.start():end]
        s = SUMMARY.search(body)
        if not s:
            raise Failure("report '%s' has no SUMMARY line before the next report or the end:\n%s"
                          % (h.group(2), excerpt(body)))
        if s.group(1) != h.group(2):
            raise Failure("report '%s' ends with 'SUMMARY: locksan: %s'" % (h.group(2), s.group(1)))
        eol = body.find("\n", s.end())
        out.append((h.group(2), body[:eol if eol >= 0 else len(body)]))
    return out


def excerpt(text, limit=6000):
    if len(text) <= limit:
        return text
    return text[:limit // 2] + "\n[... %d characters ...]\n" % (len(text) - limit) + text[-limit // 2:]


class Context:
    def __init__(self, args, pid, path, version, log):
        self.args, self.pid, self.path, self.version, self.log = args, pid, path, version, log
        self.cblib = None
        self.fakecuda = None
        self.fakecuda_cupti = None  # (libcuda.so.1 with its soname, the stand-in libcupti), or None

    @property
    def gil(self):
        return GIL_FIRST <= self.version[:2] <= GIL_LAST

    def vstr(self):
        return "%d.%d.%d" % self.version

    def env(self, preload, options=None):
        env = clean_env()
        env["PYE2E_CBLIB"] = self.cblib or ""
        env["PYE2E_FAKECUDA"] = self.fakecuda or ""
        if self.fakecuda_cupti:
            env["PYE2E_FAKECUDA_CUPTI"] = self.fakecuda_cupti[0]
            env["LOCKSAN_CUPTI_PATH"] = self.fakecuda_cupti[1]
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if preload:
            env["LD_PRELOAD"] = self.args.lib
            if options:
                env["LOCKSAN_OPTIONS"] = options
        return env

    def program(self, name):
        return os.path.join(PROGRAMS, name + ".py")

    def run(self, name, preload=True, options=None, timeout=120, args=()):
        """Runs programs/NAME.py to its end; retries while the library cannot be preloaded (someone is
        rebuilding it)."""
        for attempt in range(6):
            t0 = time.time()
            try:
                p = subprocess.run([self.path, self.program(name)] + list(args), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=self.env(preload, options), timeout=timeout,
                                   cwd=self.args.workdir, start_new_session=True)
            except subprocess.TimeoutExpired as e:
                raise Failure("%s did not finish within %d s (a hang)%s\nstderr:\n%s" % (
                    name, timeout, " under locksan" if preload else " natively",
                    excerpt((e.stderr or b"").decode("utf-8", "replace"))))
            r = Run(p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"),
                    time.time() - t0)
            if preload and NOT_PRELOADED in r.stderr and attempt < 5:
                self.log("  (library being rebuilt: retrying in 3 s)")
                time.sleep(3)
                continue
            return r

    def run_hanging(self, name, stop_after_kind, options=None):
        """Runs programs/NAME.py, which is expected to hang; kills its process group once a report of
        kind stop_after_kind is complete (SUMMARY line read) or after HANG_KILL_AFTER seconds."""
        for attempt in range(6):
            r = self._run_hanging_once(name, stop_after_kind, options)
            if NOT_PRELOADED in r.stderr and attempt < 5:
                self.log("  (library being rebuilt: retrying in 3 s)")
                time.sleep(3)
                continue
            return r

    def _run_hanging_once(self, name, stop_after_kind, options):
        t0 = time.time()
        p = subprocess.Popen([self.path, self.program(name)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=self.env(True, options), cwd=self.args.workdir, start_new_session=True)
        out, err, events = [], [], {}
        done = threading.Event()

        def read(stream, sink, watch):
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace")
                sink.append(line)
                if watch:
                    now = time.time() - t0
                    m = HEADLINE.match(line)
                    if m:
                        events.setdefault("headline:" + m.group(2), now)
                    m = SUMMARY.match(line)
                    if m:
                        events.setdefault("summary:" + m.group(1), now)
                        if m.group(1) == stop_after_kind:
                            done.set()

        readers = [threading.Thread(target=read, args=(p.stdout, out, False)),
                   threading.Thread(target=read, args=(p.stderr, err, True))]
        for t in readers:
            t.start()
        exited_early = False
        while time.time() - t0 < HANG_KILL_AFTER:
            if done.wait(0.05):
                time.sleep(0.2)  # the lines after the SUMMARY, if any
                break
            if p.poll() is not None:
                exited_early = True
                break
        rc = p.poll()
        killed = rc is None
        if killed:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            rc = p.wait()
        for t in readers:
            t.join(10)
        r = Run(rc, "".join(out), "".join(err), time.time() - t0, killed=killed, events=events)
        r.exited_early = exited_early
        return r


def line_of(program, marker):
    with open(program) as f:
        for i, line in enumerate(f, 1):
            if "# @" + marker in line:
                return i
    raise RuntimeError("no marker @%s in %s" % (marker, program))


def expect(cond, message, run=None):
    if not cond:
        if run is not None:
            message += "\nexit status %s\nstdout:\n%s\nstderr:\n%s" % (run.rc, excerpt(run.stdout, 2000),
                                                                      excerpt(run.stderr))
        raise Failure(message)


def expect_counts(run, wanted):
    """wanted: {kind: n}; every other kind must be absent."""
    got = {}
    for kind, _ in run.reports():
        got[kind] = got.get(kind, 0) + 1
    expect(got == wanted, "reports %s, expected %s" % (fmt_counts(got), fmt_counts(wanted)), run)


def fmt_counts(d):
    return "{" + ", ".join("%s=%d" % kv for kv in sorted(d.items())) + "}" if d else "none"


def report_of(run, kind):
    for k, text in run.reports():
        if k == kind:
            return text
    raise Failure("no %s report" % kind)


def py_frames(report):
    """[(function, file, line)] of every Python frame in the report's Python stacks."""
    frames = []
    lines = report.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != "Python stack (innermost first):":
            continue
        for fl in lines[i + 1:]:
            m = re.match(r"^\s+#\d+ (\S.*?) (\S+):(-?\d+)$", fl)
            if not m:
                break
            frames.append((m.group(1), m.group(2), int(m.group(3))))
    return frames


def innermost_py_frames(report):
    """[(function, file, line)] of the #0 frame of each Python stack in the report."""
    out = []
    lines = report.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "Python stack (innermost first):" and i + 1 < len(lines):
            m = re.match(r"^\s+#0 (\S.*?) (\S+):(-?\d+)$", lines[i + 1])
            if m:
                out.append((m.group(1), m.group(2), int(m.group(3))))
    return out


def expect_py_frame(ctx, run, report, function, program, marker, innermost=True):
    want = (function, ctx.program(program), line_of(ctx.program(program), marker))
    have = innermost_py_frames(report) if innermost else py_frames(report)
    expect(want in have, "no Python frame '%s %s:%d'%s in the report; Python frames found: %s"
           % (want[0], want[1], want[2], " (innermost)" if innermost else "", have or "none"), run)


def lock_name(report, description):
    """The report's name of the lock whose description line contains `description` (e.g. M12)."""
    m = re.search(r"^\s+(?:Mutex|Semaphore) (M\d+|SEM\d+) \(0x[0-9a-f]+, [a-z ]+\): .*%s" % re.escape(description),
                  report, re.M)
    return m.group(1) if m else None


def cycle_line(report):
    m = re.search(r"^\s+Cycle in lock order graph: (.*)$", report, re.M)
    return m.group(1) if m else ""


def require_gil(ctx, what):
    if not ctx.gil:
        raise Skip("CPython %s: locksan does not track this interpreter's GIL (it supports %d.%d to %d.%d), "
                   "so %s does not apply" % (ctx.vstr(), GIL_FIRST[0], GIL_FIRST[1], GIL_LAST[0], GIL_LAST[1],
                                              what))


# ---------------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------------
CALLBACK_LINE = re.compile(r"^\s+Python callback: (\S.*?)(?: at (\S+):(-?\d+))?, called by C function (\S+) ", re.M)


def callback_lines(report):
    """[(function, file or None, line or None, C caller)] of the report's "Python callback:" lines."""
    return [(m.group(1), m.group(2), int(m.group(3)) if m.group(3) else None, m.group(4))
            for m in CALLBACK_LINE.finditer(report)]


def expect_callback(ctx, run, report, function, program, marker, caller="lib_call_with_callback"):
    """The report names the Python callback `function`, defined at the line of `marker` in `program`
    (or, marker None, a callable without code: no file), called by the C function `caller`."""
    if marker is None:
        want = (function, None, None, caller)
    else:
        want = (function, ctx.program(program), line_of(ctx.program(program), marker), caller)
    have = callback_lines(report)
    expect(have == [want], "expected exactly one 'Python callback: %s%s, called by C function %s' line; "
           "found %s" % (function, "" if marker is None else " at %s:%d" % (want[1], want[2]), caller,
                         have or "none"), run)


def check_gil_lib_inversion(ctx, run, report, callback_fn, touch_fn, program, c_caller="lib_call_with_callback"):
    cyc = cycle_line(report)
    mu = lock_name(report, "global 'lib_mu'")
    expect(mu is not None, "the report does not describe the library mutex as global 'lib_mu'", run)
    expect(re.search(r"\bGIL\b", cyc) and re.search(r"\b%s\b" % mu, cyc) and cyc.count("=>") == 2,
           "the cycle is not GIL <-> %s: '%s'" % (mu, cyc), run)
    expect("GIL: the Python interpreter's global interpreter lock" in report, "the GIL is not described", run)
    expect_py_frame(ctx, run, report, callback_fn, program, "CALLBACK")
    expect_py_frame(ctx, run, report, touch_fn, program, "TOUCH")
    expect_callback(ctx, run, report, "on_event", program, "ON_EVENT", c_caller)


def run_gil_report(ctx, program, stdout, kind, what, args=()):
    """Runs a program (with `args`) whose one report needs GIL tracking: it must not crash and must run
    to its end (`stdout`); without GIL tracking it exits 0 with no report and the scenario is skipped
    (`what` says what was not checked); with it, exit 66 and exactly one `kind` report. Returns the
    run."""
    r = ctx.run(program, args=args)
    expect(r.rc >= 0, "killed by signal %d (a crash)" % -r.rc, r)
    expect(r.stdout == stdout, "the program did not run to its end", r)
    if not ctx.gil:
        # No GIL tracking: the program must still run unchanged, without a report about the GIL.
        expect(r.rc == 0 and not r.reports(), "expected exit 0 and no report without GIL tracking", r)
        require_gil(ctx, "%s (the program ran to its end, exit 0, no report)" % what)
    expect(r.rc == 66, "exit status %d, expected 66" % r.rc, r)
    expect_counts(r, {kind: 1})
    return r


def scenario_gil_inversion(ctx):
    r = run_gil_report(ctx, "gil_inversion", "done\n", "lock-order-inversion", "the GIL <-> lib_mu report")
    check_gil_lib_inversion(ctx, r, report_of(r, "lock-order-inversion"), "run_callback", "touch_holding_gil",
                            "gil_inversion")


def expect_inversion_then_deadlock(ctx, r):
    """A program run until it hangs: it did hang, the lock-order-inversion came first, the deadlock
    report within DEADLOCK_REPORT_WITHIN of it, one of each."""
    expect(not r.exited_early, "the program exited (status %s) instead of hanging" % r.rc, r)
    ctx.log("TIMING: inversion report at %.2f s, deadlock report at %.2f s after start" % (
        r.events.get("headline:lock-order-inversion", -1), r.events.get("headline:deadlock", -1)))
    expect("headline:deadlock" in r.events,
           "no deadlock report within %.0f s (the program hung: killed)" % HANG_KILL_AFTER, r)
    expect(r.events.get("headline:lock-order-inversion", 1e9) < r.events["headline:deadlock"],
           "the lock-order-inversion was not reported before the deadlock", r)
    delay = r.events["headline:deadlock"] - r.events["headline:lock-order-inversion"]
    expect(delay <= DEADLOCK_REPORT_WITHIN, "the deadlock report came %.1f s after the hang began (the "
           "inversion report), more than %.0f s" % (delay, DEADLOCK_REPORT_WITHIN), r)
    expect_counts(r, {"lock-order-inversion": 1, "deadlock": 1})


def scenario_gil_deadlock(ctx):
    require_gil(ctx, "a deadlock through the GIL (the program would just hang)")
    r = ctx.run_hanging("gil_deadlock", "deadlock")
    expect_inversion_then_deadlock(ctx, r)
    check_gil_lib_inversion(ctx, r, report_of(r, "lock-order-inversion"), "callback_loop", "touch_loop",
                            "gil_deadlock", "lib_call_with_callback_slow")
    d = report_of(r, "deadlock")
    tids = dict(re.findall(r"^tid (\w+) (\d+)$", r.stdout, re.M))
    expect(set(tids) == {"callback_loop", "touch_loop"}, "the program did not print its threads' ids", r)
    for fn, tid in sorted(tids.items()):
        expect(re.search(r"^  Thread T\d+ \(tid %s\b.*has been waiting" % tid, d, re.M),
               "the deadlock report does not name thread %s (tid %s) as waiting" % (fn, tid), r)
    expect(re.search(r"waiting [\d.]+ s to lock the GIL", d), "the deadlock report has no wait for the GIL", r)
    mu = lock_name(d, "global 'lib_mu'")
    expect(mu and re.search(r"waiting [\d.]+ s to lock mutex %s\b" % mu, d),
           "the deadlock report has no wait for lib_mu", r)
    expect_py_frame(ctx, r, d, "callback_loop", "gil_deadlock", "CALLBACK")
    expect_py_frame(ctx, r, d, "touch_loop", "gil_deadlock", "TOUCH")


def scenario_lock_abba(ctx):
    check_lock_abba(ctx, "lock_abba")


def check_lock_abba(ctx, program, args=()):
    r = ctx.run(program, args=args)
    expect(r.rc >= 0, "killed by signal %d (a crash)" % -r.rc, r)
    expect(r.stdout == "done\n", "the program did not run to its end", r)
    expect(r.rc == 66, "exit status %d, expected 66" % r.rc, r)
    expect_counts(r, {"lock-order-inversion": 1})
    rep = report_of(r, "lock-order-inversion")
    cyc = cycle_line(rep)
    expect(re.fullmatch(r"(SEM\d+) \(0x[0-9a-f]+\) => (SEM\d+) \(0x[0-9a-f]+\) => \1", cyc),
           "the cycle is not between two semaphores (threading.Lock): '%s'" % cyc, r)
    if not ctx.gil:
        ctx.log("NOTE: CPython %s: no Python stacks expected (not supported)" % ctx.vstr())
        return
    expect_py_frame(ctx, r, rep, "take_a_then_b", program, "AB")
    expect_py_frame(ctx, r, rep, "take_b_then_a", program, "BA")
    return r


def scenario_lock_abba_main(ctx):
    # Both locks first taken by the interpreter's code in their creating thread: each lock line of the
    # report names that site (the interpreter's lock function, or its module+offset without symbols).
    r = check_lock_abba(ctx, "lock_abba_main")
    if not ctx.gil:
        return
    rep = report_of(r, "lock-order-inversion")
    lines = re.findall(r"^  Semaphore SEM\d+ \(0x[0-9a-f]+, semaphore\): .*$", rep, re.M)
    expect(len(lines) == 2, "expected the two semaphores' lines, found %d" % len(lines), r)
    for line in lines:
        expect(re.search(r"; first locked at (PyThread_acquire_lock\w*|<unknown>) "
                         r".*\((libpython3\.\d+\S*|python3\.\d+)\+0x[0-9a-f]+\)$", line),
               "the lock's first site is not the interpreter's lock function: '%s'" % line, r)


def scenario_lock_abba_io(ctx):
    check_lock_abba(ctx, "lock_abba_io")


def scenario_condition_abba(ctx):
    check_lock_abba(ctx, "condition_abba")


def scenario_condition_abba_after(ctx):
    check_lock_abba(ctx, "condition_abba", args=["after"])


def scenario_lock_deadlock(ctx):
    r = ctx.run_hanging("lock_deadlock", "deadlock")
    expect_inversion_then_deadlock(ctx, r)
    inv = report_of(r, "lock-order-inversion")
    d = report_of(r, "deadlock")
    tids = dict(re.findall(r"^tid (\w+) (\d+)$", r.stdout, re.M))
    expect(set(tids) == {"take_a_then_b", "take_b_then_a"}, "the program did not print its threads' ids", r)
    sems = re.findall(r"\b(SEM\d+) \(0x", cycle_line(inv))
    for fn, tid in sorted(tids.items()):
        m = re.search(r"^  Thread T\d+ \(tid %s\b.*has been waiting [\d.]+ s to lock semaphore (SEM\d+) .*held by "
                      r"thread T\d+" % tid, d, re.M)
        expect(m, "the deadlock report does not name thread %s (tid %s) waiting for a semaphore" % (fn, tid), r)
        expect(m.group(1) in sems, "thread %s waits for %s, not one of the inversion's %s" % (fn, m.group(1), sems),
               r)
    if not ctx.gil:
        ctx.log("NOTE: CPython %s: no Python stacks expected (not supported)" % ctx.vstr())
        return
    for rep in (inv, d):
        expect_py_frame(ctx, r, rep, "take_a_then_b", "lock_deadlock", "AB")
        expect_py_frame(ctx, r, rep, "take_b_then_a", "lock_deadlock", "BA")


def scenario_c_inversion(ctx):
    r = ctx.run("c_inversion")
    expect(r.rc >= 0, "killed by signal %d (a crash)" % -r.rc, r)
    expect(r.stdout == "done\n", "the program did not run to its end", r)
    expect(r.rc == 66, "exit status %d, expected 66" % r.rc, r)
    expect_counts(r, {"lock-order-inversion": 1})
    rep = report_of(r, "lock-order-inversion")
    a, b = lock_name(rep, "global 'lib_a'"), lock_name(rep, "global 'lib_b'")
    expect(a and b, "the report does not describe global 'lib_a' and global 'lib_b'", r)
    expect("GIL" not in cycle_line(rep), "the GIL is in the cycle: '%s'" % cycle_line(rep), r)
    expect(re.search(r"SUMMARY: locksan: lock-order-inversion \S*cblib\.c:\d+ in lib_(a_then_b|b_then_a)$", rep, re.M),
           "the SUMMARY does not point into cblib.c", r)
    if not ctx.gil:
        ctx.log("NOTE: CPython %s: no Python stacks expected (not supported)" % ctx.vstr())
        return
    expect_py_frame(ctx, r, rep, "a_then_b", "c_inversion", "AB")
    expect_py_frame(ctx, r, rep, "b_then_a", "c_inversion", "BA")


def scenario_long_wait(ctx):
    r = ctx.run("long_wait", options="long_wait_ms=300:watchdog_interval_ms=100")
    expect(r.rc >= 0, "killed by signal %d (a crash)" % -r.rc, r)
    expect(r.stdout == "got the lock\ndone\n", "the program did not run to its end", r)
    expect(r.rc == 66, "exit status %d, expected 66" % r.rc, r)
    expect_counts(r, {"long-wait": 1})
    rep = report_of(r, "long-wait")
    expect(re.search(r"^  Thread T0 \(tid \d+.*has been waiting [\d.]+ s to lock semaphore SEM\d+ \(0x[0-9a-f]+\), "
                     r"held by thread T1\.$", rep, re.M),
           "the report does not name the main thread waiting for a semaphore held by T1", r)
    expect(re.search(r"^  Thread T1 \(tid \d+.*\) holds it:$", rep, re.M), "the holder is not shown", r)
    expect_py_frame(ctx, r, rep, "main_waits", "long_wait", "WAIT")


def scenario_signal_handlers(ctx):
    # CPython's handlers count for nothing; a C handler installed with signal() runs behind locksan's
    # trampoline (deferred out of its critical sections), or, with defer_signals=0, makes locksan block
    # signals around them.
    for variant, opts, want in (
            ("python", "", r"none \(signals left unblocked around the lock graph\)"),
            ("c", "", r"yes \(deferred to the end of locksan's critical sections: \d+ signals\)"),
            ("c", ":defer_signals=0", r"yes \(signals blocked around the lock graph\)")):
        r = ctx.run("signal_handlers", options="verbosity=1" + opts, args=[variant])
        what = variant + opts
        expect(r.rc == 0 and r.stdout == "done\n", "%s: the program did not run to its end" % what, r)
        expect("WARNING: locksan" not in r.stderr, "%s: a report" % what, r)
        line = re.search(r"^==\d+==locksan: program signal handlers: (.*)$", r.stderr, re.M)
        expect(line is not None, "%s: no 'program signal handlers' line at exit" % what, r)
        expect(re.fullmatch(want, line.group(1)) is not None, "%s: 'program signal handlers: %s', expected '%s'" % (
            what, line.group(1), want), r)


def scenario_gil_sem_inversion(ctx):
    r = run_gil_report(ctx, "gil_sem_inversion", "done\n", "lock-order-inversion", "the GIL <-> lib_sem report")
    rep = report_of(r, "lock-order-inversion")
    cyc = cycle_line(rep)
    sem = lock_name(rep, "global 'lib_sem'")
    expect(sem is not None, "the report does not describe the library semaphore as global 'lib_sem'", r)
    expect(re.search(r"\bGIL\b", cyc) and re.search(r"\b%s\b" % sem, cyc) and cyc.count("=>") == 2,
           "the cycle is not GIL <-> %s: '%s'" % (sem, cyc), r)
    expect("one thread" not in rep, "the report calls a two-thread cycle single-threaded", r)
    # lib_sem -> GIL is made by Python code taking the GIL back (time.sleep), not by a callback: no
    # callback may be named (a Python function found in those frames would be a wrong name).
    expect("Python callback:" not in rep, "a callback is named where there is none", r)
    # GIL -> lib_sem as the second thread made it, lib_sem -> GIL as the first one did (where it let the
    # GIL go while holding lib_sem: in time.sleep, or -- seen on 3.13 -- right after taking it).
    expect_py_frame(ctx, r, rep, "hold_sem_second", "gil_sem_inversion", "TAKE2")
    prog = ctx.program("gil_sem_inversion")
    first = [f for f in innermost_py_frames(rep) if f[0] == "hold_sem_first" and f[1] == prog]
    expect(first and first[0][2] in (line_of(prog, "TAKE1"), line_of(prog, "SLEEP1")),
           "no innermost Python frame of hold_sem_first at its TAKE1 or SLEEP1 line; found %s"
           % innermost_py_frames(rep), r)


def can_import(ctx, module):
    return subprocess.run([ctx.path, "-c", "import " + module], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, env=ctx.env(False)).returncode == 0


def scenario_callback_names(ctx):
    prog = "callback_names"
    variants = [("function", "on_event", "ON_EVENT", "done 42"),
                ("method", "Handler.on_event", "METHOD", "done 43"),
                ("partial", "<functools.partial object>", None, "done 44"),
                ("native_thread", "on_event", "ON_EVENT", "done 42")]
    missing = []
    for module, variant in (("cffi", "cffi"), ("_cffi_backend", "cffi_backend")):
        if can_import(ctx, module):
            variants.append((variant, "on_event", "ON_EVENT", "done 42"))
        else:
            missing.append(module)
    if missing:
        ctx.log("  (no %s for this interpreter: those variants not run)" % " or ".join(missing))
    for variant, function, marker, out in variants:
        r = ctx.run(prog, args=[variant])
        expect(r.rc >= 0, "%s: killed by signal %d (a crash)" % (variant, -r.rc), r)
        expect(r.stdout == out + "\n", "%s: the program did not run to its end" % variant, r)
        if not ctx.gil:
            expect(r.rc == 0 and not r.reports(), "expected exit 0 and no report without GIL tracking", r)
            continue
        expect(r.rc == 66, "%s: exit status %d, expected 66" % (variant, r.rc), r)
        expect_counts(r, {"lock-order-inversion": 1})
        rep = report_of(r, "lock-order-inversion")
        expect_callback(ctx, r, rep, function, prog, marker)
        ctx.log("  %s: %s" % (variant, rep[rep.index("Python callback:"):].splitlines()[0]))
    require_gil(ctx, "naming ctypes callbacks (every variant ran to its end, exit 0, no report)")
    # Every GIL take recognised as a callback entry had its callback found: a ctypes call returning to
    # Python code (Py_END_ALLOW_THREADS in _ctypes_callproc) is not taken for one.
    r = ctx.run(prog, options="verbosity=1", args=["function"])
    expect(r.rc == 66 and r.stdout == "done 42\n", "verbosity=1: exit %d" % r.rc, r)
    expect("callback is entered but its function was not found" not in r.stderr,
           "a GIL take was taken for a callback entry whose callback was not found", r)
    # The JSON form: the edge lib_mu -> GIL carries the callback.
    r = ctx.run(prog, options="report_format=json", args=["function"])
    expect(r.rc == 66 and r.stdout == "done 42\n", "report_format=json: exit %d" % r.rc, r)
    found = []
    for line in r.stderr.splitlines():
        if line.startswith("{"):
            for finding in json.loads(line)["findings"]:
                found += [e["python_callback"] for e in finding["edges"] if e["python_callback"]]
    want_file = ctx.program(prog)
    expect(len(found) == 1 and found[0]["function"] == "on_event" and found[0]["file"] == want_file
           and found[0]["line"] == line_of(want_file, "ON_EVENT")
           and (found[0]["called_by"] or {}).get("function") == "lib_call_with_callback",
           "JSON: expected one edge with python_callback on_event at %s:%d called by lib_call_with_callback; "
           "found %s" % (want_file, line_of(want_file, "ON_EVENT"), found), r)


def scenario_callback_in_tracked_driver(ctx):
    if not ctx.fakecuda_cupti:
        raise Skip("the stand-in libcupti was not built (no CUPTI headers): %s" % FAKECUPTI_WHY[0])
    prog = "callback_in_tracked_driver"
    r = ctx.run(prog, options="verbosity=1")
    status = re.findall(r"^==\d+==locksan: (CUPTI driver-API tracking [^\n]*)$", r.stderr, re.M)
    if "built without the CUPTI headers" in " ".join(status):
        raise Skip("liblocksan.so was built without the CUPTI headers")
    expect(r.rc >= 0, "killed by signal %d (a crash)" % -r.rc, r)
    expect(r.stdout == "done 128 128\n", "the program did not run to its end", r)
    expect(any(s.startswith("CUPTI driver-API tracking active (libcupti: %s, via CUDA_INJECTION64_PATH"
                            % os.path.realpath(ctx.fakecuda_cupti[1])) for s in status),
           "no status line saying that tracking is active with the stand-in libcupti (via "
           "CUDA_INJECTION64_PATH); status lines: %s" % (status or "none"), r)
    if not ctx.gil:
        expect(r.rc == 0 and not r.reports(), "expected exit 0 and no report without GIL tracking", r)
        require_gil(ctx, "the python-callback-in-driver-call report (the program ran to its end, exit 0)")
    expect(r.rc == 66, "exit status %d, expected 66" % r.rc, r)
    expect_counts(r, {"python-callback-in-driver-call": 1})
    rep = report_of(r, "python-callback-in-driver-call")
    expect("is inside CUDA driver call cuOccupancyMaxPotentialBlockSize and starts to take the GIL" in rep,
           "the report does not name the driver call cuOccupancyMaxPotentialBlockSize", r)
    # The stand-in driver takes no pthread lock (a Python lock of the interpreter's may be held).
    expect(not re.search(r"^\s+\w+ \w+ \(0x[0-9a-f]+\).*, acquired at .*libcuda\.so\.1", rep, re.M),
           "the report lists a lock taken in the stand-in driver, which takes none", r)
    expect_py_frame(ctx, r, rep, "occupancy", prog, "OCCUPANCY")
    expect_callback(ctx, r, rep, "b2d", prog, "B2D", "cuFakeOccupancyTracked")


def scenario_callback_not_entry(ctx):
    prog = "callback_not_entry"
    r = run_gil_report(ctx, prog, "done\n", "lock-order-inversion", "the GIL <-> lib_sem report")
    rep = report_of(r, "lock-order-inversion")
    sem = lock_name(rep, "global 'lib_sem'")
    expect(sem is not None and re.search(r"\b%s\b" % sem, cycle_line(rep)) and "GIL" in cycle_line(rep),
           "the cycle is not GIL <-> lib_sem: '%s'" % cycle_line(rep), r)
    expect_py_frame(ctx, r, rep, "worker", prog, "RETURN")
    expect("Python callback:" not in rep, "a callback is named on an edge no callback made", r)


def check_callback_in_fake_driver(ctx, args, c_function):
    """programs/callback_in_fake_driver.py with `args`: one python-callback-in-driver-call from the held
    mutex that the stand-in driver's `c_function` took, naming the callback and the Python caller."""
    prog = "callback_in_fake_driver"
    r = run_gil_report(ctx, prog, "done 128\n", "python-callback-in-driver-call", "python-callback-in-driver-call",
                       args)
    rep = report_of(r, "python-callback-in-driver-call")
    expect("holds a lock taken inside libcuda" in rep, "the report does not say the thread holds a libcuda lock", r)
    expect(re.search(r"^\s+mutex M\d+ \(0x[0-9a-f]+\) for writing, acquired at %s " % c_function, rep, re.M),
           "the driver's mutex is not among the held locks", r)
    expect_py_frame(ctx, r, rep, "occupancy", prog, "OCCUPANCY")
    expect_callback(ctx, r, rep, "b2d", prog, "B2D", c_function)


def scenario_callback_in_driver(ctx):
    check_callback_in_fake_driver(ctx, (), "cuFakeOccupancy")


def scenario_callback_in_driver_wait(ctx):
    check_callback_in_fake_driver(ctx, ("wait",), "cuFakeOccupancyAfterWait")


def scenario_lock_revival(ctx):
    # A mutex made, taken with the GIL held and freed per item comes back at the same address and takes
    # the previous item's node back (revive_locks): no report, and (where the GIL is tracked, so that the
    # mutex has an edge into it) one revival per item but the first; revive_locks=0 revives nothing.
    for opts in ("verbosity=1", "verbosity=1:revive_locks=0"):
        r = ctx.run("lock_revival", options=opts)
        expect(r.rc == 0 and r.stdout.endswith("done\n"), "%s: the program did not run to its end" % opts, r)
        expect("WARNING: locksan" not in r.stderr, "%s: a report" % opts, r)
        m = re.search(r"stats: .* (\d+) locks revived \((\d+) parked\)$", r.stderr, re.M)
        expect(m is not None, "%s: no stats line with revivals" % opts, r)
        revived = int(m.group(1))
        one_address = r.stdout.startswith("addresses: 1\n")
        if "revive_locks=0" in opts:
            expect(revived == 0, "%s: %d locks revived" % (opts, revived), r)
        elif not ctx.gil:
            ctx.log("NOTE: CPython %s: GIL not tracked (edges only from the held threading.Lock): %d revived" % (
                ctx.vstr(), revived))
        elif not one_address:
            ctx.log("NOTE: the allocator gave several addresses (%s): %d revived" % (r.stdout.split("\n")[0],
                                                                                     revived))
        else:
            expect(revived >= 499, "%s: %d locks revived, expected 499 (one per item but the first)" % (
                opts, revived), r)


def scenario_site_classes(ctx):
    # lock_identity=site: C mutexes that Python locks through ctypes have the same C frames (libffi,
    # _ctypes, the interpreter): the Python stack is part of their class's key, so two mutexes first
    # locked at different Python lines are two classes and their ABBA is reported; a C library's own
    # mutexes (distinct C paths) too; lock_revival's mutex per item, first locked at one Python line,
    # is one class (no report). Interpreters whose frames locksan does not read (3.6): no classes for
    # such locks (their own identity).
    r = ctx.run("site_classes", options="lock_identity=site")
    expect(r.rc >= 0, "killed by signal %d (a crash)" % -r.rc, r)
    expect(r.stdout == "done\n", "the program did not run to its end", r)
    expect(r.rc == 66, "exit status %d, expected 66" % r.rc, r)
    expect_counts(r, {"lock-order-inversion": 1})
    r = ctx.run("c_inversion", options="lock_identity=site")
    expect(r.rc == 66 and r.stdout == "done\n", "c_inversion under lock_identity=site: exit %d" % r.rc, r)
    expect_counts(r, {"lock-order-inversion": 1})
    r = ctx.run("lock_revival", options="verbosity=1:lock_identity=site")
    expect(r.rc == 0 and r.stdout.endswith("done\n"), "lock_revival under lock_identity=site did not end", r)
    expect("WARNING: locksan" not in r.stderr, "lock_revival under lock_identity=site: a report", r)
    m = re.search(r"lock_identity=site: (\d+) lock classes stand for (\d+) locks;", r.stderr)
    expect(m is not None, "no lock_identity=site line", r)
    if ctx.gil:
        expect(int(m.group(2)) >= 500, "lock_revival's 500 mutexes are not one class: %s" % m.group(0), r)
    else:
        ctx.log("NOTE: CPython %s: Python frames not read: %s" % (ctx.vstr(), m.group(0)))
    # lock_identity=auto: a and b (long-lived) are locks of their own, as under the default: their
    # ABBA is reported; lock_revival's mutex per item takes its parked node back (as under the
    # default) before a class key is computed, so its call path never counts a freed lock: no class.
    for prog in ("site_classes", "c_inversion"):
        r = ctx.run(prog, options="verbosity=1:lock_identity=auto")
        expect(r.rc == 66 and r.stdout == "done\n", "%s under lock_identity=auto: exit %d" % (prog, r.rc), r)
        expect_counts(r, {"lock-order-inversion": 1})
        expect(re.search(r"lock_identity=auto: 0 lock classes stand for 0 locks;", r.stderr) is not None,
               "%s under lock_identity=auto: its long-lived locks became a class" % prog, r)
    r = ctx.run("lock_revival", options="verbosity=1:lock_identity=auto")
    expect(r.rc == 0 and r.stdout.endswith("done\n"), "lock_revival under lock_identity=auto did not end", r)
    expect("WARNING: locksan" not in r.stderr, "lock_revival under lock_identity=auto: a report", r)
    m = re.search(r"stats: .* (\d+) locks revived \((\d+) parked\)$", r.stderr, re.M)
    expect(m is not None, "lock_revival under lock_identity=auto: no stats line", r)
    if ctx.gil:
        expect(int(m.group(1)) >= 450, "lock_revival under lock_identity=auto: %s revived of 500" % m.group(1), r)


def scenario_driver_lock_recurring(ctx):
    # A driver object whose recursive mutex is initialised, used (outer -> obj -> inner) and destroyed
    # at the same address on every call, 1,000 calls (fakecuda.c): one node for all of them (the
    # recurring-driver-lock rule), and the same verdicts as one node per object.
    def revived(r, opts):
        m = re.search(r"stats: .* (\d+) locks revived \((\d+) parked\)$", r.stderr, re.M)
        expect(m is not None, "%s: no stats line with revivals" % opts, r)
        return int(m.group(1))

    for opts in ("verbosity=1", "verbosity=1:revive_locks=0"):
        r = ctx.run("driver_lock_recurring", options=opts)
        expect(r.rc == 0 and r.stdout == "done\n", "%s: the program did not run to its end" % opts, r)
        expect("WARNING: locksan" not in r.stderr, "%s: a report" % opts, r)
        n = revived(r, opts)
        want = 0 if "revive_locks=0" in opts else 999
        expect(n == want, "%s: %d locks revived, expected %d (one per call but the first)" % (opts, n, want), r)
    # Negative: after the object is destroyed, inner -> outer on another thread closes outer -> obj ->
    # inner -> outer only through the destroyed lock, whose node stays parked with its edges.
    r = ctx.run("driver_lock_recurring", options="verbosity=1", args=("parked_cycle",))
    expect(r.rc == 0 and r.stdout == "done\n", "parked_cycle: the program did not run to its end", r)
    expect("WARNING: locksan" not in r.stderr, "parked_cycle: a cycle through a destroyed lock was reported", r)
    expect(re.search(r"stats: .* \(1 parked\)$", r.stderr, re.M), "parked_cycle: the lock was not parked", r)
    # Positive: one more object, revived, used as before (its chains are cached: no order check) and then
    # taken by another thread while it holds the inner lock: obj -> inner and inner -> obj, reported.
    r = ctx.run("driver_lock_recurring", options="verbosity=1", args=("inversion",))
    expect(r.rc == 66, "inversion: exit status %d, expected 66" % r.rc, r)
    kinds = [k for _, k in HEADLINE.findall(r.stderr)]
    expect(kinds == ["lock-order-inversion"], "inversion: reports %s, expected one lock-order-inversion" % kinds, r)
    rep = report_of(r, "lock-order-inversion")
    expect("cuFakeInnerThenObj" in rep and "obj_use" in rep,
           "inversion: the report does not show both orders (obj_use, cuFakeInnerThenObj)", r)
    expect(revived(r, "inversion") == 1000, "inversion: the last object was not revived", r)


# glibc's ld.so asserts in a forked child's dlopen (libgcc_s, loaded at a thread's first exit) when
# the fork caught another thread inside dlopen: clean_faulthandler_fork hits it without locksan too
# (CPython 3.8, 2 runs in 300, 2026-11-28), and the child's output is then lost. Such a run says
# nothing about locksan: it is run again (at most twice), and the log says so.
LDSO_FORK_RACE = "Inconsistency detected by ld.so"


def run_clean(ctx, name, preload):
    for attempt in range(3):
        r = ctx.run(name, preload=preload)
        if LDSO_FORK_RACE not in r.stderr:
            break
        ctx.log("  NOTE: %s (%s): ld.so's fork/dlopen assertion in a child, run again" %
                (name, "locksan" if preload else "native"))
    return r


def scenario_clean(ctx):
    failures = []
    for name in CLEAN_PROGRAMS:
        known = None if ctx.args.strict else known_failure(name, ctx.version)
        native = run_clean(ctx, name, False)
        if native.rc != 0:
            failures.append("%s: fails without locksan (exit %d): a broken test\n%s" % (name, native.rc,
                                                                                       excerpt(native.stderr)))
            continue
        r = run_clean(ctx, name, True)
        # A program whose own output varies between native runs (CPython 3.8 lost a forked child's
        # line in clean_faulthandler_fork's native run, under load, twice in a day): locksan's output
        # must equal some native run's, so the native run is sampled again (at most twice) before a
        # difference counts, and the log says so.
        for attempt in range(2):
            if r.stdout == native.stdout and r.stderr == native.stderr:
                break
            again = run_clean(ctx, name, False)
            if again.rc != 0 or (again.stdout == native.stdout and again.stderr == native.stderr):
                continue
            ctx.log("  NOTE: %s: the native run's output changed from one run to the next; compared with the "
                    "later one" % name)
            native = again
        problems = []
        if r.rc != 0:
            problems.append("exit status %d (native 0)" % r.rc)
        if r.stdout != native.stdout:
            problems.append("stdout differs from the native run:\n--- native\n%s--- locksan\n%s" % (
                native.stdout, r.stdout))
        if r.stderr != native.stderr:
            kinds = [k for _, k in HEADLINE.findall(r.stderr)]
            problems.append("stderr differs from the native run (%s):\n%s" % (
                "reports: " + ", ".join(kinds) if kinds else "no report", excerpt(r.stderr)))
        status = ("XFAIL" if known else "FAIL") if problems else ("XPASS" if known else "ok")
        ctx.log("  %-26s %-5s  native %.2f s, locksan %.2f s" % (name, status, native.seconds, r.seconds))
        if problems and known:
            ctx.log("    known bug: %s\n    %s" % (known, problems[0].splitlines()[0]))
        elif problems:
            failures.append("%s: %s" % (name, "\n".join(problems)))
        elif known:
            ctx.log("    XPASS: known bug no longer seen (%s): delete its KNOWN_FAILURES line" % known)
    if failures:
        raise Failure("\n\n".join(failures))


SCENARIOS = {
    "gil_inversion": scenario_gil_inversion,
    "gil_deadlock": scenario_gil_deadlock,
    "lock_abba": scenario_lock_abba,
    "lock_abba_main": scenario_lock_abba_main,
    "lock_abba_io": scenario_lock_abba_io,
    "condition_abba": scenario_condition_abba,
    "condition_abba_after": scenario_condition_abba_after,
    "lock_deadlock": scenario_lock_deadlock,
    "c_inversion": scenario_c_inversion,
    "long_wait": scenario_long_wait,
    "callback_names": scenario_callback_names,
    "callback_in_driver": scenario_callback_in_driver,
    "callback_in_driver_wait": scenario_callback_in_driver_wait,
    "callback_in_tracked_driver": scenario_callback_in_tracked_driver,
    "callback_not_entry": scenario_callback_not_entry,
    "gil_sem_inversion": scenario_gil_sem_inversion,
    "signal_handlers": scenario_signal_handlers,
    "lock_revival": scenario_lock_revival,
    "site_classes": scenario_site_classes,
    "driver_lock_recurring": scenario_driver_lock_recurring,
    "clean": scenario_clean,
}


# ---------------------------------------------------------------------------------------------------
def build_cblib(args):
    return build_c_library(args, "cblib.c", "libpye2e_cblib.so")


def build_c_library(args, source, name, extra=()):
    src = os.path.join(HERE, source)
    out = os.path.join(args.workdir, name)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return out
    tmp = "%s.%d.tmp" % (out, os.getpid())
    p = subprocess.run([args.cc, "-g", "-O0", "-shared", "-fPIC", "-pthread", src, "-o", tmp] + list(extra),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if p.returncode != 0:
        raise SystemExit("building %s failed:\n%s" % (source, p.stdout))
    os.replace(tmp, out)  # atomic: parallel tests may build it at the same time
    return out


FAKECUPTI_WHY = [""]


def build_fake_cupti(args):
    """The stand-in driver that reports its calls to CUPTI (fakecuda.c with the soname libcuda.so.1, so
    that locksan recognises it as loaded) and the stand-in libcupti (fakecupti.c, needs the CUPTI
    headers), side by side in <workdir>/fakecuda_cupti/. Returns (libcuda path, libcupti path), or None
    (FAKECUPTI_WHY[0] says why) where the headers are missing."""
    roots = [os.environ.get(v) for v in ("CUDA_HOME", "CUDA_PATH")] + ["/usr/local/cuda"]
    inc = next((os.path.join(r, "include") for r in roots
                if r and os.path.exists(os.path.join(r, "include", "cupti_callbacks.h"))), None)
    if not inc:
        FAKECUPTI_WHY[0] = "cupti_callbacks.h not found under $CUDA_HOME, $CUDA_PATH or /usr/local/cuda"
        return None
    d = os.path.join("fakecuda_cupti")
    libcuda = build_c_library(args, "fakecuda.c", os.path.join(d, "libcuda.so.1"), ["-Wl,-soname,libcuda.so.1"])
    libcupti = build_c_library(args, "fakecupti.c", os.path.join(d, "libcupti.so.13"), ["-I" + inc])
    return libcuda, libcupti


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", help="liblocksan.so")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--python", action="append", default=[], help="interpreter (repeatable; default: all)")
    ap.add_argument("--list-pythons", action="store_true")
    ap.add_argument("--list-scenarios", action="store_true")
    ap.add_argument("--strict", action="store_true", help="known failures (KNOWN_FAILURES) count as failures")
    ap.add_argument("scenarios", nargs="*")
    args = ap.parse_args()
    if args.list_pythons:
        for pid, path, v in find_pythons():
            print(pid, path, "%d.%d.%d" % v)
        return 0
    if args.list_scenarios:
        print("\n".join(SCENARIOS))
        return 0
    if not args.lib or not args.scenarios:
        ap.error("--lib and at least one SCENARIO are needed")
    for s in args.scenarios:
        if s not in SCENARIOS:
            ap.error("unknown scenario %s (have: %s)" % (s, ", ".join(SCENARIOS)))
    args.lib = os.path.abspath(args.lib)
    if not os.path.exists(args.lib):
        print("FAIL: %s does not exist (build it first)" % args.lib)
        return 1
    args.workdir = os.path.abspath(args.workdir or os.path.join("/tmp", "locksan-python-e2e"))
    os.makedirs(args.workdir, exist_ok=True)
    cblib = build_cblib(args)
    fakecuda = build_c_library(args, "fakecuda.c", os.path.join("fakecuda", "libcuda.so.1"))
    fakecuda_cupti = build_fake_cupti(args)

    if args.python:
        pythons = []
        for p in args.python:
            info = interpreter_info(p) if os.path.exists(p) else None
            if info is None:
                print("SKIP: interpreter %s not found or not CPython 3" % p)
                continue
            pythons.append((p, p, info[0]))
    else:
        pythons = find_pythons()
    if not pythons:
        print("SKIP: no interpreter")
        return SKIP_RC

    failed = skipped = passed = xfailed = 0
    for scenario in args.scenarios:
        for pid, path, version in pythons:
            ctx = Context(args, pid, path, version, lambda m: print(m, flush=True))
            ctx.cblib = cblib
            ctx.fakecuda = fakecuda
            ctx.fakecuda_cupti = fakecuda_cupti
            title = "%s [%s, CPython %s]" % (scenario, path, ctx.vstr())
            known = None if args.strict else known_failure(scenario, version)
            t0 = time.time()
            try:
                SCENARIOS[scenario](ctx)
            except Skip as e:
                skipped += 1
                print("SKIP: %s: %s" % (title, e), flush=True)
            except Failure as e:
                if known:
                    xfailed += 1
                    print("XFAIL: %s (%.1f s): known bug: %s\n%s" % (title, time.time() - t0, known, e), flush=True)
                else:
                    failed += 1
                    print("FAIL: %s (%.1f s)\n%s" % (title, time.time() - t0, e), flush=True)
            else:
                passed += 1
                if known:
                    print("XPASS: %s: known bug no longer seen (%s): delete its KNOWN_FAILURES line" % (title, known))
                print("PASS: %s (%.1f s)" % (title, time.time() - t0), flush=True)
    print("%d passed, %d failed, %d expected failures, %d skipped" % (passed, failed, xfailed, skipped))
    if failed:
        return 1
    return SKIP_RC if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
