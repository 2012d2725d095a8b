#!/usr/bin/env python3
"""tests/report/report_tests.py — tests of locksan's report forms and of `locksan report`.

Every test builds the small programs of progs/ (as a user would, from the source directory, so that
their file names read tests/report/progs/...), runs them under the preload through `locksan run`,
and checks what they wrote: the text and JSON reports, the one-line form, and every output form of
`locksan report` (text, JSON, SARIF, JUnit, SVG), against the goldens in golden/ after normalising
pids, tids, addresses, times, host names and the C runtime's frames.

  report_tests.py TEST --tool build/locksan --lib build/liblocksan.so --src . --work DIR
  LOCKSAN_UPDATE_GOLDENS=1 report_tests.py TEST ...     rewrites the goldens TEST compares with

Exit status 0: passed; 1: failed (the reason and, for goldens, a diff on stderr).
"""
import argparse
import difflib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")
DATA = os.path.join(HERE, "data")
SARIF_SCHEMA = os.path.join(DATA, "sarif-schema-2.1.0.json")
UPDATE = os.environ.get("LOCKSAN_UPDATE_GOLDENS") == "1"
SYSTEM_MODULES = re.compile(r"^(libc\.so|libc-|libpthread|libstdc\+\+|libgcc_s|ld-linux)")
LINE_RE = re.compile(
    r'^locksan: (?P<kind>[a-z-]+) fingerprint=(?P<fp>[0-9a-f]{16}) locks=(?P<locks>"(?:[^"\\]|\\.)*"|\S+) '
    r'first_frame=(?P<frame>"(?:[^"\\]|\\.)*"|\S+) report=(?P<report>"(?:[^"\\]|\\.)*"|\S+)$')


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


# ------------------------------------------------------------------------------------------------
# Running things
# ------------------------------------------------------------------------------------------------
class Ctx:
    def __init__(self, args, name):
        self.args = args
        self.tool = os.path.abspath(args.tool)
        self.lib = os.path.abspath(args.lib)
        self.src = os.path.abspath(args.src)
        self.work = os.path.join(os.path.abspath(args.work), name)
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.host = socket.gethostname()
        self.built = {}

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def build(self, name):
        """Compiles progs/NAME (.c or .cc; lib*.c as a shared library) from the source directory."""
        if name in self.built:
            return self.built[name]
        rel = os.path.join("tests", "report", "progs", name)
        base, ext = os.path.splitext(name)
        compiler = self.args.cxx if ext == ".cc" else self.args.cc
        out = self.path(base + (".so" if base.startswith("lib") else ""))
        cmd = [compiler, "-g", "-O0", "-fno-omit-frame-pointer", "-pthread", rel, "-o", out]
        if base.startswith("lib"):
            cmd[1:1] = ["-shared", "-fPIC"]
        r = subprocess.run(cmd, cwd=self.src, capture_output=True, text=True)
        check(r.returncode == 0, f"cannot build {rel}: {r.stderr}")
        self.built[name] = out
        return out

    def env(self, options=None):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        env.pop("LOCKSAN_OPTIONS", None)
        if options:
            env["LOCKSAN_OPTIONS"] = options
        return env

    def run(self, argv, log_dir=None, options=None, env_options=None, timeout=60):
        """`locksan run [--log-dir] [--options] -- argv` (text and JSON reports in log_dir)."""
        cmd = [self.tool, "run"]
        if log_dir:
            cmd.append("--log-dir=" + log_dir)
        if options:
            cmd.append("--options=" + options)
        cmd += ["--"] + argv
        return subprocess.run(cmd, capture_output=True, timeout=timeout, env=self.env(env_options))

    def preload(self, argv, options, timeout=60):
        """argv with LD_PRELOAD and LOCKSAN_OPTIONS set directly."""
        env = self.env(options)
        env["LD_PRELOAD"] = self.lib
        return subprocess.run(argv, capture_output=True, timeout=timeout, env=env)

    def report(self, args, env=None):
        r = subprocess.run([self.tool, "report"] + args, capture_output=True, timeout=120, env=env or self.env())
        r.out = r.stdout.decode("utf-8", "replace")
        r.err = r.stderr.decode("utf-8", "replace")
        return r

    def standard_reports(self):
        """Three processes in one log directory: abba, abba reverse (the same bug, another report)
        and doublelock. Returns the directory."""
        d = self.path("logs")
        abba, dl = self.build("abba.c"), self.build("doublelock.c")
        for argv in ([abba], [abba, "reverse"], [dl]):
            r = self.run(argv, log_dir=d, options="halt_on_error=1" if argv[0] == dl else None)
            check(r.returncode == 66, f"{argv}: exit status {r.returncode}, expected 66 (a report)\n"
                  + r.stderr.decode(errors="replace"))
        check(len(json_files(d)) == 3, f"expected 3 JSON reports in {d}, found {os.listdir(d)}")
        return d


def json_files(d):
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".json"))


def text_logs(d):
    return sorted(os.path.join(d, f) for f in os.listdir(d) if re.fullmatch(r"locksan\.\d+", f))


def read(path):
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return f.read()


def load_json(path):
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"))  # strict: invalid UTF-8 fails


# ------------------------------------------------------------------------------------------------
# Normalisation and goldens
# ------------------------------------------------------------------------------------------------
def norm_text(ctx, s):
    s = s.replace(ctx.work, "<WORK>").replace(ctx.src, "<SRC>")
    s = re.sub(r"==\d+==", "==PID==", s)
    s = re.sub(r"\btid \d+", "tid TID", s)
    s = re.sub(r"\bpid \d+", "pid PID", s)
    s = re.sub(r"0x[0-9a-f]+", "0xADDR", s)
    s = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<TIME>", s)
    s = re.sub(r"\b(locksan|ls)\.\d+", r"\1.PID", s)
    s = re.sub(r"\b" + re.escape(ctx.host) + r"\b", "<HOST>", s) if ctx.host else s
    # The C runtime's frames (start_thread, __libc_start_main, ...) differ between systems: drop
    # them and renumber each stack.
    out, n = [], 0
    for line in s.split("\n"):
        m = re.match(r"^(\s+)#\d+ (.*)$", line)
        if not m:
            out.append(line)
            n = 0
            continue
        mod = re.search(r"\(([^()+]+)\+0xADDR\)$", line)
        if mod and SYSTEM_MODULES.match(mod.group(1)):
            continue
        out.append(f"{m.group(1)}#{n} {m.group(2)}")
        n += 1
    return "\n".join(out)


def norm_json(ctx, v, key=None):
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k in ("pid", "ppid", "tid", "start_time_unix") and isinstance(x, int):
                out[k] = 0
            elif k in ("time", "start_time") and isinstance(x, str):
                out[k] = "<TIME>"
            elif k == "hostname" and isinstance(x, str):
                out[k] = "<HOST>"
            elif k == "hosts" and isinstance(x, list):
                out[k] = ["<HOST>" for _ in x]
            elif k in ("address",) and isinstance(x, str):
                out[k] = "0xADDR"
            elif k == "offset" and isinstance(x, int):
                out[k] = 0
            elif k == "id" and "frames" in v:  # a stack's depot id
                out[k] = 0
            elif k == "version" and key == "tool":
                out[k] = "<VERSION>"
            elif k == "frames" and isinstance(x, list):
                out[k] = [norm_json(ctx, f) for f in x
                          if not SYSTEM_MODULES.match(os.path.basename((f or {}).get("module") or ""))]
            else:
                out[k] = norm_json(ctx, x, k)
        return out
    if isinstance(v, list):
        return [norm_json(ctx, x, key) for x in v]
    if isinstance(v, str):
        if key == "uri" and v.startswith("file://"):
            v = "file://" + v[7:].replace(ctx.src, "<SRC>")
        return norm_text(ctx, v)
    return v


def golden(ctx, name, actual):
    path = os.path.join(GOLDEN, name)
    if UPDATE:
        with open(path, "w", encoding="utf-8") as f:
            f.write(actual)
        print(f"updated {path}")
        return
    check(os.path.exists(path), f"golden {path} missing (LOCKSAN_UPDATE_GOLDENS=1 writes it)")
    expected = read(path)
    if expected != actual:
        with open(ctx.path(name + ".actual"), "w", encoding="utf-8") as f:
            f.write(actual)
        diff = "".join(list(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                                 "golden/" + name, "actual"))[:80])
        raise Fail(f"{name} differs from the golden (actual in {ctx.path(name + '.actual')}):\n{diff}")


def json_golden(ctx, name, doc):
    golden(ctx, name, json.dumps(norm_json(ctx, doc), indent=2, ensure_ascii=False) + "\n")


# The documented fingerprint (docs/report-schema.md), written independently of the C++ code.
def fingerprint_of(kind, sites):
    def site(s):
        return f"{s['function']}|{s['file']}|{s['line']}"
    pairs = sorted({site(p["from"]) + ">" + site(p["to"]) for p in sites})
    data = (kind + "\n" + "".join(p + "\n" for p in pairs)).encode("utf-8")
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return f"{h:016x}"


def strip_exit_lines(text):
    return "".join(l for l in text.splitlines(True) if not re.match(r"==\d+==locksan: reported \d+ warning", l))


def findings_of(doc):
    return doc["findings"]


# ------------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------------
def test_runtime_text(ctx):
    """The text report of a real run, and `locksan report --format=text` repeating it exactly."""
    d = ctx.path("logs")
    r = ctx.run([ctx.build("abba.c")], log_dir=d)
    check(r.returncode == 66, f"exit status {r.returncode}, expected 66")
    logs = text_logs(d)
    check(len(logs) == 1, f"expected one text log, found {os.listdir(d)}")
    text = read(logs[0])
    check(text.count("WARNING: locksan: lock-order-inversion (potential deadlock)") == 1, "no headline:\n" + text)
    golden(ctx, "abba.text", norm_text(ctx, text))
    # The command's text form embeds the runtime's text unchanged.
    rep = ctx.report([d])
    check(rep.returncode == 1, f"locksan report: exit status {rep.returncode}, expected 1\n{rep.err}")
    body = strip_exit_lines(text)
    check(body in rep.out, "locksan report's text does not contain the runtime's report verbatim:\n" + rep.out)


def test_runtime_json(ctx):
    """The per-process JSON report of a real run: schema, cross-references, fingerprint, golden."""
    d = ctx.path("logs")
    r = ctx.run([ctx.build("abba.c")], log_dir=d)
    check(r.returncode == 66, f"exit status {r.returncode}")
    files = json_files(d)
    check(len(files) == 1, f"expected one JSON report, found {os.listdir(d)}")
    pid = int(re.search(r"locksan\.(\d+)\.json$", files[0]).group(1))
    doc = load_json(files[0])
    check(doc["schema"] == "locksan-report" and doc["version"] == 1, "schema/version")
    check(doc["process"]["pid"] == pid, "process.pid is not the pid in the file name")
    check(doc["process"]["argv0"].endswith("/abba"), f"argv0 {doc['process']['argv0']}")
    check(doc["host"]["hostname"] == ctx.host, f"hostname {doc['host']['hostname']} != {ctx.host}")
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["process"]["start_time"]), "start_time")
    (f,) = findings_of(doc)
    check(f["kind"] == "lock-order-inversion", f["kind"])
    check(f["fingerprint"] == fingerprint_of(f["kind"], f["sites"]),
          f"fingerprint {f['fingerprint']} is not the documented hash of its sites {f['sites']}")
    ids = {l["id"] for l in f["locks"]}
    check({l["symbol"] for l in f["locks"]} == {"ledger_lock", "audit_lock"}, "lock symbols")
    check(len(f["edges"]) == 2 and all(e["from"] in ids and e["to"] in ids for e in f["edges"]), "edges")
    names = {t["name"] for t in f["threads"]}
    check({"poster", "auditor"} <= names, f"thread names {names}")
    for e in f["edges"]:
        for k in ("stack_to", "stack_from"):
            check(e[k]["python_frames"] == [] and e[k]["frames"], f"edge {k}")
    ff = f["first_frame"]
    check(f["summary"] == f"SUMMARY: locksan: lock-order-inversion {ff['file']}:{ff['line']} in {ff['function']}",
          f"summary {f['summary']!r} vs first_frame {ff}")
    check(f["text"].startswith(f"=={pid}==WARNING: locksan: lock-order-inversion"), "embedded text")
    json_golden(ctx, "abba.json", doc)


def test_line_format(ctx):
    """log_format=line: one line per finding on stderr, the full report in the log_path file."""
    abba = ctx.build("abba.c")
    prefix = ctx.path("ls")
    r = ctx.preload([abba], f"log_format=line:report_format=both:log_path={prefix}")
    check(r.returncode == 66, f"exit status {r.returncode}")
    err = r.stderr.decode()
    lines = [l for l in err.splitlines() if l.startswith("locksan: ")]
    check(len(lines) == 1 and "WARNING" not in err, "expected exactly one line and no full report:\n" + err)
    m = LINE_RE.match(lines[0])
    check(m, "line does not have the documented shape: " + lines[0])
    doc = load_json(f"{prefix}.{m.group('report').split('.')[-1]}.json")
    check(m.group("fp") == doc["findings"][0]["fingerprint"], "line and JSON fingerprints differ")
    check(m.group("report") == f"{prefix}.{doc['process']['pid']}", "report= is not the text log")
    check("WARNING: locksan: lock-order-inversion" in read(m.group("report")), "full report missing")
    golden(ctx, "abba.line", norm_text(ctx, lines[0]) + "\n")

    # With log_path=stderr the line says report=none and nothing else goes there.
    r = ctx.preload([abba], "log_format=line:report_format=json")
    lines = r.stderr.decode().splitlines()
    check(any(LINE_RE.match(l) and l.endswith(" report=none") for l in lines), "stderr:\n" + "\n".join(lines))
    check(not any(l.startswith("{") or "WARNING" in l for l in lines), "full report on stderr")

    # A C++ name with spaces is quoted, logfmt style, and the line stays one line.
    r = ctx.preload([ctx.build("escape.cc")], "log_format=line")
    (line,) = [l for l in r.stderr.decode("utf-8", "replace").splitlines() if l.startswith("locksan: ")]
    m = LINE_RE.match(line)
    check(m and m.group("frame").startswith('"') and "take_both<Account>" in m.group("frame"), line)

    # Invalid values are named once each; the defaults (text, full) apply.
    r = ctx.preload([abba], "report_format=xml:log_format=short")
    err = r.stderr.decode()
    check(err.count("invalid value 'xml' for option 'report_format'") == 1
          and err.count("invalid value 'short' for option 'log_format'") == 1
          and "WARNING: locksan: lock-order-inversion" in err
          and not any(LINE_RE.match(l) for l in err.splitlines()), err[:600])

    # Four processes writing to one pipe at once: every line whole.
    procs = [subprocess.Popen([abba], stderr=subprocess.PIPE, env=dict(ctx.env("log_format=line"), LD_PRELOAD=ctx.lib))
             for _ in range(4)]
    for p in procs:
        out = p.communicate(timeout=60)[1].decode()
        check(sum(bool(LINE_RE.match(l)) for l in out.splitlines()) == 1, out)


def test_merge_text(ctx):
    d = ctx.standard_reports()
    r = ctx.report([d])
    check(r.returncode == 1, f"exit status {r.returncode}\n{r.err}")
    check("lock-order-inversion fingerprint=" in r.out and "seen 2 times in 2 processes on 1 host" in r.out,
          "abba and abba reverse are not merged into one finding:\n" + r.out)
    golden(ctx, "merged.text", norm_text(ctx, r.out))


def test_merge_json(ctx):
    d = ctx.standard_reports()
    out = ctx.path("merged.json")
    r = ctx.report([d, "--format=json", "--output=" + out])
    check(r.returncode == 1, f"exit status {r.returncode}\n{r.err}")
    doc = load_json(out)
    kinds = sorted(f["kind"] for f in doc["findings"])
    check(kinds == ["double-lock", "lock-order-inversion"], f"kinds {kinds}")
    inv = next(f for f in doc["findings"] if f["kind"] == "lock-order-inversion")
    check(inv["occurrences"] == 2 and len(inv["processes"]) == 2 and inv["hosts"] == [ctx.host], "counts")
    check(doc["merged"]["report_files"] == 3 and doc["merged"]["processes"] == 3, f"merged {doc['merged']}")
    # A merged report merges again, keeping its counts.
    again = ctx.report([out, "--format=json"])
    check(again.returncode == 1, again.err)
    inv2 = next(f for f in json.loads(again.out)["findings"] if f["kind"] == "lock-order-inversion")
    check(inv2["occurrences"] == 2 and len(inv2["processes"]) == 2, "re-merge lost the counts")
    json_golden(ctx, "merged.json", doc)


_VALIDATOR = []


def validate_sarif(doc):
    if not _VALIDATOR:
        import jsonschema  # Debian: python3-jsonschema (tools/setup.sh)
        schema = load_json(SARIF_SCHEMA)
        jsonschema.Draft4Validator.check_schema(schema)
        _VALIDATOR.append(jsonschema.Draft4Validator(schema))
    errors = sorted(_VALIDATOR[0].iter_errors(doc), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors]


def test_merge_sarif(ctx):
    d = ctx.standard_reports()
    out = ctx.path("merged.sarif")
    r = ctx.report([d, "--format=sarif", "--output=" + out, "--source-root=" + ctx.src])
    check(r.returncode == 1, f"exit status {r.returncode}\n{r.err}")
    doc = load_json(out)
    errs = validate_sarif(doc)
    check(not errs, "SARIF does not validate against the SARIF 2.1.0 schema:\n" + "\n".join(errs[:20]))
    json_golden(ctx, "merged.sarif", doc)


def test_sarif_schema(ctx):
    """SARIF output, in several variants, valid against the OASIS SARIF 2.1.0 schema; rules and
    fingerprints right; and the validator itself rejects a broken document."""
    d = ctx.standard_reports()
    merged = json.loads(ctx.report([d, "--format=json"]).out)
    fps = {f["kind"]: f["fingerprint"] for f in merged["findings"]}
    base = ctx.path("base.txt")
    with open(base, "w") as f:
        f.write(fps["lock-order-inversion"] + "\n")
    variants = {"plain": [], "source-root": ["--source-root=" + ctx.src], "baseline": ["--baseline=" + base]}
    for name, extra in variants.items():
        r = ctx.report([d, "--format=sarif"] + extra)
        check(r.returncode == 1, f"{name}: exit status {r.returncode}\n{r.err}")
        doc = json.loads(r.out)
        errs = validate_sarif(doc)
        check(not errs, f"{name}: SARIF invalid:\n" + "\n".join(errs[:20]))
        run = doc["runs"][0]
        rules = [x["id"] for x in run["tool"]["driver"]["rules"]]
        check(rules == ["double-lock", "lock-order-inversion"], f"{name}: rules {rules}")
        for res in run["results"]:
            check(rules[res["ruleIndex"]] == res["ruleId"], "ruleIndex")
            check(res["partialFingerprints"]["locksanFingerprint/v1"] == fps[res["ruleId"]], "partialFingerprints")
            loc = res["locations"][0]["physicalLocation"]
            check(loc["region"]["startLine"] >= 1, "startLine")
            if name == "source-root":
                check(loc["artifactLocation"] == {"uri": loc["artifactLocation"]["uri"], "uriBaseId": "%SRCROOT%"}
                      and loc["artifactLocation"]["uri"].startswith("tests/report/progs/"), f"uri {loc}")
            if name == "baseline":
                want = "unchanged" if res["ruleId"] == "lock-order-inversion" else "new"
                check(res["baselineState"] == want, f"baselineState {res['baselineState']}")
    broken = json.loads(ctx.report([d, "--format=sarif"]).out)
    del broken["version"]
    broken["runs"][0]["results"][0]["level"] = "fatal"
    check(len(validate_sarif(broken)) >= 2, "the schema validator accepts a broken SARIF document")


def test_merge_junit(ctx):
    d = ctx.standard_reports()
    r = ctx.report([d, "--format=junit"])
    check(r.returncode == 1, f"exit status {r.returncode}\n{r.err}")
    root = ET.fromstring(r.stdout)
    cases = root.findall("./testsuite/testcase")
    check(len(cases) == 2 and all(c.find("failure") is not None for c in cases), "two failing test cases")
    check(root.get("tests") == "2" and root.get("failures") == "2", "counts")
    check(any("WARNING: locksan: double-lock" in (c.find("failure").text or "") for c in cases), "failure text")
    golden(ctx, "merged.junit.xml", norm_text(ctx, r.out))


def test_fingerprint(ctx):
    """The same bug in two processes, in two runs with other orders, other lock numbers and another
    binary path gets one fingerprint; another bug another one."""
    abba = ctx.build("abba.c")
    elsewhere = ctx.path("copy", "abba")
    os.makedirs(os.path.dirname(elsewhere))
    shutil.copy(abba, elsewhere)
    docs = {}
    for name, argv in {"normal": [abba], "reverse": [abba, "reverse"], "copy": [elsewhere],
                       "double": [ctx.build("doublelock.c")]}.items():
        d = ctx.path("logs-" + name)
        ctx.run(argv, log_dir=d, options="halt_on_error=1" if name == "double" else None)
        (f,) = load_json(json_files(d)[0])["findings"]
        check(f["fingerprint"] == fingerprint_of(f["kind"], f["sites"]), f"{name}: fingerprint is not the documented hash")
        docs[name] = f
    n, rv = docs["normal"], docs["reverse"]
    check(n["fingerprint"] == rv["fingerprint"] == docs["copy"]["fingerprint"],
          "the same bug got different fingerprints: " + ", ".join(f["fingerprint"] for f in docs.values()))
    check(n["edges"][0]["stack_to"]["frames"][0]["function"] != rv["edges"][0]["stack_to"]["frames"][0]["function"],
          "the reverse run should close the cycle with the other edge (the test would prove nothing)")
    check(n["text"].splitlines()[1] != rv["text"].splitlines()[1], "the two reports should differ")
    check(docs["double"]["fingerprint"] != n["fingerprint"], "different bugs share a fingerprint")
    sites = {(s["from"]["function"], s["to"]["function"]) for s in n["sites"]}
    check(sites == {("post_entry", "post_entry"), ("run_audit", "run_audit")}, f"sites {sites}")


def test_multiprocess(ctx):
    """Python multiprocessing: 4 spawned children hit the same inversion in a ctypes library; the
    merge shows one finding seen in 4 processes."""
    lib = ctx.build("libabba.c")
    d = ctx.path("logs")
    py = ctx.args.python
    r = ctx.run([py, os.path.join(HERE, "progs", "mp_abba.py"), lib, "4"], log_dir=d, timeout=120)
    check(r.returncode == 66, f"exit status {r.returncode}\n" + r.stderr.decode(errors="replace")[-3000:])
    files = json_files(d)
    check(len(files) == 4, f"expected 4 JSON reports (one per child), found {len(files)}: {os.listdir(d)}")
    rep = ctx.report([d, "--format=json"])
    check(rep.returncode == 1, f"exit status {rep.returncode}\n{rep.err}")
    doc = json.loads(rep.out)
    check(len(doc["findings"]) == 1, "expected one merged finding, got "
          + ", ".join(f"{f['kind']} {f['summary']}" for f in doc["findings"]))
    (f,) = doc["findings"]
    pids = {p["pid"] for p in f["processes"]}
    check(f["occurrences"] == 4 and len(pids) == 4 and f["hosts"] == [ctx.host], f"counts {f['occurrences']} {pids}")
    check(pids == {load_json(x)["process"]["pid"] for x in files}, "processes are not the reporting children")
    check(f["first_frame"]["function"] in ("lock_forward", "lock_backward"), f["first_frame"])
    text = ctx.report([d]).out
    check("seen 4 times in 4 processes on 1 host" in text, text[:2000])


def test_corrupt_inputs(ctx):
    """Unreadable, corrupt and truncated inputs are named on stderr and skipped; the rest merges."""
    d = ctx.path("logs")
    ctx.run([ctx.build("abba.c")], log_dir=d)
    (good,) = json_files(d)
    raw = open(good, "rb").read()
    bad = ctx.path("bad")
    os.makedirs(bad)
    cases = {
        "truncated.json": raw[: len(raw) // 2],
        "cut-at-end.json": raw[:-3],
        "garbage.json": b"\x00\x01 this is not json\n",
        "empty.json": b"",
        "other-schema.json": b'{"schema": "something-else", "version": 1, "findings": []}',
        "newer.json": raw.replace(b'"version":1', b'"version":99', 1),
        "no-findings.json": b'{"schema": "locksan-report", "version": 1}',
        "bad-fingerprint.json": raw.replace(b'"fingerprint":"', b'"fingerprint":"zz', 1),
        "lines.jsonl": b"program output\n" + raw.replace(b"\n", b"") + b"\n" + b'{"schema": "locksan-report", "vers\n',
    }
    for name, data in cases.items():
        with open(os.path.join(bad, name), "wb") as f:
            f.write(data)
    missing = ctx.path("does-not-exist.json")
    r = ctx.report([good, bad, missing])
    check(r.returncode == 2, f"exit status {r.returncode}, expected 2\n{r.err}")
    for name in list(cases) + [missing]:
        path = name if name == missing else os.path.join(bad, name)
        check(r.err.count(f"skipping '{path}'") == 1, f"{name} not named once on stderr:\n{r.err}")
    check("SUMMARY: locksan: lock-order-inversion" in r.out, "the good report was not merged:\n" + r.out)
    check(f"1 report file read, {len(cases) + 1} inputs skipped" in r.out, r.out.splitlines()[-1])
    check("truncated" in r.err or "parse error" in r.err, r.err)
    # Only bad inputs: still 2; only good ones: 1; a clean run (no report files at all): 0.
    check(ctx.report([bad]).returncode == 2, "only bad inputs")
    check(ctx.report([good]).returncode == 1, "a good input")
    clean = ctx.path("clean")
    os.makedirs(clean)
    r = ctx.report([clean])
    check(r.returncode == 0 and "0 findings" in r.out, f"empty directory: {r.returncode} {r.out}")
    # JSON lines in a log (log_path=stderr), among the program's own output, are read.
    lines = ctx.preload([ctx.build("abba.c")], "report_format=json").stderr + \
        ctx.preload([ctx.build("doublelock.c")], "report_format=json:halt_on_error=1").stderr
    log = ctx.path("stderr.log")
    with open(log, "wb") as f:
        f.write(lines)
    r = ctx.report([log, "--format=json"])
    check(r.returncode == 1 and len(json.loads(r.out)["findings"]) == 2, f"JSON lines log: {r.returncode} {r.err}")


def test_exec_same_pid(ctx):
    """A process that reported and then exec()s keeps its JSON report: the new image (same pid)
    writes <log>.PID.1.json beside it."""
    d = ctx.path("logs")
    script = ("import ctypes, os, sys, threading\n"
              "lib = ctypes.CDLL(sys.argv[1])\n"
              "for fn in (lib.lock_forward, lib.lock_backward):\n"
              "    t = threading.Thread(target=fn); t.start(); t.join()\n"
              "os.execv(sys.argv[2], [sys.argv[2]])\n")
    r = ctx.run([ctx.args.python, "-c", script, ctx.build("libabba.c"), ctx.build("abba.c")], log_dir=d)
    check(r.returncode == 66, f"exit status {r.returncode}\n" + r.stderr.decode(errors="replace")[-2000:])
    files = json_files(d)
    check(len(files) == 2 and sum(bool(re.search(r"locksan\.\d+\.1\.json$", f)) for f in files) == 1,
          f"files {os.listdir(d)}")
    pids = {load_json(f)["process"]["pid"] for f in files}
    check(len(pids) == 1, f"pids {pids}")
    fronts = sorted(load_json(f)["findings"][0]["first_frame"]["function"] for f in files)
    check(fronts == ["lock_backward", "run_audit"], f"first frames {fronts}")
    r = ctx.report([d, "--format=json"])
    check(r.returncode == 1 and len(json.loads(r.out)["findings"]) == 2, r.err)


def test_deadlock_kind(ctx):
    """A kind beyond the inversion, handled by the generic writers: a real deadlock (the watchdog's
    report) is written to JSON with its waits and held locks, gets a fingerprint from them, and is
    rendered as SARIF (valid), JUnit and SVG (held lock -> awaited lock, per thread)."""
    d = ctx.path("logs")
    r = ctx.run([ctx.build("deadlock.c")], log_dir=d, options="watchdog_interval_ms=200:abort_on_deadlock=1",
                timeout=60)
    check(r.returncode == 128 + 6, f"exit status {r.returncode}, expected SIGABRT (134)\n"
          + r.stderr.decode(errors="replace")[-2000:])
    (path,) = json_files(d)
    doc = load_json(path)
    by_kind = {f["kind"]: f for f in doc["findings"]}
    check(set(by_kind) == {"lock-order-inversion", "deadlock"}, f"kinds {sorted(by_kind)}")
    dl = by_kind["deadlock"]
    check(len(dl["waits"]) == 2 and len(dl["held"]) == 2, f"waits {dl['waits']} held {dl['held']}")
    check(dl["fingerprint"] == fingerprint_of("deadlock", dl["sites"]), "deadlock fingerprint")
    check({(s["from"]["function"], s["to"]["function"]) for s in dl["sites"]} ==
          {("producer", "producer"), ("reporter", "reporter")}, f"sites {dl['sites']}")
    check(dl["summary"].startswith("SUMMARY: locksan: deadlock "), dl["summary"])
    sarif = json.loads(ctx.report([d, "--format=sarif"]).out)
    check(not validate_sarif(sarif), "SARIF invalid")
    check(sorted(x["id"] for x in sarif["runs"][0]["tool"]["driver"]["rules"]) == ["deadlock", "lock-order-inversion"],
          "a rule per kind")
    out = ctx.path("svg")
    check(ctx.report([d, "--format=svg", "--output=" + out]).returncode == 1, "svg")
    nodes = svg_nodes(os.path.join(out, f"deadlock-{dl['fingerprint']}.svg"))
    edges = [n for n in nodes.values() if n["class"] == "edge"]
    check(len(edges) == 2 and all(any("waits" in t for t in e["texts"]) for e in edges), f"edges {edges}")


def test_python_frames(ctx):
    """Stacks of a report reached from Python carry python_frames (function, file, line)."""
    d = ctx.path("logs")
    script = os.path.join(HERE, "progs", "py_frames.py")
    r = ctx.run([ctx.args.python, script, ctx.build("libabba.c")], log_dir=d, timeout=120)
    check(r.returncode == 66, f"exit status {r.returncode}\n" + r.stderr.decode(errors="replace")[-2000:])
    (f,) = load_json(json_files(d)[0])["findings"]
    tops = {}
    for e in f["edges"]:
        py = e["stack_to"]["python_frames"]
        check(py and all(set(x) == {"function", "file", "line"} for x in py), f"python_frames {py}")
        tops[e["stack_to"]["frames"][0]["function"]] = py[0]
    check(tops.get("lock_forward") == {"function": "post_from_python", "file": script, "line": 10}
          and tops.get("lock_backward") == {"function": "audit_from_python", "file": script, "line": 14},
          f"innermost Python frames {tops}")
    check("Python stack (innermost first):\n    #0 audit_from_python " in f["text"], "text report's Python stack")


def test_fuzz_inputs(ctx):
    """Reports with fields of the wrong type, missing or odd (seeded, 60 variants): every output form
    ends with status 0, 1 or 2 — never a crash or an uncaught exception."""
    import random
    d = ctx.path("logs")
    ctx.run([ctx.build("abba.c")], log_dir=d)
    base = load_json(json_files(d)[0])
    rng = random.Random(1234)
    odd = [None, 0, -1, 2**70, 1.5, "", "x" * 300, [], {}, [1, "a", None], {"k": []}, True, "\u0000\ufffd"]

    def paths(v, prefix=()):
        yield prefix
        if isinstance(v, dict):
            for k, x in v.items():
                yield from paths(x, prefix + (k,))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                yield from paths(x, prefix + (i,))

    all_paths = [p for p in paths(base) if p]
    out = ctx.path("fuzz")
    os.makedirs(out)
    statuses = []
    for i in range(60):
        doc = json.loads(json.dumps(base))
        for _ in range(rng.randint(1, 4)):
            p = rng.choice(all_paths)
            parent = doc
            try:
                for k in p[:-1]:
                    parent = parent[k]
                if rng.random() < 0.3 and isinstance(parent, dict):
                    parent.pop(p[-1], None)
                else:
                    parent[p[-1]] = rng.choice(odd)
            except (KeyError, IndexError, TypeError):
                pass
        f = os.path.join(out, f"{i}.json")
        with open(f, "w") as fh:
            json.dump(doc, fh)
        for fmt in ("text", "json", "sarif", "junit", "svg"):
            args = [f, "--format=" + fmt] + (["--output=" + ctx.path("svg")] if fmt == "svg" else [])
            r = ctx.report(args)
            check(r.returncode in (0, 1, 2) and "terminate called" not in r.err,
                  f"{f} --format={fmt}: exit status {r.returncode}\n{r.err[-1500:]}")
            statuses.append(r.returncode)
            if fmt == "sarif" and r.returncode != 2:
                errs = validate_sarif(json.loads(r.out))
                check(not errs, f"{f}: SARIF invalid: {errs[:3]}")
    # Most variants must still be readable, or the renderers were not exercised.
    check(statuses.count(1) > len(statuses) // 2, f"too few variants rendered: {statuses.count(1)} of {len(statuses)}")


def svg_nodes(path):
    ns = {"s": "http://www.w3.org/2000/svg"}
    root = ET.parse(path).getroot()
    nodes = {}
    for g in root.iter("{http://www.w3.org/2000/svg}g"):
        if g.get("class") in ("node", "edge"):
            title = g.find("s:title", ns).text
            nodes[title] = {
                "class": g.get("class"),
                "texts": [t.text or "" for t in g.findall("s:text", ns)],
                "polygons": [p.get("points").split() for p in g.findall("s:polygon", ns)],
                "ellipses": len(g.findall("s:ellipse", ns)),
            }
    return nodes


def test_svg(ctx):
    d = ctx.standard_reports()
    out = ctx.path("svg")
    r = ctx.report([d, "--format=svg", "--output=" + out])
    check(r.returncode == 1, f"exit status {r.returncode}\n{r.err}")
    merged = json.loads(ctx.report([d, "--format=json"]).out)
    for f in merged["findings"]:
        path = os.path.join(out, f"{f['kind']}-{f['fingerprint']}.svg")
        check(os.path.exists(path), f"{path} missing: {os.listdir(out)}")
        nodes = svg_nodes(path)
        for lock in f["locks"]:  # every lock of the cycle, with its name and symbol
            n = nodes.get(f"L{lock['id']}")
            check(n and lock["name"] in n["texts"] and lock["symbol"] in n["texts"], f"{lock['name']} in {nodes}")
        edges = [n for n in nodes.values() if n["class"] == "edge"]
        if f["kind"] == "lock-order-inversion":
            check(len(edges) == 2, f"edges {edges}")
            labels = " ".join(t for e in edges for t in e["texts"])
            check("poster" in labels and "auditor" in labels and "abba.c:" in labels, labels)
        else:
            check(len(edges) == 1, "a double lock is drawn as a self-loop")
    # The GIL (double octagon) and a lock taken inside a CUDA driver call (box), from a report in the
    # schema written by hand (tests/report/data/gil_driver.json).
    out2 = ctx.path("svg2")
    r = ctx.report([os.path.join(DATA, "gil_driver.json"), "--format=svg", "--output=" + out2])
    check(r.returncode == 1, f"exit status {r.returncode}\n{r.err}")
    (svg,) = os.listdir(out2)
    nodes = svg_nodes(os.path.join(out2, svg))
    gil, drv, plain = nodes["L1"], nodes["L7"], nodes["L9"]
    check("GIL" in gil["texts"] and len(gil["polygons"]) == 2 and all(len(p) == 9 for p in gil["polygons"]),
          f"the GIL is not a double octagon: {gil}")
    check(len(drv["polygons"]) == 1 and len(drv["polygons"][0]) == 5 and drv["ellipses"] == 0,
          f"the driver-call lock is not a box: {drv}")
    check(plain["ellipses"] == 1 and not plain["polygons"], f"a plain lock is not an ellipse: {plain}")
    labels = " ".join(t for n in nodes.values() if n["class"] == "edge" for t in n["texts"])
    check("in CUDA driver call cuMemcpyHtoD_v2" in labels, labels)
    # Without Graphviz: named, exit status 2.
    env = dict(ctx.env(), LOCKSAN_DOT=ctx.path("no-such-dot"))
    r = ctx.report([d, "--format=svg", "--output=" + ctx.path("svg3")], env=env)
    check(r.returncode == 2 and "no-such-dot" in r.err, f"{r.returncode} {r.err}")


def test_suppressions(ctx):
    d = ctx.standard_reports()

    def supp(name, text):
        p = ctx.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    # A function pattern: the inversion goes, the double lock stays.
    s1 = supp("s1", "# comment\nlock-order-inversion:run_audit\n")
    r = ctx.report([d, "--suppressions=" + s1])
    check(r.returncode == 1, f"{r.returncode}\n{r.err}")
    check("suppressed by 'lock-order-inversion:run_audit'" in r.out and "WARNING: locksan: double-lock" in r.out
          and "WARNING: locksan: lock-order-inversion" not in r.out, r.out)
    # Anchored function, a file pattern, a module pattern with a glob: everything goes.
    s2 = supp("s2", "lock-order-inversion:^post_entry$\ndouble-lock:*/doublelock.c\n")
    r = ctx.report([d, "--suppressions=" + s2, "--format=json"])
    check(r.returncode == 0, f"{r.returncode}\n{r.err}")
    doc = json.loads(r.out)
    check(not doc["findings"] and sorted(x["rule"] for x in doc["suppressed"]) ==
          ["double-lock:*/doublelock.c", "lock-order-inversion:^post_entry$"], json.dumps(doc["suppressed"]))
    s3 = supp("s3", "*:*/abba$\n")
    r = ctx.report([d, "--suppressions=" + s3, "--format=json"])
    check(r.returncode == 1 and [f["kind"] for f in json.loads(r.out)["findings"]] == ["double-lock"], r.out[:500])
    # A rule of another kind, or an anchored pattern that does not match, suppresses nothing.
    s4 = supp("s4", "double-lock:run_audit\nlock-order-inversion:^post_entr$\n")
    r = ctx.report([d, "--suppressions=" + s4, "--format=json"])
    check(r.returncode == 1 and len(json.loads(r.out)["findings"]) == 2, r.out[:500])
    # The runtime applies the same file with the same result.
    rr = ctx.run([ctx.build("abba.c")], log_dir=ctx.path("rt"), options="suppressions=" + s1)
    check(rr.returncode == 0 and not json_files(ctx.path("rt")), f"runtime did not suppress: {rr.returncode}")
    rr = ctx.run([ctx.build("abba.c")], log_dir=ctx.path("rt4"), options="suppressions=" + s4)
    check(rr.returncode == 66, "runtime suppressed with a rule that should not match")
    # Bad files are usage errors.
    r = ctx.report([d, "--suppressions=" + supp("bad", "no colon here\n")])
    check(r.returncode == 2 and "expected 'kind:pattern'" in r.err, f"{r.returncode} {r.err}")
    r = ctx.report([d, "--suppressions=" + ctx.path("nope")])
    check(r.returncode == 2 and "cannot read suppressions" in r.err, f"{r.returncode} {r.err}")


def test_baseline(ctx):
    d = ctx.standard_reports()
    b = ctx.path("baseline.txt")
    r = ctx.report([d, "--write-baseline=" + b])
    check(r.returncode == 1, f"write-baseline: {r.returncode}")
    lines = [l for l in read(b).splitlines() if l and not l.startswith("#")]
    check(len(lines) == 2 and all(re.match(r"^[0-9a-f]{16}  ", l) for l in lines), read(b))
    r = ctx.report([d, "--baseline=" + b])
    check(r.returncode == 0, f"with the full baseline: exit status {r.returncode}\n{r.out}")
    check(r.out.count("known finding (in the baseline)") == 2 and "WARNING" not in r.out, r.out)
    # Only the inversion known: the double lock is new and fails.
    partial = ctx.path("partial.txt")
    inv = [l for l in lines if "lock-order-inversion" in l]
    with open(partial, "w") as f:
        f.write("# known\n" + "\n".join(inv) + "\n")
    r = ctx.report([d, "--baseline=" + partial])
    check(r.returncode == 1 and "WARNING: locksan: double-lock" in r.out
          and "WARNING: locksan: lock-order-inversion" not in r.out, r.out)
    junit = ET.fromstring(ctx.report([d, "--baseline=" + partial, "--format=junit"]).stdout)
    states = sorted((c.find("failure") is not None, c.find("skipped") is not None)
                    for c in junit.iter("testcase"))
    check(states == [(False, True), (True, False)], f"junit failure/skipped {states}")
    # A merged JSON report works as a baseline too.
    mj = ctx.path("m.json")
    ctx.report([d, "--format=json", "--output=" + mj])
    check(ctx.report([d, "--baseline=" + mj]).returncode == 0, "JSON baseline")
    # A malformed baseline is a usage error.
    with open(partial, "a") as f:
        f.write("not-a-fingerprint\n")
    r = ctx.report([d, "--baseline=" + partial])
    check(r.returncode == 2 and "not a fingerprint" in r.err, f"{r.returncode} {r.err}")


def test_escaping(ctx):
    """A thread name with quote, backslash, tab, control and non-UTF-8 bytes, and a C++ template
    name: the runtime's JSON parses strictly and keeps them; XML, SVG and SARIF stay well-formed."""
    d = ctx.path("logs")
    r = ctx.run([ctx.build("escape.cc")], log_dir=d)
    check(r.returncode == 66, f"exit status {r.returncode}")
    doc = load_json(json_files(d)[0])
    (f,) = doc["findings"]
    names = {t["name"] for t in f["threads"]}
    check('q"b\\\t\x01\ufffd<&>' in names, f"thread names {names!r}")
    check("take_both<Account>" in f["first_frame"]["function"], f["first_frame"]["function"])
    check('"q\\"b\\\\\\t\\u0001\\ufffd<&>"' in read(json_files(d)[0]), "raw escapes")
    junit = ctx.report([d, "--format=junit"])
    root = ET.fromstring(junit.stdout)
    case = root.find("./testsuite/testcase")
    check("take_both<Account>" in case.get("name") and 'q"b' in case.find("failure").text, ET.tostring(case)[:300])
    out = ctx.path("svg")
    check(ctx.report([d, "--format=svg", "--output=" + out]).returncode == 1, "svg")
    svg = os.path.join(out, os.listdir(out)[0])
    texts = " ".join(t for n in svg_nodes(svg).values() for t in n["texts"])
    check('q"b' in texts and "take_both<Account>" in texts, texts)
    sarif = json.loads(ctx.report([d, "--format=sarif"]).out)
    check(not validate_sarif(sarif), "SARIF invalid")


def test_cli(ctx):
    tool = ctx.tool

    def run(args, **kw):
        return subprocess.run([tool] + args, capture_output=True, text=True, timeout=60, env=ctx.env(), **kw)

    r = run(["--help"])
    check(r.returncode == 0 and "locksan report" in r.stdout, r.stdout)
    r = run(["report", "--help"])
    for word in ("--format", "sarif", "junit", "svg", "--output", "--suppressions", "--baseline", "--write-baseline"):
        check(word in r.stdout, f"report --help lacks {word}")
    check(r.returncode == 0, "report --help status")
    for args, why in ((["report"], "no inputs"), (["report", ".", "--bogus"], "unknown option"),
                      (["report", ".", "--format=pdf"], "bad format"), (["report", ".", "--format=svg"], "svg without --output"),
                      (["report", ".", "--output"], "option without a value"), (["frobnicate"], "unknown command")):
        r = run(args)
        check(r.returncode == 2 and r.stderr, f"{why}: exit status {r.returncode}, stderr {r.stderr!r}")
    # `run` passes the program's status through, and a signal as 128+N.
    check(run(["run", "--", "sh", "-c", "exit 7"]).returncode == 7, "run: exit 7")
    check(run(["run", "--", "true"]).returncode == 0, "run: true")
    check(run(["run", "--", "sh", "-c", "kill -9 $$"]).returncode == 128 + 9, "run: SIGKILL")
    check(run(["run", "--", ctx.path("no-such-program")]).returncode == 127, "run: missing program")


TESTS = {name[5:]: fn for name, fn in globals().items() if name.startswith("test_")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("test", choices=sorted(TESTS))
    ap.add_argument("--tool", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--cxx", default="c++")
    ap.add_argument("--python", default="/usr/bin/python3")
    args = ap.parse_args()
    ctx = Ctx(args, args.test)
    try:
        TESTS[args.test](ctx)
    except Fail as e:
        print(f"FAIL report.{args.test}: {e}", file=sys.stderr)
        return 1
    print(f"PASS report.{args.test}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
