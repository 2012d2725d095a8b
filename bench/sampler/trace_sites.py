#!/usr/bin/env python3
"""bench/sampler/trace_sites.py — which call sites make new locks, edges and forgotten locks.

Reads the stderr of runs under LOCKSAN_OPTIONS=verbosity=3 (lines "new lock", "revived lock", "check"
(an order check that missed the caches), "edge", "forget lock") and the memory maps that bench/sampler/sampler.c wrote for the same processes
(SAMPLER_OUT=DIR: maps.PID), symbolises each call site as module:function, and counts events per
(event, lock kinds, site). Given two runs of different length (e.g. 20 and 60 training steps), it
prints the difference: what the extra steps did, per step.

  trace_sites.py LOG_A DIR_A LOG_B DIR_B --per N [--top 30]
      N: how many more steps (or items) run B made than run A.
  trace_sites.py LOG DIR [--top 30]
      Counts of one run.
"""
import argparse
import bisect
import collections
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import read_maps, symbols  # noqa: E402

LINE = re.compile(r"^==(\d+)==locksan: (?:T\d+ )?(new lock|revived lock|check|edge|forget lock) (.*)$")
PC = re.compile(r"(?:at pc|first taken at pc) (0x[0-9a-f]+|\(nil\))")
KINDS = re.compile(r"\d+\(([^)]*)\)@")


def site(maps, starts, pc):
    i = bisect.bisect_right(starts, pc) - 1
    if i < 0 or pc >= maps[i][1]:
        return "?"
    _, _, base, name = maps[i]
    addrs, names = symbols(name)
    j = bisect.bisect_right(addrs, pc - base) - 1
    return "%s:%s" % (os.path.basename(name), names[j][:80] if j >= 0 else "?")


def count(log, d):
    maps_of = {}
    c = collections.Counter()
    for line in open(log, errors="replace"):
        m = LINE.match(line.rstrip("\n"))
        if not m:
            continue
        pid, ev, rest = m.groups()
        if pid not in maps_of:
            path = os.path.join(d, "maps.%s" % pid)
            maps = read_maps(path) if os.path.exists(path) else []
            maps_of[pid] = (maps, [x[0] for x in maps])
        maps, starts = maps_of[pid]
        p = PC.search(rest)
        pc = int(p.group(1), 16) if p and p.group(1) != "(nil)" else 0
        kinds = "->".join(KINDS.findall(rest))
        outcome = ""
        if ev == "edge":
            outcome = {"0": " known", "1": " added", "2": " cycle"}.get(rest.rsplit(": ", 1)[-1], "")
        c[(ev + outcome, kinds, site(maps, starts, pc) if pc else "-")] += 1
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("args", nargs="+")
    ap.add_argument("--per", type=float, default=1.0)
    ap.add_argument("--top", type=int, default=30)
    a = ap.parse_args()
    if len(a.args) == 4:
        ca, cb = count(a.args[0], a.args[1]), count(a.args[2], a.args[3])
        diff = collections.Counter({k: cb[k] - ca.get(k, 0) for k in cb})
        print("per step (%s - %s) / %g:" % (a.args[2], a.args[0], a.per))
        for k, v in sorted(diff.items(), key=lambda kv: -kv[1])[: a.top]:
            if v > 0:
                print("  %8.2f  %-18s %-28s %s" % (v / a.per, k[0], k[1], k[2]))
    elif len(a.args) == 2:
        for k, v in count(a.args[0], a.args[1]).most_common(a.top):
            print("  %8d  %-18s %-28s %s" % (v, k[0], k[1], k[2]))
    else:
        ap.error("LOG DIR, or LOG_A DIR_A LOG_B DIR_B")


if __name__ == "__main__":
    main()
