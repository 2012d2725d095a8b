#!/usr/bin/env python3
"""tests/bench/ab_summary_test.py — bench/ab_summary.py (gpu_ab.sh's table) on results written by hand.

Checks the median's order-statistic interval against binomial tails computed here, that rounds of
pooled files pair only with native's run of the same file and round, that the printed log and the
TSV read alike, and that bad input gets a one-line message and exit status 2.
"""
import math
import os
import subprocess
import sys
import tempfile

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "bench"))
import ab_summary  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*paths):
    return subprocess.run([sys.executable, os.path.join(SRC, "bench", "ab_summary.py")] + list(paths),
                          capture_output=True, text=True)


def cells(out, name):
    for line in out.splitlines():
        if line.startswith("| %s |" % name):
            return [c.strip() for c in line.strip("|").split("|")]
    return None


# The interval: k the largest with P(B < k) <= 2.5%, B ~ Binomial(n, 1/2), computed independently.
for n in range(1, 40):
    xs = [float(i) for i in range(n, 0, -1)]  # unsorted on purpose
    tail = [sum(math.comb(n, j) for j in range(k)) / 2 ** n for k in range(n + 1)]
    k = max([k for k in range(n + 1) if tail[k] <= 0.025 and k <= n // 2], default=0)
    got = ab_summary.median_interval(xs)
    if k == 0:
        check(got is None, "n=%d: no interval expected, got %r" % (n, got))
    else:
        check(got is not None and got[0] == float(k) and got[1] == float(n + 1 - k) and
              abs(got[2] - (1 - 2 * tail[k])) < 1e-12,
              "n=%d: expected x(%d)..x(%d), got %r" % (n, k, n + 1 - k, got))
check(ab_summary.median_interval([1.0] * 5) is None, "5 rounds: too few for a 95% interval")
lo, hi, cov = ab_summary.median_interval([0.912, 0.934, 0.939, 0.997, 1.024, 1.056, 1.065, 1.069, 1.280])
check((lo, hi) == (0.934, 1.069) and abs(cov - (1 - 20 / 512)) < 1e-12, "n=9: x(2)..x(8), 96.1%")

with tempfile.TemporaryDirectory() as d:
    # Two runs, both with a round "0": new is ×1.5 of native in run a and ×0.5 in run b. Paired within
    # each file the ratios are 1.5 and 0.5 (median 1.0); pairing across files would give 0.75 or 3.0.
    a, b = os.path.join(d, "a.tsv"), os.path.join(d, "b.log")
    with open(a, "w") as f:
        f.write("native\t0\t2.000\t1.000\tnan\tnan\nnew\t0\t3.000\t1.500\tnan\tnan\n")
    with open(b, "w") as f:
        f.write("# header line\n  round 0 native       loop 8.000 s, main-process CPU 4.000 s\n"
                "  round 0 new          loop 4.000 s, main-process CPU 2.000 s\n")
    r = run(a, b)
    check(r.returncode == 0, "pooled run exits 0 (%s)" % r.stderr.strip())
    c = cells(r.stdout, "new")
    check(c is not None and c[3] == "×1.000 [0.500–1.500] (2)", "pooled wall pairs within a file: %r" % c)
    check(c is not None and c[4] == "too few rounds", "2 rounds: no interval: %r" % c)
    check(c is not None and c[7] == "×1.000 [0.500–1.500] (2)", "pooled CPU pairs within a file: %r" % c)
    # The log and the TSV of the same numbers give the same table.
    t, l = os.path.join(d, "t.tsv"), os.path.join(d, "t.log")
    rounds = [(2.0, 1.0, 2.2, 1.1), (2.5, 1.2, 2.4, 1.3), (2.1, 1.0, 2.3, 1.0), (1.9, 0.9, 2.0, 1.0),
              (2.2, 1.1, 2.3, 1.2), (2.0, 1.0, 2.1, 1.1), (2.4, 1.3, 2.5, 1.4)]
    with open(t, "w") as ft, open(l, "w") as fl:
        for i, (nw, nc, lw, lc) in enumerate(rounds):
            ft.write("native\t%d\t%.3f\t%.3f\tnan\tnan\nnew\t%d\t%.3f\t%.3f\tnan\tnan\n" % (i, nw, nc, i, lw, lc))
            fl.write("  round %d native       loop %.3f s, main-process CPU %.3f s\n" % (i, nw, nc))
            fl.write("  round %d new          loop %.3f s, main-process CPU %.3f s\n" % (i, lw, lc))
    rt, rl = run(t), run(l)
    check(rt.returncode == 0 and rt.stdout == rl.stdout, "log and TSV read alike")
    c = cells(rt.stdout, "new")
    ratios = sorted(lw / nw for nw, _, lw, _ in rounds)
    check(c is not None and c[4] == "%.3f–%.3f (98.4%%)" % (ratios[0], ratios[6]),
          "7 rounds: interval is [min, max] at 98.4%%: %r" % c)
    # --base: ratios to another configuration of the same round (pass-through ×2 of native, new ×3).
    with open(t, "w") as ft:
        for i in range(6):
            ft.write("native\t%d\t1.0\t1.0\tnan\tnan\npassthrough\t%d\t2.0\t2.0\tnan\tnan\n"
                     "new\t%d\t3.0\t3.0\tnan\tnan\n" % (i, i, i))
    r = subprocess.run([sys.executable, os.path.join(SRC, "bench", "ab_summary.py"), "--base", "passthrough", t],
                       capture_output=True, text=True)
    c = cells(r.stdout, "new")
    check(r.returncode == 0 and c is not None and c[2] == "×1.500" and c[3] == "×1.500 [1.500–1.500] (6)",
          "--base passthrough: new is ×1.5 of it: %r" % c)
    c = cells(r.stdout, "passthrough")
    check(c is not None and c[3] == "—", "--base: the base has no ratio to itself: %r" % c)
    r = subprocess.run([sys.executable, os.path.join(SRC, "bench", "ab_summary.py"), "--base", "nope", t],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "no configuration named 'nope'" in r.stderr, "--base unknown: exit 2")
    # Bad input.
    r = run(os.path.join(d, "missing.tsv"))
    check(r.returncode == 2 and r.stderr.count("\n") == 1 and "cannot read" in r.stderr,
          "missing file: one line, exit 2 (%r)" % r.stderr)
    e = os.path.join(d, "empty.log")
    open(e, "w").close()
    r = run(e)
    check(r.returncode == 2 and "no rounds" in r.stderr, "no rounds: exit 2 (%r)" % r.stderr)

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("ab_summary: all checks passed")
