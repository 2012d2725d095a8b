#!/usr/bin/env python3
"""gpu_bench.py — real GPU workloads for timing locksan with CUPTI on (issue: <= 1.05x of the time
without locksan). Run by bench/gpu_run.sh, which alternates runs with and without the preload.

Workloads:
  torch  a small CNN trained on synthetic 32x32 images (CIFAR-sized) with a DataLoader
         (num_workers=2, forked workers, pin_memory thread), Adam, cross-entropy; a fixed number of
         steps; `loss.item()` every 20 steps as a real loop logs it.
  cupy   array work a numerical job does: allocations from the memory pool, elementwise kernels, a
         custom ElementwiseKernel, matmul (cuBLAS), reductions, FFT (cuFFT), host<->device copies and
         stream synchronisation.

Prints '#' lines for people and one machine-readable line:
  RESULT workload=torch total_s=... import_s=... setup_s=... loop_s=... steps=... step_ms=... mono0=... mono1=...
         loop_cpu_s=... cpu_s=... steal_s=...
total_s is the whole process from interpreter start (the wall time a user sees, start-up included);
loop_s is the steady part (after warm-up steps). CPU time, which a busy host disturbs less than wall
time: loop_cpu_s is this process's (all its threads) over the steady loop; cpu_s is this process's
and its reaped children's (the DataLoader workers) from start to the end. steal_s is the time the
hypervisor gave this machine's CPUs to others during the loop (all CPUs, /proc/stat), a measure of
how disturbed the run was. loop_cycles, loop_instr, loop_l1d_miss: this process's user-space
cycles, retired instructions and L1D read misses over the loop (bench/pmu.py; "pmu=unavailable(...)"
where the machine exposes no PMU).
Usage: gpu_bench.py torch|cupy [--steps N] [--warmup N]
"""
import argparse
import os
import resource
import sys
import time

T_START = time.time()
MONO = [0.0, 0.0]  # the steady loop's start and end, CLOCK_MONOTONIC (bench/sampler/report.py --window)
CPU = [0.0, 0.0]   # this process's CPU time at the loop's start and end
STEAL = [0.0, 0.0]  # the machine's steal time (s) at the loop's start and end


def steal_seconds():
    """Steal time of all CPUs so far (the 8th field of /proc/stat's cpu line, in USER_HZ ticks)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / float(os.sysconf("SC_CLK_TCK"))
    except (OSError, IndexError, ValueError):
        return 0.0


PMU = [None]  # bench/pmu.py's window over the steady loop (hardware counters of this process)


def loop_mark(i):
    """The steady loop starts (0) or ends (1): wall clock, CPU time, steal time, hardware counters."""
    if i == 1 and PMU[0]:
        PMU[0].stop()
    MONO[i] = time.monotonic()
    CPU[i] = time.process_time()
    STEAL[i] = steal_seconds()
    if i == 0:
        try:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import pmu
            PMU[0] = pmu.Window()
        except Exception as e:  # counters are extra: never fail the benchmark for them
            print("# pmu: %s" % e, file=sys.stderr)


def proc_start_time():
    """Wall-clock time this process started (from /proc), so total_s includes interpreter start-up."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - (uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return T_START


def bench_torch(steps, warmup):
    t0 = time.time()
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, Dataset
    t_import = time.time() - t0
    if not torch.cuda.is_available():
        print("SKIP: no GPU (torch.cuda.is_available() is False)")
        sys.exit(77)

    class Synthetic(Dataset):
        """CIFAR-sized random images made on the fly in the workers (CPU work per item, as decoding
        and augmentation are)."""

        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i)
            x = torch.rand(3, 32, 32, generator=g)
            if i % 2:
                x = torch.flip(x, dims=[2])  # "augmentation"
            return (x - 0.5) / 0.25, i % 10

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 64, 3, padding=1)
            self.b1 = nn.BatchNorm2d(64)
            self.c2 = nn.Conv2d(64, 128, 3, padding=1)
            self.b2 = nn.BatchNorm2d(128)
            self.c3 = nn.Conv2d(128, 256, 3, padding=1)
            self.b3 = nn.BatchNorm2d(256)
            self.fc = nn.Linear(256, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
            x = F.max_pool2d(F.relu(self.b2(self.c2(x))), 2)
            x = F.relu(self.b3(self.c3(x)))
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    t1 = time.time()
    torch.manual_seed(0)
    batch = 256
    ds = Synthetic(batch * (steps + warmup))
    dl = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=2, pin_memory=True,
                    persistent_workers=False, drop_last=True)
    model = Net().cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t_setup = time.time() - t1
    t_loop0 = None
    n = 0
    last = float("nan")
    for x, y in dl:
        if n == warmup:
            torch.cuda.synchronize()
            t_loop0 = time.time()
            loop_mark(0)
        x, y = x.cuda(non_blocking=True), y.cuda(non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        n += 1
        if n % 20 == 0:
            last = loss.item()
        if n == steps + warmup:
            break
    torch.cuda.synchronize()
    loop = time.time() - t_loop0
    loop_mark(1)
    print("# torch %s, %s, loss %.3f after %d steps" % (torch.__version__, torch.cuda.get_device_name(0), last, n))
    return t_import, t_setup, loop, steps


def bench_cupy(steps, warmup):
    t0 = time.time()
    import cupy as cp
    t_import = time.time() - t0
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("no device")
    except Exception as e:  # noqa: BLE001 - any failure here means no usable GPU
        print("SKIP: no GPU (%s)" % e)
        sys.exit(77)
    t1 = time.time()
    saxpy = cp.ElementwiseKernel("float32 a, float32 x, float32 y", "float32 z", "z = a * x + y", "saxpy")
    rng = cp.random.default_rng(0)
    host = rng.standard_normal((512, 512), dtype=cp.float32).get()
    t_setup = time.time() - t1
    t_loop0 = None
    acc = 0.0
    for n in range(steps + warmup):
        if n == warmup:
            cp.cuda.Device().synchronize()
            t_loop0 = time.time()
            loop_mark(0)
        a = cp.asarray(host)                       # host -> device copy, pool allocation
        b = rng.standard_normal((512, 512), dtype=cp.float32)
        c = saxpy(cp.float32(0.5), a, b)           # custom kernel
        d = c @ a                                  # cuBLAS
        e = cp.fft.rfft2(d)                        # cuFFT
        f = cp.tanh(d[:, :256]) * cp.abs(e[:, :256]).astype(cp.float32)
        acc += float(f.sum())                      # reduction + device -> host copy + sync
        del a, b, c, d, e, f
    cp.cuda.Device().synchronize()
    loop = time.time() - t_loop0
    loop_mark(1)
    print("# cupy %s, checksum %.3g" % (cp.__version__, acc))
    return t_import, t_setup, loop, steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=["torch", "cupy"])
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=10)
    args = ap.parse_args()
    steps = args.steps or {"torch": 400, "cupy": 1500}[args.workload]
    t_import, t_setup, loop, steps = (bench_torch if args.workload == "torch" else bench_cupy)(steps, args.warmup)
    total = time.time() - proc_start_time()
    cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    print("RESULT workload=%s total_s=%.3f import_s=%.3f setup_s=%.3f loop_s=%.3f steps=%d step_ms=%.3f "
          "mono0=%.3f mono1=%.3f loop_cpu_s=%.3f cpu_s=%.3f steal_s=%.3f %s" %
          (args.workload, total, t_import, t_setup, loop, steps, 1000.0 * loop / steps, MONO[0], MONO[1],
           CPU[1] - CPU[0], cpu, STEAL[1] - STEAL[0],
           PMU[0].fields() if PMU[0] else "pmu=unavailable(no_window)"), flush=True)


if __name__ == "__main__":
    main()
