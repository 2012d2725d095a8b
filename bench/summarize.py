#!/usr/bin/env python3
"""Turn bench/run.sh's results.tsv + meta.tsv into the markdown of docs/bench.md.

results.tsv columns: section config tool round status rc wall_s reports result why
  result is the RESULT line of the benchmark without 'RESULT ' (key=value pairs).
The prose of docs/bench.md (how to run, how to read) lives here, so that every run rewrites
a complete document.
"""
import argparse
import re
import statistics
import sys
from collections import OrderedDict, defaultdict

TOOLS = ["native", "locksan", "tsan", "dyndd", "helgrind"]
TOOL_TITLE = {
    "native": "native",
    "locksan": "locksan (preload)",
    "tsan": "TSan detect_deadlocks=1",
    "dyndd": "LLVM dyndd (preload)",
    "helgrind": "Helgrind",
}
SIGNALS = {6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 7: "SIGBUS", 4: "SIGILL", 8: "SIGFPE", 15: "SIGTERM"}
CONT_OPS = 6_000_000


def parse_kv(s):
    d = {}
    for tok in s.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            d[k] = v
    return d


class Run:
    def __init__(self, f):
        f = f + [""] * (11 - len(f))
        self.section, self.config, self.tool = f[0], f[1], f[2]
        self.round = int(f[3] or 0)
        self.status, self.rc = f[4], f[5]
        self.wall = float(f[6] or "nan")
        self.reports = int(f[7] or 0)
        self.kv = parse_kv(f[8])
        self.why = f[9]
        self.flags = f[10]

    @property
    def ok(self):
        if self.section == "pytests":  # regrtest exits 2 on a failing test: still a timing
            return self.status in ("ok",) or (self.status.startswith("exit") and "result" in self.kv)
        return self.status == "ok"


def load(results, meta):
    runs = []
    with open(results) as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line:
                runs.append(Run(line.split("\t")))
    m = OrderedDict()
    with open(meta) as fh:
        for line in fh:
            line = line.rstrip("\n")
            if "\t" in line:
                k, v = line.split("\t", 1)
                m[k] = v
    return runs, m


def fmt(v, unit=""):
    if v is None:
        return "—"
    a = abs(v)
    if a >= 1000:
        s = "%.0f" % v
    elif a >= 100:
        s = "%.0f" % v
    elif a >= 10:
        s = "%.1f" % v
    elif a >= 1:
        s = "%.2f" % v
    else:
        s = "%.3f" % v
    return s + unit


def fmt_ratio(r):
    if r is None:
        return ""
    if r >= 100:
        return "×%.0f" % r
    if r >= 10:
        return "×%.1f" % r
    return "×%.2f" % r


def status_text(st):
    if st == "timeout":
        return "hung (timeout)"
    if st.startswith("signal"):
        n = int(st[6:])
        return "crashed (%s)" % SIGNALS.get(n, "signal %d" % n)
    if st.startswith("exit"):
        return "failed (exit %s)" % st[4:]
    if st == "noresult":
        return "no result line"
    return st


class Table:
    def __init__(self, runs, meta):
        self.runs = runs
        self.meta = meta
        self.notes = []  # footnotes
        self.by = defaultdict(list)  # (config, tool) -> [Run]
        for r in runs:
            self.by[(r.config, r.tool)].append(r)
        # native and locksan always have a column (locksan's says "not measured yet" when absent)
        self.present = [t for t in TOOLS if t in ("native", "locksan") or meta.get("status_" + t, "") == "ok"
                        or any(k[1] == t for k in self.by)]

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)
        return "[%d]" % (self.notes.index(text) + 1)

    def tool_missing(self, tool):
        st = self.meta.get("status_" + tool, "ok")
        return None if st == "ok" else st

    def values(self, config, tool, key, unit_filter=None, wall=False):
        """Values of one metric over the good rounds; plus a failure summary."""
        rs = [r for r in self.by.get((config, tool), []) if unit_filter is None or unit_filter(r)]
        good, bad = [], []
        for r in rs:
            if r.ok and (wall or key in r.kv):
                good.append(r.wall if wall else float(r.kv[key]))
            elif not r.ok:
                bad.append(r)
        # a run may print several RESULT lines (scale_bench): count runs, not lines
        per_round = OrderedDict()
        for r in rs:
            per_round.setdefault(r.round, r)
        return good, bad, list(per_round.values())

    def failure_cell(self, bad, total):
        st = OrderedDict()
        for r in bad:
            st.setdefault(r.status, []).append(r)
        parts = []
        for s, lst in st.items():
            txt = status_text(s)
            why = next((r.why for r in lst if r.why), "")
            ref = self.note("%s, %s: %s in %d of %d runs%s. Logs: build/bench/logs/%s.%s.*" % (
                lst[0].config, lst[0].tool, txt, len(lst), total,
                (" — `%s`" % why.strip().replace("|", "\\|")) if why else "", lst[0].config, lst[0].tool))
            parts.append("%s %d/%d %s" % (txt, len(lst), total, ref))
        return "; ".join(parts)

    def cell(self, config, tool, key, unit="", wall=False, scale=1.0, base=None, ratio=True,
             lower_better=True, annot=""):
        """'median [min–max] ×ratio' or why there is no number.  Returns (text, median)."""
        miss = self.tool_missing(tool)
        if miss and not self.by.get((config, tool)):
            return ("not measured yet" if tool == "locksan" else "n/a"), None
        good, bad, rs = self.values(config, tool, key, wall=wall)
        if not rs:
            return "—", None
        txt = ""
        med = None
        if good:
            good = [g * scale for g in good]
            med = statistics.median(good)
            txt = fmt(med, unit)
            if len(good) > 1:
                txt += " [%s–%s]" % (fmt(min(good)), fmt(max(good)))
            if ratio and base is not None and base > 0 and tool != "native":
                txt += " " + fmt_ratio(med / base if lower_better else base / med)
            txt += annot
        if bad:
            txt = (txt + "; " if txt else "") + self.failure_cell(bad, len(rs))
        strag = [r for r in rs if "stragglers" in r.flags]
        if strag:
            txt += " " + self.note("%s under %s: in %d of %d runs, processes of the run were still alive after "
                                   "it ended (a forked child that never exited); run.sh killed them "
                                   "(build/bench/logs/%s.%s.*)" % (config, tool, len(strag), len(rs), config, tool))
        reps = max((r.reports for r in rs), default=0)
        if reps:
            if rs[0].section == "pytests":
                txt += " " + self.note("%s under %s: up to %d lock-order reports in a run, in the test process or "
                                       "its children (build/bench/logs/%s.%s.*.err and .out); a test that expects a "
                                       "child to exit cleanly fails on them" % (config, tool, reps, config, tool))
            else:
                txt += " " + self.note("%s under %s printed %d lock-order/race report(s) although the benchmark "
                                       "has no inversion (see build/bench/logs/%s.%s.*.err)" % (config, tool, reps, config, tool))
        return txt, med

    # ------------------------------------------------------------------------------------
    def header(self, extra_cols=("target", "locksan")):
        cols = ["benchmark", "unit"] + [TOOL_TITLE[t] for t in self.present] + list(extra_cols)
        return "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n"

    def paired_ratios(self, config, key, wall=False):
        """locksan ÷ native round by round: the tools of a round run one after the other, so a
        round's ratio is what a change of the machine's speed between rounds moves least."""
        def by_round(tool):
            d = {}
            for r in self.by.get((config, tool), []):
                if r.ok and (wall or key in r.kv) and r.round not in d:
                    d[r.round] = r.wall if wall else float(r.kv[key])
            return d
        nat, loc = by_round("native"), by_round("locksan")
        return [loc[k] / nat[k] for k in sorted(nat) if k in loc and nat[k] > 0]

    def verdict(self, ratio, limit, med_locksan, config=None, key=None, wall=False):
        """Judged on the median of the per-round ratios where two or more rounds pair up (the ratio
        of the medians beside it), else on the ratio of the medians."""
        if self.tool_missing("locksan") and med_locksan is None:
            return "not measured yet"
        if ratio is None:
            bad = [r for r in self.by.get((config, "locksan"), []) if not r.ok]
            if bad:
                return "FAIL (%s)" % status_text(bad[0].status)
            return "no result"
        pr = self.paired_ratios(config, key, wall) if config and (key or wall) else []
        if len(pr) >= 2:
            med = statistics.median(pr)
            return ("PASS" if med <= limit else "FAIL") + " (%s paired by round [%s–%s]; %s of the medians)" % (
                fmt_ratio(med), fmt_ratio(min(pr))[1:], fmt_ratio(max(pr))[1:], fmt_ratio(ratio))
        return ("PASS" if ratio <= limit else "FAIL") + " (%s)" % fmt_ratio(ratio)

    def pair_section(self):
        out = []
        out.append("### Lock fast path — `bench/pair_bench.c`\n\n")
        out.append(self.header())
        rows = [
            ("single1", "lock/unlock one mutex, 1 thread", "ns/op", None),
            ("pair1", "nested pair, 1 thread (single-threaded process)", "ns/pair", 1.5),
            ("pair1s", "nested pair, 1 thread (multi-threaded process, `-s`)", "ns/pair", 1.5),
        ]
        pair_multi = sorted({r.config for r in self.runs if r.config.startswith("pair") and r.config[4:].isdigit()
                             and int(r.config[4:]) > 1}, key=lambda c: int(c[4:]))
        for c in pair_multi:
            rows.append((c, "nested pair, %s threads, own locks (per thread)" % c[4:], "ns/pair", None))
        for cfg, title, unit, limit in rows:
            if not any(k[0] == cfg for k in self.by):
                continue
            cells = []
            base, _ = None, None
            _, base = self.cell(cfg, "native", "ns_per_op")
            meds = {}
            for t in self.present:
                txt, med = self.cell(cfg, t, "ns_per_op", base=base)
                meds[t] = med
                cells.append(txt)
            ratio = meds.get("locksan") / base if meds.get("locksan") and base else None
            tgt = "≤ %.1f×" % limit if limit else "—"
            ver = self.verdict(ratio, limit, meds.get("locksan"), cfg, "ns_per_op") if limit else (
                fmt_ratio(ratio) if ratio else ("not measured yet" if self.tool_missing("locksan") else "—"))
            out.append("| %s | %s | %s | %s | %s |\n" % (title, unit, " | ".join(cells), tgt, ver))
        # scaling: aggregate throughput at N threads / 1 spawned thread. Judged on the best round of
        # each (pair_bench's best_agg_mops: the best of its reps; other processes on the machine only
        # lower throughput), the medians shown beside it.
        for c in pair_multi:
            cells, sp = [], {}
            for t in self.present:
                b1, _, _ = self.values("pair1s", t, "best_agg_mops")
                bn, _, _ = self.values(c, t, "best_agg_mops")
                a1, _, _ = self.values("pair1s", t, "agg_mops")
                an, badn, rsn = self.values(c, t, "agg_mops")
                if a1 and an:
                    med = statistics.median(an) / statistics.median(a1)
                    if b1 and bn:
                        sp[t] = max(bn) / max(b1)
                        txt = "%.2f" % sp[t]
                        if t != "native" and sp.get("native"):
                            txt += " (%.0f%% of native's)" % (100 * sp[t] / sp["native"])
                        txt += "; median %.2f" % med
                    else:  # results of an older pair_bench (no best_agg_mops)
                        sp[t] = med
                        txt = "%.2f" % med
                        if t != "native" and sp.get("native"):
                            txt += " (%.0f%% of native's)" % (100 * sp[t] / sp["native"])
                else:
                    txt = self.cell(c, t, "agg_mops")[0] if rsn else (
                        "not measured yet" if t == "locksan" and self.tool_missing(t) else "n/a")
                cells.append(txt)
            if "locksan" in sp and sp.get("native"):
                rel = sp["locksan"] / sp["native"]
                ver = ("PASS" if rel >= 0.9 else "FAIL") + " (%.0f%%)" % (100 * rel)
            else:
                ver = "not measured yet" if self.tool_missing("locksan") else "no result"
            out.append("| scaling: throughput %s threads ÷ 1 thread (`-s`), best round | speedup | %s | ≥ 90%% of native's | %s |\n"
                       % (c[4:], " | ".join(cells), ver))
            # CPU time per pair with N threads running vs one: what the threads cost each other
            cells = []
            for t in self.present:
                c1, _, _ = self.values("pair1s", t, "cpu_ns_per_op")
                cn, _, rsn = self.values(c, t, "cpu_ns_per_op")
                on, _, _ = self.values(c, t, "oncpu")
                if c1 and cn:
                    txt = "%.2f" % (statistics.median(cn) / statistics.median(c1))
                    if on:
                        txt += " (on CPU %.0f%%)" % (100 * statistics.median(on))
                else:
                    txt = "—" if rsn else "n/a"
                cells.append(txt)
            out.append("| %s threads: CPU time per pair ÷ 1 thread's (`-s`) | ratio | %s | — | — |\n"
                       % (c[4:], " | ".join(cells)))
        # contended
        for c in sorted({r.config for r in self.runs if r.config.startswith("cont")}, key=lambda c: int(c[4:])):
            cells, meds = [], {}
            base = None
            for t in ["native"] + [x for x in self.present if x != "native"]:
                # wall seconds for CONT_OPS ops, from ns/op (TSan, dyndd, Helgrind run fewer ops)
                txt, med = self.cell(c, t, "ns_per_op", unit=" s", scale=CONT_OPS / 1e9, base=base)
                if t == "native":
                    base = med
                meds[t] = (txt, med)
            cells = [meds[t][0] for t in self.present]
            lm = meds.get("locksan", (None, None))[1]
            ratio = lm / base if lm and base else None
            out.append("| contended: %s threads, one mutex, %.0fM ops | wall s | %s | ≤ 1.2× | %s |\n"
                       % (c[4:], CONT_OPS / 1e6, " | ".join(cells), self.verdict(ratio, 1.2, lm, c, "ns_per_op")))
        out.append("\n")
        return "".join(out)

    def real_section(self):
        cfgs = [c for c in ("sqlite-own4", "sqlite-shared4") if any(k[0] == c for k in self.by)]
        skipped = self.meta.get("real_status")
        if not cfgs and not skipped:
            return ""
        out = ["### Someone else's locking: SQLite — `bench/sqlite_bench.c`\n\n"]
        if skipped:
            out.append("%s\n\n" % skipped)
            return "".join(out)
        out.append("In-memory databases, prepared INSERT / SELECT / UPDATE, no file I/O; %s (serialized: "
                   "the connection mutex around every call, the memory-statistics and page-cache mutexes "
                   "nested under it). TSan: the bench compiled with `-fsanitize=thread` against the same "
                   "uninstrumented libsqlite3 (its interceptors see SQLite's pthread calls); Helgrind runs "
                   "1/20 of the operations. The cell is time per statement step.\n\n"
                   % self.meta.get("sqlite", "libsqlite3"))
        out.append(self.header())
        titles = {"sqlite-own4": "4 threads, a database each (uncontended mutexes, nested)",
                  "sqlite-shared4": "4 threads, one shared connection (contended connection mutex)"}
        for c in cfgs:
            _, base = self.cell(c, "native", "ns_per_op")
            cells, meds = [], {}
            for t in self.present:
                txt, med = self.cell(c, t, "ns_per_op", base=base)
                meds[t] = med
                cells.append(txt)
            ratio = meds.get("locksan") / base if meds.get("locksan") and base else None
            out.append("| %s | ns/step | %s | ≤ 1.3× | %s |\n" % (
                titles[c], " | ".join(cells), self.verdict(ratio, 1.3, meds.get("locksan"), c, "ns_per_op")))
        out.append("\n")
        return "".join(out)

    def callgrind_section(self):
        cfgs = [c for c in ("cg-single1", "cg-pair1", "cg-pair1s") if any(k[0] == c for k in self.by)]
        if not cfgs:
            return ""
        out = ["Instructions per operation inside the measured loop (callgrind; deterministic, unaffected by "
               "the machine's load; 200k iterations):\n\n"]
        cols = ["benchmark", "unit", "native", "locksan (preload)", "locksan ÷ native"]
        out.append("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n")
        titles = {"cg-single1": "lock/unlock one mutex", "cg-pair1": "nested pair, single-threaded process",
                  "cg-pair1s": "nested pair, multi-threaded process (`-s`)"}
        for c in cfgs:
            txt_n, n = self.cell(c, "native", "ir_per_op", ratio=False)
            txt_l, l = self.cell(c, "locksan", "ir_per_op", ratio=False)
            out.append("| %s | instructions/op | %s | %s | %s |\n" % (
                titles[c], txt_n, txt_l, fmt_ratio(l / n) if l and n else "—"))
        out.append("\n")
        return "".join(out)

    def python_section(self):
        cfgs = [c for c in OrderedDict.fromkeys(r.config for r in self.runs)
                if c.startswith("gil-") or c.startswith("pytests-")]
        skipped = [(k, v) for k, v in self.meta.items() if k.startswith("pytests:")]
        if not cfgs and not skipped:
            return ""
        out = ["### Python under the preload\n\n"]
        cols = ["benchmark", "unit", "native", "locksan (preload)", "target", "locksan"]
        out.append("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n")
        for c in cfgs:
            gil = c.startswith("gil-")
            limit = 1.10 if gil else 1.2
            tag = c.split("-", 1)[1]
            minus = ""
            if "-minus-" in tag:
                tag, minus = tag.split("-minus-", 1)
            title = ("`gil_bench.py`, %s" if gil else "`-m test test_threading test_queue`, %s") % tag
            if minus:
                title = ("`-m test test_threading test_queue` without `%s` (it hung under the preload), %s"
                         % (minus, tag))
            _, base = self.cell(c, "native", "", wall=True)
            cells, meds = [], {}
            for t in ("native", "locksan"):
                txt, med = self.cell(c, t, "", wall=True, unit=" s", base=base)
                if not gil:
                    res = OrderedDict()
                    for r in self.by.get((c, t), []):
                        if "result" in r.kv:
                            k = r.kv["result"] + (" (%s)" % re.sub(r"\((\d+)_", r"(\1 ", r.kv["failed"]).replace(",", ", ")
                                                 if r.kv.get("failed") else "")
                            res[k] = res.get(k, 0) + 1
                    if res:
                        txt += " — tests: " + ", ".join(("%s in %d runs" % kv) if kv[1] > 1 else kv[0] for kv in res.items())
                cells.append(txt)
                meds[t] = med
            ratio = meds["locksan"] / base if meds.get("locksan") and base else None
            out.append("| %s | wall s | %s | ≤ %.2f× | %s |\n" % (
                title, " | ".join(cells), limit, self.verdict(ratio, limit, meds.get("locksan"), c, wall=True)))
        for k, v in skipped:
            out.append("| `-m test test_threading test_queue`, %s | — | %s | | | |\n" % (k.split(":", 1)[1], v))
        out.append("\n")
        return "".join(out)

    def scale_section(self):
        if not any(r.section == "scale" for r in self.runs):
            return ""
        out = ["### Scale — `bench/scale_bench.c` (one process per part)\n\n", self.header()]
        hg = {"live": " (50k locks)", "edges": " (10k edges)", "threads": " (1 wave)", "held": " (200 rounds)",
              "young": " (2k iterations)", "young-instance": "",
              "longrun": " (40 rounds of 10 locks)"}

        def row(part, title, unit, key, target, judge=None, ratio=True):
            _, base = self.cell(part, "native", key, ratio=False)
            cells, meds = [], {}
            for t in self.present:
                txt, med = self.cell(part, t, key, base=base if ratio else None,
                                     annot=hg[part] if t == "helgrind" else "")
                cells.append(txt)
                meds[t] = med
            good, bad, rs = self.values(part, "locksan", key)
            if self.tool_missing("locksan") and not rs:
                ver = "not measured yet"
            elif bad:
                ver = "FAIL (%d/%d runs failed)" % (len(bad), len(rs))
            elif judge:
                ver = judge(meds.get("locksan"), base)
            elif target == "no crash":
                ver = "PASS (no crash)" if good else "no result"
            else:
                ver = "—"
            out.append("| %s | %s | %s | %s | %s |\n" % (title, unit, " | ".join(cells), target, ver))

        def mem_judge(v, base):
            if v is None or base is None:
                return "no result"
            over = v - base
            return ("PASS" if over <= 128 else "FAIL") + " (+%.0f B/lock over native)" % over

        row("live", "1M live heap mutexes, each locked once: RSS growth per lock", "bytes/lock",
            "bytes_per_lock", "≤ native + 128 B", mem_judge, ratio=False)
        row("live", "  first lock+unlock of each of the 1M locks", "ns/lock", "first_lock_ns", "no crash")
        row("live", "  second lock+unlock (known lock)", "ns/lock", "relock_ns", "—")
        row("edges", "1M distinct lock-order edges (8 threads, 100k locks)", "ns/edge", "ns_per_edge", "no crash")
        row("edges", "  growth: last 100k edges ÷ first 100k", "ratio", "growth", "—", ratio=False)
        row("edges", "  walking 100k known edges again", "ns/edge", "known_ns_per_edge", "—")
        row("edges", "  RSS growth per edge", "bytes/edge", "bytes_per_edge", "—", ratio=False)
        row("threads", "1,000 threads alive at once, each nesting 3 locks (best of 2 waves)", "s", "best_wave_s",
            "no crash")
        row("held", "100 locks held at once, nested", "ns/lock", "ns_per_lock", "no crash")
        row("young", "a heap lock made per iteration, 30 frames deep, taking 6 long-lived locks under it "
            "(PyTorch's per-step locks): per iteration (default `lock_identity=auto`: a lock class from the "
            "5th iteration)", "ns/iter", "ns_per_iter", "—")
        if any(k[0] == "young-instance" for k in self.by):
            row("young-instance", "  the same, locksan with `lock_identity=instance` (a node and 6 new edges per "
                "iteration; native run beside it)", "ns/iter", "ns_per_iter", "—")

        def flat_judge(v, base):
            if v is None or base is None:
                return "no result"
            over = v - base
            return ("PASS" if over <= 64 else "FAIL") + " (%+.0f KiB over native's)" % over

        row("longrun", "long run: 2,000 rounds of 4 new threads × 100 new heap locks, nested, freed: RSS growth "
            "over the second half (4,000 threads)", "KiB", "growth_second_half_kb", "≤ native + 64 KiB (flat)",
            flat_judge, ratio=False)
        row("longrun", "  RSS at the end of the run (over the start)", "KiB", "rss_end_kb", "—", ratio=False)
        row("longrun", "  time per round, last tenth of the rounds", "ms", "last_round_ms", "—")
        out.append("\n")
        # growth detail
        buckets = defaultdict(lambda: defaultdict(list))  # tool -> bucket -> [ns]
        for r in self.runs:
            if r.config == "edges" and r.kv.get("bucket") is not None and "ns_per_edge" in r.kv:
                buckets[r.tool][int(r.kv["bucket"])].append(float(r.kv["ns_per_edge"]))
        tools = [t for t in self.present if t in buckets]
        if tools:
            out.append("Time per new edge as the graph grows (median ns per edge over the rounds; each bucket adds "
                       "100k edges, Helgrind 1k):\n\n")
            n = max(max(b) for b in buckets.values()) + 1
            out.append("| edges so far | " + " | ".join(TOOL_TITLE[t] for t in tools) + " |\n|" + "---|" * (len(tools) + 1) + "\n")
            for i in range(n):
                cells = []
                for t in tools:
                    v = buckets[t].get(i)
                    cells.append(fmt(statistics.median(v)) if v else "")
                label = "%dk–%dk" % (i * 100, (i + 1) * 100)
                out.append("| %s | %s |\n" % (label, " | ".join(cells)))
            out.append("\n")
        return "".join(out)

    def tool_lines(self):
        lines = []
        for t in TOOLS[1:]:
            st = self.meta.get("status_" + t, "ok")
            if st != "ok":
                lines.append("- %s: %s" % (TOOL_TITLE[t], st))
        return lines


# A separate measurement (bench/new_lock_py.py), kept in the generated page as written.
NEW_LOCK_PY = """\
## Cost of a new lock in a Python process

Not part of `run.sh`'s rounds: measured separately with `bench/new_lock_py.py`, which reproduces
what a PyTorch DataLoader does per item (a `torch.Generator`'s `std::mutex`: a new heap lock taken
under the GIL, then freed) with ctypes and libc, through `ctypes.CDLL` (GIL released; the new edge is
mutex → GIL) and `ctypes.PyDLL` (GIL held; GIL → mutex), 30 Python frames deep; the `_known` modes
make the same calls on one mutex allocated once, so the difference is the new lock's own cost.
Callgrind instruction counts are the figure to compare on a loaded machine:

```sh
PY=/root/.pyenv/versions/3.12.1/bin/python3.12
$PY bench/new_lock_py.py --callgrind --python $PY --lib build/liblocksan.so --items 1000 \\
    --modes cdll,cdll_known,pydll,pydll_known      # instructions per item, start-up left out
$PY bench/new_lock_py.py --python $PY --lib build/liblocksan.so --rounds 11  # wall and CPU µs per item
```

Measured 2026-11-27 (CPython 3.12.1, this 2-core machine), the library before (0ad9d08) and after
the new-lock work; µs are wall-time medians of 11 interleaved rounds at load average ~1.5 (native:
1.91 µs per `cdll` item, 1.68 per `pydll` item):

| new lock + its edges + free, per item | before | after |
| --- | --- | --- |
| `cdll` − `cdll_known`, instructions | 165,362 | 21,697 |
| `pydll` − `pydll_known`, instructions | 86,410 | 13,091 |
| `cdll` − `cdll_known`, µs | 19.4 | 2.5 |
| `pydll` − `pydll_known`, µs | 12.8 | 1.7 |
| whole `cdll` item vs native, µs | +20.2 | +3.3 |
| whole `pydll` item vs native, µs | +13.0 | +1.95 |

What the time went to and what changed: docs/design.md, "Cost of a new lock and a new edge".

**Under each lock identity** (docs/design.md "Lock classes"): such a lock is first locked just below
the interpreter (ctypes' own call of `pthread_mutex_lock`), so a class key includes the 8 innermost
Python frames. Measured 2026-11-28 on this machine, side by side in one run per interpreter,
instructions per item over native at 30 Python frames:

```sh
python3 bench/new_lock_py.py --callgrind --python $PY --lib build/liblocksan.so@lock_identity=instance \\
    --lib build/liblocksan.so --lib build/liblocksan.so@lock_identity=site \\
    --items 1000 --depth 30 --modes pydll,cdll
```

| per item, instructions over native | `instance` | `auto` (the default) | `site` |
| --- | --- | --- | --- |
| `pydll`, python3.11 (Debian, static) | +2,341 | +2,321 | +3,923 |
| `cdll`, python3.11 | +19,213 | +7,012 | +7,123 |
| `pydll`, pyenv 3.12.1 (shared libpython) | +2,082 | +2,123 | +3,865 |
| `cdll`, pyenv 3.12.1 | +19,803 | +7,223 | +7,241 |

With the GIL held (`pydll`) the item's lock is a sink of the GIL's edge and is revived at its address
under `instance` and `auto` (`auto` tries that before it computes a class key), the cheaper; with the
GIL released (`cdll`: an edge out of the mutex, so no revival) a new node per item costs ~2.7× a
class's look-up, and `auto`'s call path is a class after 4 items. What `auto` adds to a lock that
stays an instance (its call path's entry: the class key and a table look-up, and a second registry
look-up after the stack capture): ~300 instructions of the ~3,900 a lock's whole life costs in
`scale_bench live` (init, first and second lock, destroy and free; callgrind, 100,000 locks,
`instance` 3,876, `auto` 4,180 instructions a lock).

"""


HOW_TO = """\
## How to run

```sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2   # run.sh does this too
bench/run.sh            # full: 5 interleaved rounds, 3 of the slow parts (~20-25 min on 2 cores)
bench/run.sh --quick    # 2 rounds, 1 round of the slow parts (~10 min)
bench/run.sh --out /tmp/b.md --skip-helgrind --skip-pytests   # see --help for the rest
```

`run.sh` compiles the benches (`gcc -O2`; `clang -O2 -fsanitize=thread -g` for the TSan column),
builds liblocksan with cmake and runs a snapshot of it (copied to `build/bench/lib/`, so that a
concurrent rebuild cannot swap it mid-run), then runs every benchmark under every tool found,
interleaving the tools (order rotated each round) so that a noisy neighbour hurts all columns alike.
Each run's command, stdout and stderr are kept in `build/bench/logs/`; all numbers in
`build/bench/results.tsv`. Every run has a timeout (C benches 300 s, scale parts 120 s, CPython
tests 180 s); a configuration that timed out once is not repeated; processes a run leaves behind (its
process group) are killed and reported. Tools that are missing are reported as such, never guessed.
CPython's test suite for Debian's `/usr/bin/python3.11` comes from the package
`libpython3.11-testsuite` (not installed by the project's setup); without it that row is skipped.
The benches alone:

```sh
build/bench/pair_bench pair            # RESULT mode=pair threads=1 ... ns_per_op=9.1
build/bench/pair_bench pair -t 2       # own pair of locks per thread
build/bench/pair_bench contended -t 8 -n 6000000
build/bench/scale_bench                # all five parts, ~1.5 s natively
build/bench/sqlite_bench own -t 4 -n 60000      # needs libsqlite3-dev; also `shared`
LD_PRELOAD=build/liblocksan.so build/bench/scale_bench edges
python3 bench/gil_bench.py
python3 bench/queue_pingpong.py 20000   # Condition waits: a new Python lock per blocking get (docs/design.md)
cc -O2 -pthread bench/young_lock_chain.c -o young && ./young 400000   # a lock made per iteration above known edges (docs/design.md)
cc -O2 -pthread bench/step_proxy.c -o step_proxy && ./step_proxy   # a PyTorch training step's lock and heap traffic, without PyTorch (docs/design.md)
bash bench/gpu_count.sh torch        # on the GPU machine: the calls per step that step_proxy.c reproduces
```

## How to read

- Each cell is `median [min–max] ×ratio`, the ratio being the median over native's median (for
  the scaling rows: the tool's speedup as a share of native's). The spread is over the rounds, each
  round a fresh process; the machine is shared, so read a single outlier as noise, a shifted median
  as a change.
- **Verdicts** (the last column) of rows with a target: the tools of a round run one after the
  other, so each round gives a locksan ÷ native ratio measured at the same speed of the machine; the
  verdict is the median of those per-round ratios (`paired by round`, with their range) when two or
  more rounds pair up, else the ratio of the medians. The ratio of the medians is printed beside
  it: when the two disagree, the machine changed speed between rounds (a shared machine does: a run
  once had native's `gil_bench.py` rounds go from 2.5 s to 3.7–3.9 s half-way through), and the
  paired figure is the one that phase change does not move.
- **nested pair, single- vs multi-threaded process.** glibc (2.34+) skips the atomic instructions in
  `pthread_mutex_lock` while a process has never created a thread, so the same loop costs ~9 ns on
  the main thread of a single-threaded process and ~26 ns once any thread exists (`-s`). A preload
  that starts a helper thread loses that fast path for the whole program. The anchors' 11.7 ns
  corresponds to the single-threaded row.
- **instructions per operation** (callgrind, `--toggle-collect` on the measured loop): the same
  for every run of the same binaries, whatever the load, so it is the figure to compare between
  commits on a shared machine; it does not see cache misses or atomic-instruction latency, which
  is where the single- vs multi-threaded difference comes from.
- **scaling** (threads on their own locks): the aggregate throughput of N threads over that of one
  spawned thread, each taken from its best round (pair_bench's best of its reps, then the best
  round); the median is shown beside it. A process of someone else's that takes a CPU away from
  the threads lowers the throughput of the 2-thread run far more than that of the 1-thread run, so
  medians on a loaded machine measure the load (the row once read 57% for a library whose threads
  scale like native's when the machine is quiet). The CPU-time row below it is the check that does
  not depend on the load: CPU time per pair with N threads running over one thread's; it rises
  above 1 when the threads write a shared cache line while they run at the same time, and the
  share of the wall they were on a CPU says how much they did (pair_bench's `oncpu`).
- **contended**: wall seconds for 6M lock/unlock operations on one mutex split among the threads,
  with a small critical section. TSan and dyndd run ¼ of the operations and Helgrind 1/200; their
  cells are scaled to 6M.
- **Python**: wall time of the whole process (interpreter start included). `gil_bench.py` runs
  CPU-bound threads, a loopback socket ping-pong, a pipe, file reads, a contended `threading.Lock`
  and `queue.Queue` traffic at once. The CPython tests (`-m test -v test_threading test_queue`) show
  their own outcome next to the time: a test that fails natively (pyenv's 3.11.7 fails
  `test_import_from_another_thread` on this machine) is not locksan's doing; a difference between
  the two columns is.
- **scale**: `bytes/lock` is VmRSS growth over 1M heap mutexes (malloc'ed, initialised, each locked
  once) divided by 1M; native is the malloc chunk itself (48 B), so the tool's own cost is the
  difference. All locks are taken at one call site, so the stack depot holds a handful of stacks.
  Under valgrind VmRSS is valgrind's own. Helgrind runs reduced sizes (noted in its cells).
  "no crash" targets pass when every round exited 0 with its result line; hangs are cut by
  `timeout` and shown as such. The edges part adds each edge once (8 threads on 100k
  locks, lower index first, so no cycle); its growth table shows whether adding an edge gets dearer
  as the graph grows, and "known edges" walks the first 100k again. The long run is what a
  sanitizer left on meets: 2,000 rounds, each of 4 new threads that create 100 heap locks of varied
  sizes, nest them under long-lived locks and under each other (new edges, from a bounded set of
  call sites), hand items over through a condition variable, then free them and exit. Nothing a
  round makes outlives it, so a tool's memory must come back to the same level round after round:
  the row is the VmRSS growth over the second half of the rounds (4,000 threads, 400,000 locks),
  judged against native's own (glibc's arenas and thread-stack cache move a few KiB). The young
  part is PyTorch's per-step lock shape (docs/gpu.md) in C: 30 frames down a recursion, each
  iteration makes a heap mutex, takes 6 pairs of long-lived locks under it and frees it. Under the
  default (`lock_identity=auto`, docs/design.md "Lock classes") the mutexes are first locked on one
  call path, which becomes a lock class once 4 of them were freed: from then on every iteration's
  mutex is that class's node, and an iteration costs its lock's registration and removal, not new
  edges. The row under it runs the same under `lock_identity=instance`: each iteration is a new lock
  with 6 new edges (each needing its evidence: a stack; locksan's stack memo serves those without
  unwinding) and 6 chains whose only edge is known, and the edges' removal when it is freed.
- A bracketed number refers to the notes under the tables (crashes, hangs, reports printed by a
  tool on a benchmark that has no lock-order inversion).
"""


def pytests_verdict(results, out, match):
    """Put regrtest's own verdict into the results.tsv line of that run (it prints no RESULT line)."""
    try:
        text = open(out, errors="replace").read()
    except OSError:
        return 0
    res = re.findall(r"Tests result: *([A-Z_][A-Z_ ,]*?) *(?:==)? *$", text, re.M)
    failed = []
    for m in re.finditer(r"^\d+ tests? failed:\n((?:[ \t]+\S.*\n)+)", text, re.M):
        failed += m.group(1).split()
    counts = dict(re.findall(r"(test_\w+) failed \((\d+ (?:failures?|errors?))", text))
    lines = open(results).read().splitlines()
    if not lines:
        return 0
    f = lines[-1].split("\t")
    if f[1:4] != list(match):
        return 0  # the run was skipped: nothing of it to describe
    kv = "mode=pytests result=%s" % (re.sub(r"[ ,]+", "+", res[-1]) if res else "none")
    if failed:
        kv += " failed=" + ",".join(t + ("(%s)" % counts[t].replace(" ", "_") if t in counts else "") for t in failed)
    f[8] = kv
    if f[4] == "noresult":
        f[4] = "ok"
    lines[-1] = "\t".join(f)
    with open(results, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--meta")
    ap.add_argument("--out", default="-")
    ap.add_argument("--pytests-verdict", metavar="STDOUT_FILE")
    ap.add_argument("--match", nargs=3, metavar=("CONFIG", "TOOL", "ROUND"))
    a = ap.parse_args()
    if a.pytests_verdict:
        return pytests_verdict(a.results, a.pytests_verdict, a.match or ["", "", ""])
    if not a.meta:
        ap.error("--meta is required")
    runs, meta = load(a.results, a.meta)
    t = Table(runs, meta)

    res = []
    res.append("## Results — %s\n\n" % meta.get("date", "?"))
    res.append("- machine: %s core(s), %s, Linux %s, glibc %s; load average before/after: %s / %s%s\n" % (
        meta.get("nproc", "?"), meta.get("cpu", "?"), meta.get("kernel", "?"), meta.get("glibc", "?"),
        meta.get("load_before", "?"), meta.get("load_after", "?"),
        ("; highest 1-min load seen at the start of a run: %s" % meta["load_max"]) if "load_max" in meta else ""))
    res.append("- compilers: %s; %s; %s\n" % (meta.get("gcc", "?"), meta.get("clang", "clang: not found"),
                                              meta.get("valgrind", "valgrind: not found")))
    pys = ["%s (%s)" % (k.split(":", 1)[1], v) for k, v in meta.items() if k.startswith("python:")]
    if pys:
        res.append("- pythons: %s\n" % ", ".join(pys))
    res.append("- locksan: `%s` — %s%s; source tree %s%s\n" % (
        meta.get("lib", "?"), "measured" if meta.get("lib_status") == "ok" else meta.get("lib_status", "?"),
        (" (md5 %s)" % meta["lib_md5"]) if "lib_md5" in meta else "", meta.get("commit", "?"),
        ("; LOCKSAN_OPTIONS=`%s`" % meta["locksan_options"]) if "locksan_options" in meta else ""))
    if "dyndd" in meta:
        res.append("- dyndd: `%s` (preloaded into the native binary)\n" % meta["dyndd"])
    if "tsan_note" in meta:
        res.append("- %s\n" % meta["tsan_note"])
    for line in t.tool_lines():
        res.append(line + "\n")
    res.append("- rounds: %s (scale, CPython tests and Helgrind: %s)\n" % (meta.get("rounds", "?"), meta.get("slow_rounds", "?")))
    res.append("- command: `%s`\n\n" % meta.get("command", "bench/run.sh"))
    res.append(t.pair_section())
    res.append(t.callgrind_section())
    res.append(t.real_section())
    res.append(t.python_section())
    res.append(t.scale_section())
    if t.notes:
        res.append("Notes:\n\n")
        for i, n in enumerate(t.notes, 1):
            res.append("%d. %s\n" % (i, n))
        res.append("\n")
    results = "".join(res)

    doc = ("# locksan benchmarks\n\n"
           "<!-- Written by bench/run.sh (bench/summarize.py holds this text); rerun it rather than editing. -->\n\n"
           "Targets come from the project's issues; the comparison tools and their published costs are in\n"
           "`shared/notes/anchors.md`.\n\n" + results + NEW_LOCK_PY + HOW_TO)
    sys.stdout.write(results)
    if a.out and a.out != "-":
        with open(a.out, "w") as fh:
            fh.write(doc)
        sys.stderr.write("summarize: wrote %s\n" % a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
