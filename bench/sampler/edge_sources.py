#!/usr/bin/env python3
"""bench/sampler/edge_sources.py — where a program's new lock-order edges start: did the source
lock have an edge into it when the edge was made, does it get one later, or never?

An edge out of a lock that nothing ever takes while holding another lock cannot be on a cycle; if
most of a program's new edges were such, recording them could wait until the lock gets an edge in.
This counts it. Reads the stderr of runs under LOCKSAN_OPTIONS=verbosity=3 (the "edge" lines: from
and to lock ids, the acquiring thread, the outcome: 0 known, 1 added, 2 a cycle) and prints, per
process of each run, new edges by the state of their source lock, with the thread that made them and
the kind of lock and thread of the source's first edge in. Given two runs of different length, it
prints the difference per step (what the extra steps did).

  edge_sources.py LOG [--top 10]
  edge_sources.py LOG_A LOG_B --per N [--top 10]   (N: how many more steps run B made than run A)
"""
import argparse
import collections
import re
import sys

EDGE = re.compile(r"^==(\d+)==locksan: T(\d+) edge (\d+)\(([^)]*)\)@\S+ -> (\d+)\(([^)]*)\)@\S+ at pc (\S+): (\d)")


def count(path):
    edges = []
    with open(path, errors="replace") as fh:
        for line in fh:
            m = EDGE.match(line)
            if m:
                edges.append(m.groups())
    first_in = {}  # (pid, lock id) -> (index, source kind, thread) of its first edge in
    for i, (pid, thread, frm, fkind, to, tkind, pc, outcome) in enumerate(edges):
        first_in.setdefault((pid, to), (i, fkind, thread))
    c = collections.Counter()
    for i, (pid, thread, frm, fkind, to, tkind, pc, outcome) in enumerate(edges):
        if outcome == "0":
            c["known edges (no new edge)"] += 1
            continue
        c["new edges"] += 1
        fi = first_in.get((pid, frm))
        if fi is None:
            state = "its source never has an edge in"
        elif fi[0] > i:
            state = "its source gets its first edge in later, from a %s taken by T%s%s" % (
                fi[1], fi[2], "" if fi[2] != thread else " (the same thread)")
        else:
            state = "its source has an edge in already"
        c["  new, %s: source a %s, made by T%s" % (state, fkind, thread)] += 1
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--per", type=float, default=None)
    ap.add_argument("--top", type=int, default=10)
    a = ap.parse_args()
    if len(a.logs) == 1:
        c = count(a.logs[0])
        rows = [(k, float(v)) for k, v in c.items()]
    elif len(a.logs) == 2 and a.per:
        ca, cb = count(a.logs[0]), count(a.logs[1])
        rows = [(k, (cb[k] - ca[k]) / a.per) for k in set(ca) | set(cb)]
    else:
        ap.error("one log, or two logs and --per N")
    heads = sorted([r for r in rows if not r[0].startswith("  ")], key=lambda r: r[0])
    details = sorted([r for r in rows if r[0].startswith("  ")], key=lambda r: -r[1])[:a.top]
    unit = " per step" if a.per else ""
    for k, v in heads + details:
        print("%10.1f  %s%s" % (v, k, unit if not k.startswith("  ") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
