"""profiler_torch.py — torch.profiler with CUDA activity. Expected PASS: the profile contains CUDA
kernel events. Under locksan this checks that locksan does not take CUPTI away from the profiler
(locksan gives CUPTI up when Kineto subscribes; with LOCKSAN_CUPTI_YIELD=0 it keeps it and the
profiler loses its CUDA events — that run is expected to FAIL)."""
import os
import sys

import torch
from torch.profiler import ProfilerActivity, profile


def cupti_maps():
    with open("/proc/self/maps") as f:
        return sorted({l.split()[-1] for l in f if "libcupti" in l})


if not torch.cuda.is_available():
    print("SKIP: no GPU")
    sys.exit(0)
print("FACT: libcupti mapped after import torch: %s" % (cupti_maps() or "none"))
x = torch.randn(512, 512, device="cuda")
torch.cuda.synchronize()
print("FACT: libcupti mapped after CUDA init: %s" % (cupti_maps() or "none"))
with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
    for _ in range(5):
        y = x @ x
    torch.cuda.synchronize()
cuda_events = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
print("FACT: libcupti mapped after profiling: %s" % (cupti_maps() or "none"))
print("profiler: %d events, %d CUDA events" % (len(prof.events()), len(cuda_events)))
copies = cupti_maps()
if os.environ.get("LOCKSAN_TEST_ONE_CUPTI") == "1" and len(copies) > 1:
    print("FAIL: %d libcupti copies in the process: %s" % (len(copies), copies))
    sys.exit(3)
if not cuda_events:
    print("FAIL: the profiler recorded no CUDA events")
    sys.exit(2)
print("PASS")
