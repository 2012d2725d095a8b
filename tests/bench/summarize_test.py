#!/usr/bin/env python3
"""tests/bench/summarize_test.py — bench/summarize.py's verdicts on results written by hand.

The interleaved rows (fast path, contended, SQLite, Python) are judged on the median of the
per-round locksan ÷ native ratios when two or more rounds pair up; the ratio of the medians is
printed beside it. A machine that slows down between rounds moves the ratio of the medians but not
the paired one; a real slowdown moves both.
"""
import os
import re
import subprocess
import sys
import tempfile

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def row(section, config, tool, rnd, kv, wall=1.0):
    return "\t".join([section, config, tool, str(rnd), "ok", "0", "%.3f" % wall, "0", kv, "", ""])


def summarize(rows):
    with tempfile.TemporaryDirectory() as d:
        res, meta = os.path.join(d, "results.tsv"), os.path.join(d, "meta.tsv")
        with open(res, "w") as fh:
            fh.write("\n".join(rows) + "\n")
        with open(meta, "w") as fh:
            fh.write("rounds\t5\nslow_rounds\t3\n")
        out = subprocess.run([sys.executable, os.path.join(SRC, "bench", "summarize.py"), "--results", res,
                              "--meta", meta, "--out", "-"], capture_output=True, text=True, check=True).stdout
    return out


def line_of(out, title):
    lines = [l for l in out.splitlines() if title in l]
    assert len(lines) == 1, "no single row %r in:\n%s" % (title, out)
    return lines[0]


def main():
    rows = []
    # contended, 2 threads: the machine slows down by half from round 3 on; locksan's rounds are
    # each ~10% over native's of the same round, but its median falls in the slow phase.
    nat = [100, 100, 100, 150, 150]
    loc = [110, 110, 165, 160, 165]
    for r in range(5):
        rows.append(row("pair", "cont2", "native", r + 1, "ns_per_op=%d" % nat[r]))
        rows.append(row("pair", "cont2", "locksan", r + 1, "ns_per_op=%d" % loc[r]))
    # contended, 4 threads: 30% slower in every round: fails however it is judged.
    for r in range(5):
        rows.append(row("pair", "cont4", "native", r + 1, "ns_per_op=100"))
        rows.append(row("pair", "cont4", "locksan", r + 1, "ns_per_op=%d" % (128 + r)))
    # contended, 8 threads: one locksan round only (the other failed to start): nothing pairs but
    # one round, so the ratio of the medians decides.
    for r in range(3):
        rows.append(row("pair", "cont8", "native", r + 1, "ns_per_op=100"))
    rows.append(row("pair", "cont8", "locksan", 2, "ns_per_op=125"))
    # gil_bench (wall seconds): the machine slows down from round 2 for locksan's run and stays so:
    # paired ratios 1.05, 1.55, 1.07 (median 1.07) against a ratio of the medians of 3.1 / 2.0.
    for r, (n, l) in enumerate([(2.0, 2.1), (2.0, 3.1), (3.0, 3.2)]):
        rows.append(row("python", "gil-pyenv", "native", r + 1, "", wall=n))
        rows.append(row("python", "gil-pyenv", "locksan", r + 1, "", wall=l))
    out = summarize(rows)

    c2 = line_of(out, "contended: 2 threads")
    assert re.search(r"PASS \(×1\.10 paired by round \[1\.07–1\.65\]; ×1\.60 of the medians\)", c2), c2
    c4 = line_of(out, "contended: 4 threads")
    assert re.search(r"FAIL \(×1\.30 paired by round \[1\.28–1\.32\]; ×1\.30 of the medians\)", c4), c4
    c8 = line_of(out, "contended: 8 threads")
    assert re.search(r"FAIL \(×1\.25\) \|$", c8), c8
    g = line_of(out, "`gil_bench.py`, pyenv")
    assert re.search(r"PASS \(×1\.07 paired by round \[1\.05–1\.55\]; ×1\.55 of the medians\)", g), g
    print("summarize_test: 4 rows judged as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
