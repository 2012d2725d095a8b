#!/usr/bin/env python3
"""bench/ab_summary.py — the table of bench/gpu_ab.sh, from one run's results or several pooled.

Input: gpu_ab.sh's results.tsv (name, round, loop wall s, main-process CPU s, cycles, instructions;
"nan" where absent), or its printed log (the "  round R NAME loop X s, main-process CPU Y s" lines),
one file per run. Rounds of different files are kept apart (a round is "FILE:ROUND"), so that runs of
the same configurations on different machines or at different times pool into one table: each round
is still paired only with native's run of that same round.

For each configuration and measure: median [min–max] and its ratio to native's median; the median
[min–max] of its per-round ratios to native; and, from 6 paired rounds on, a distribution-free
interval for the median of the per-round ratios — order statistics x(k) and x(n+1-k), k the largest
with P(Binomial(n, 1/2) < k) <= 2.5%, which hold the median with probability >= 95% whatever the
ratios' distribution (n = 9: x(2)–x(8), 96.1%). A target like "≤ 1.05×" is met with that confidence
only when the interval's upper end is at most 1.05.

--base NAME pairs and compares with another configuration than native (e.g. the pass-through
preload, to separate what interposing costs from what the detector does).

    bench/ab_summary.py [--base NAME] FILE [FILE ...]
"""
import math
import re
import statistics
import sys

METRICS = ["steady loop, wall", "main-process CPU over the loop", "main-process cycles (user)",
           "main-process instructions (user)"]
UNITS = [" s", " s", "", ""]
LOG_LINE = re.compile(r"^\s*round (\d+) (\S+)\s+loop ([0-9.]+) s, main-process CPU ([0-9.?]+) s"
                      r"(?:, cycles (\d+), instructions (\d+|\?))?")


def read_runs(paths):
    """[(name, round key, [4 values or None])] from every file, in order."""
    rows = []
    for i, path in enumerate(paths):
        tag = str(i) if len(paths) > 1 else ""
        with open(path) as f:
            lines = f.read().splitlines()
        for line in lines:
            if "\t" in line:
                parts = line.split("\t")
                name, rnd, nums = parts[0], parts[1], parts[2:]
            else:
                m = LOG_LINE.match(line)
                if not m:
                    continue
                rnd, name = m.group(1), m.group(2)
                nums = [m.group(3), m.group(4), m.group(5) or "nan", m.group(6) or "nan"]
            nums = (nums + ["nan"] * len(METRICS))[:len(METRICS)]
            vals = []
            for v in nums:
                try:
                    x = float(v)
                    vals.append(None if math.isnan(x) else x)
                except ValueError:
                    vals.append(None)
            rows.append((name, tag + ":" + rnd, vals))
    return rows


def median_interval(xs, level=0.95):
    """(lo, hi, coverage) for the median of xs by order statistics, or None when too few values."""
    n = len(xs)
    s = sorted(xs)
    alpha = (1 - level) / 2
    k, cdf = 0, 0.0  # cdf = P(B < k+1) as k grows
    while True:
        p = math.comb(n, k) / 2 ** n
        if cdf + p > alpha:
            break
        cdf += p
        k += 1
    if k == 0:
        return None  # even [min, max] covers the median with less than `level`
    return s[k - 1], s[n - k], 1 - 2 * cdf


def table(rows, base_name="native"):
    order, vals, by_round = [], {}, {}
    for name, rnd, nums in rows:
        if name not in vals:
            order.append(name)
            vals[name] = [[] for _ in METRICS]
        for k, v in enumerate(nums):
            if v is not None:
                vals[name][k].append(v)
                by_round[(name, k, rnd)] = v

    def fmt(x, k):
        return "%.3f%s" % (x, UNITS[k]) if UNITS[k] else "%.4g" % x

    def cell(v, base, k):
        if not v:
            return "failed | —"
        m = statistics.median(v)
        return "%s [%s–%s] | %s" % (fmt(m, k), fmt(min(v), k), fmt(max(v), k),
                                    "×%.3f" % (m / base) if base else "—")

    def paired(name, k):
        # The configurations of a round run back to back: a round's ratio to native's run of the same
        # round is what a change of the machine's speed between rounds moves least.
        if name == base_name:
            return "— | —"
        r = [v / by_round[(base_name, k, rnd)] for (n, kk, rnd), v in by_round.items()
             if n == name and kk == k and by_round.get((base_name, k, rnd), 0) > 0]
        if not r:
            return "— | —"
        ci = median_interval(r)
        return "×%.3f [%.3f–%.3f] (%d) | %s" % (
            statistics.median(r), min(r), max(r), len(r),
            "%.3f–%.3f (%.1f%%)" % (ci[0], ci[1], 100 * ci[2]) if ci else "too few rounds")

    nat = vals.get(base_name)
    base = [statistics.median(nat[k]) if nat and nat[k] else None for k in range(len(METRICS))]
    # The counters' columns only where some run had them (bench/pmu.py: a machine without a PMU has none).
    shown = [k for k in range(len(METRICS)) if k < 2 or any(vals[n][k] for n in order)]
    out = ["| configuration | " + " | ".join(
        "%s: median [min–max] | vs %s | paired by round: median [min–max] (rounds) | "
        "median of the paired ratios, ≥ 95%% interval" % (METRICS[k], base_name) for k in shown) + " |",
        "|---|" + "---|---|---|---|" * len(shown)]
    for name in order:
        out.append("| %s | " % name + " | ".join("%s | %s" % (cell(vals[name][k], base[k], k), paired(name, k))
                                                for k in shown) + " |")
    return "\n".join(out)


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0 if len(argv) >= 2 else 2
    base = "native"
    if argv[1] == "--base":
        if len(argv) < 4:
            print("ab_summary.py: --base needs a configuration's name and a file", file=sys.stderr)
            return 2
        base, argv = argv[2], argv[:1] + argv[3:]
    try:
        rows = read_runs(argv[1:])
    except OSError as e:
        print("ab_summary.py: cannot read %s: %s" % (e.filename, e.strerror), file=sys.stderr)
        return 2
    if not rows:
        print("ab_summary.py: no rounds in %s" % ", ".join(argv[1:]), file=sys.stderr)
        return 2
    if base not in {name for name, _, _ in rows}:
        print("ab_summary.py: no configuration named '%s' in the results" % base, file=sys.stderr)
        return 2
    print(table(rows, base))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
