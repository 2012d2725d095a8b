#!/usr/bin/env python3
"""bench/sampler/report.py — flat CPU profile from bench/sampler/sampler.c's files.

  report.py DIR [--top N] [--window T0 T1] [--lines MODULE [--lib PATH]]

--window keeps the samples taken between two CLOCK_MONOTONIC times (seconds; Python's time.monotonic(),
as bench/gpu_bench.py prints them as mono0/mono1 in its RESULT line).

For each process (pcs.PID + maps.PID in DIR): samples (= CPU milliseconds at the default 1 kHz), the
modules they fell in, and the functions (symbols from `nm`, the full symbol table where the file has
one, else the dynamic one). Run it on the machine that ran the program (the modules must be the same
files). Processes are listed by pid (the first is normally the parent).

--lines MODULE adds, for the samples in that module (its file name, e.g. liblocksan.so), their source
lines and the chain of functions inlined there (addr2line -i: the innermost line first), for a
module built with -g (a Release build with CMAKE_CXX_FLAGS=-g has the same code). --lib PATH reads
the module's debug information from PATH instead (the same build, copied elsewhere).
"""
import argparse
import bisect
import collections
import os
import struct
import subprocess
import sys

_syms = {}


def symbols(path):
    if path in _syms:
        return _syms[path]
    table = []
    for args in (["nm", "--defined-only", "-n", "-C", path], ["nm", "-D", "--defined-only", "-n", "-C", path]):
        try:
            out = subprocess.run(args, capture_output=True, text=True, timeout=120).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        for line in out.splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[1] in "tTwWiI":
                try:
                    table.append((int(parts[0], 16), parts[2]))
                except ValueError:
                    pass
        if table:
            break
    table.sort()
    _syms[path] = ([a for a, _ in table], [n for _, n in table])
    return _syms[path]


def read_maps(path):
    maps = []  # (start, end, base, file)
    bases = {}
    with open(path) as f:
        for line in f:
            p = line.split(None, 5)
            if len(p) < 6 or not p[5].strip().startswith("/"):
                continue
            lo, hi = (int(x, 16) for x in p[0].split("-"))
            off = int(p[2], 16)
            name = p[5].strip()
            if name not in bases:
                bases[name] = lo - off
            maps.append((lo, hi, bases[name], name))
    maps.sort()
    return maps


def source_lines(path, offsets):
    """{offset: [(function, file:line), ...] innermost first} from addr2line -f -i -C."""
    uniq = sorted(set(offsets))
    out = {}
    try:
        res = subprocess.run(["addr2line", "-f", "-i", "-C", "-a", "-e", path] + ["%x" % o for o in uniq],
                             capture_output=True, text=True, timeout=300).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        return out
    cur = None
    i = 0
    while i < len(res):
        line = res[i]
        if line.startswith("0x"):
            cur = int(line, 16)
            out[cur] = []
            i += 1
            continue
        if cur is not None and i + 1 < len(res):
            fn, loc = line, res[i + 1]
            loc = loc.split(" (discriminator")[0]
            out[cur].append((fn[:70], "/".join(loc.split("/")[-2:])))
        i += 2
    return out


def line_profile(module_pcs, path, top):
    """The samples of one module by source line (innermost) and by the outermost function there."""
    n = len(module_pcs)
    info = source_lines(path, module_pcs)
    if not info:
        print("  -- lines: addr2line found nothing in %s (no debug information?)" % path)
        return
    by_line = collections.Counter()
    by_outer = collections.Counter()
    for off in module_pcs:
        chain = info.get(off) or [("?", "?")]
        by_line["%s  (%s)" % (chain[0][1], chain[0][0])] += 1
        by_outer["%s > %s" % (chain[-1][0], chain[0][1])] += 1
    print("  -- %s by source line (innermost; %d samples)" % (os.path.basename(path), n))
    for k, c in by_line.most_common(top * 2):
        print("  %6d %5.1f%%  %s" % (c, 100.0 * c / max(n, 1), k))
    print("  -- by outermost function > innermost line")
    for k, c in by_outer.most_common(top * 2):
        print("  %6d %5.1f%%  %s" % (c, 100.0 * c / max(n, 1), k))


def profile(d, pid, top, window, lines=None, lib=None):
    raw = open(os.path.join(d, "pcs.%s" % pid), "rb").read()
    words = struct.unpack("<%dQ" % (len(raw) // 8), raw[: len(raw) // 16 * 16])
    pcs = []
    cpu_ns = 0
    nall = 0
    for k in range(0, len(words), 2):
        pc, t = words[k], words[k + 1]
        if pc == 1:
            cpu_ns = max(cpu_ns, t)
            continue
        nall += 1
        if window is None or window[0] <= t / 1e9 <= window[1]:
            pcs.append(pc)
    maps = read_maps(os.path.join(d, "maps.%s" % pid))
    starts = [m[0] for m in maps]
    mods = collections.Counter()
    funcs = collections.Counter()
    module_pcs, module_path = [], None
    for pc in pcs:
        i = bisect.bisect_right(starts, pc) - 1
        if i < 0 or pc >= maps[i][1]:
            mods["[anon/jit/vdso]"] += 1
            continue
        _, _, base, name = maps[i]
        mod = os.path.basename(name)
        mods[mod] += 1
        if lines and mod == lines:
            module_pcs.append(pc - base)
            module_path = lib or name
        addrs, names = symbols(name)
        j = bisect.bisect_right(addrs, pc - base) - 1
        funcs["%s:%s" % (mod, names[j][:90] if j >= 0 else "?")] += 1
    n = len(pcs)
    rate = nall / (cpu_ns / 1e9) if cpu_ns else 0.0
    print("## pid %s: %d samples%s; %d in all over %.2f s of CPU time (%.0f samples per CPU second)"
          % (pid, n, " in the window" if window else "", nall, cpu_ns / 1e9, rate))
    for m, c in mods.most_common(top):
        print("  %6d %5.1f%%  %s" % (c, 100.0 * c / max(n, 1), m))
    print("  -- functions")
    for fn, c in funcs.most_common(top * 2):
        print("  %6d %5.1f%%  %s" % (c, 100.0 * c / max(n, 1), fn))
    lk = sum(c for fn, c in funcs.items() if fn.startswith("liblocksan"))
    print("  -- liblocksan.so total: %d (%.1f%%)" % (lk, 100.0 * lk / max(n, 1)))
    if module_pcs:
        line_profile(module_pcs, module_path, top)
    return n, mods, funcs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--window", type=float, nargs=2, default=None)
    ap.add_argument("--lines", default=None, help="a module's file name: its samples by source line")
    ap.add_argument("--lib", default=None, help="with --lines: read that module's debug info from PATH")
    a = ap.parse_args()
    pids = sorted(int(f[4:]) for f in os.listdir(a.dir) if f.startswith("pcs."))
    total = collections.Counter()
    for pid in pids:
        if not os.path.exists(os.path.join(a.dir, "maps.%d" % pid)):
            continue
        n, mods, funcs = profile(a.dir, pid, a.top, a.window, a.lines, a.lib)
        total["samples"] += n
    print("# %s: %d processes, %d samples in all" % (a.dir, len(pids), total["samples"]))


if __name__ == "__main__":
    sys.exit(main())
