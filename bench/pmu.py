"""pmu.py — hardware counters of this process over a window, for bench/gpu_bench.py.

CPU time over a GPU training loop moves by ±6% between runs of one configuration on the shared GPU
machines, more than the differences being measured. Retired instructions do not depend on the
machine's speed, and cycles not on its clock, so they separate what CPU time cannot. Counted with
perf_event_open(2) (no perf tool needed), user space only (locksan's work is all there; the
kernel's is the program's and the machine's), one counter per event for every thread of the process
at the window's start (`inherit` adds the threads they start once those exit). The DataLoader
workers are other processes and are not counted.

    w = pmu.Window()    # opens the counters (counting from now), or notes why it cannot
    ...
    w.stop()            # reads and closes them
    w.fields()          # "loop_instr=... loop_cycles=... loop_l1d_miss=... pmu_threads=N" or "pmu=unavailable(...)"

A counter the PMU had to multiplex is scaled by time enabled / time running, and pmu_scaled=1 says
so. Needs kernel.perf_event_paranoid <= 2 (user-space counting of one's own process) and a PMU the
machine exposes (virtual machines may expose none: then the fields say "unavailable").
"""
import ctypes
import os
import struct

_NR_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241}.get(os.uname().machine)
PERF_TYPE_HARDWARE, PERF_TYPE_HW_CACHE = 0, 3
# (name, type, config): cycles, instructions, L1 data-cache read misses.
EVENTS = [("cycles", PERF_TYPE_HARDWARE, 0), ("instr", PERF_TYPE_HARDWARE, 1),
          ("l1d_miss", PERF_TYPE_HW_CACHE, 0 | (0 << 8) | (1 << 16))]
_FLAG_INHERIT, _FLAG_EXCLUDE_KERNEL, _FLAG_EXCLUDE_HV = 1 << 1, 1 << 5, 1 << 6
_READ_FORMAT = 1 | 2  # TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING
_libc = ctypes.CDLL(None, use_errno=True)


def _attr(typ, config):
    # struct perf_event_attr, PERF_ATTR_SIZE_VER0 (64 bytes): type, size, config, sample_period,
    # sample_type, read_format, flags bitfield, wakeup_events, bp_type, config1.
    return struct.pack("=IIQQQQQIIQ", typ, 64, config, 0, 0, _READ_FORMAT,
                       _FLAG_INHERIT | _FLAG_EXCLUDE_KERNEL | _FLAG_EXCLUDE_HV, 0, 0, 0)


def _open(tid, typ, config):
    buf = ctypes.create_string_buffer(_attr(typ, config), 64)
    fd = _libc.syscall(_NR_PERF_EVENT_OPEN, buf, tid, -1, -1, 0)
    if fd < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return fd


class Window:
    def __init__(self):
        self.fds = []  # (event name, fd)
        self.error = None
        self.values = None
        self.scaled = False
        self.threads = 0
        if _NR_PERF_EVENT_OPEN is None:
            self.error = "no perf_event_open number for " + os.uname().machine
            return
        try:
            tids = [int(t) for t in os.listdir("/proc/self/task")]
            for tid in tids:
                for name, typ, config in EVENTS:
                    try:
                        self.fds.append((name, _open(tid, typ, config)))
                    except OSError as e:
                        if name == "l1d_miss":
                            continue  # optional: not every PMU has it
                        raise
            self.threads = len(tids)
        except OSError as e:
            self.close()
            self.error = "perf_event_open: " + (e.strerror or str(e)).replace(" ", "_")
        except ValueError as e:
            self.close()
            self.error = str(e).replace(" ", "_")

    def close(self):
        for _, fd in self.fds:
            os.close(fd)
        self.fds = []

    def stop(self):
        if self.error or self.values is not None:
            return
        vals = {}
        for name, fd in self.fds:
            value, enabled, running = struct.unpack("=QQQ", os.read(fd, 24))
            if running and running < enabled:
                value = int(value * enabled / running)
                self.scaled = True
            elif not running:
                value = 0
            vals[name] = vals.get(name, 0) + value
        self.values = vals
        self.close()

    def fields(self, prefix="loop_"):
        if self.error:
            return "pmu=unavailable(%s)" % self.error
        if self.values is None:
            return "pmu=unavailable(not_stopped)"
        parts = ["%s%s=%d" % (prefix, name, self.values[name]) for name, _, _ in EVENTS if name in self.values]
        parts.append("pmu_threads=%d" % self.threads)
        if self.scaled:
            parts.append("pmu_scaled=1")
        return " ".join(parts)


if __name__ == "__main__":
    # Self-check: a window over a little Python work counts instructions, and more for more work.
    def work(n):
        s = 0
        for i in range(n):
            s += i * i
        return s
    w1 = Window(); work(100000); w1.stop()
    w2 = Window(); work(400000); w2.stop()
    print(w1.fields())
    print(w2.fields())
