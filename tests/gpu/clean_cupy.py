"""clean_cupy.py — CuPy: elementwise ops, a reduction, a RawKernel (NVRTC), a non-blocking stream,
and two Python threads using the GPU at once. Expected PASS, no locksan report."""
import sys
import threading

try:
    import cupy as cp
except ImportError as e:
    print("SKIP: cupy not installed (%s)" % e)
    sys.exit(0)
try:
    cp.cuda.runtime.getDeviceCount()
except Exception as e:  # noqa: BLE001
    print("SKIP: no GPU (%s)" % e)
    sys.exit(0)

n = 1 << 20
a = cp.arange(n, dtype=cp.float32)
assert float((a * 2).sum()) == float(n * (n - 1))
add1 = cp.RawKernel(r'''
extern "C" __global__ void add1(float* x, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] += 1.0f;
}''', "add1")
add1(((n + 255) // 256,), (256,), (a, cp.int32(n)))
assert float(a[0]) == 1.0
s = cp.cuda.Stream(non_blocking=True)
with s:
    m = cp.random.rand(256, 256, dtype=cp.float32)
    r = m @ m
s.synchronize()
errors = []


def worker(k):
    try:
        cp.cuda.Device(0).use()
        x = cp.full(1000, k, dtype=cp.float64)
        for _ in range(50):
            x = x * 1.0 + 0.0
        assert float(x.sum()) == 1000.0 * k
    except Exception as e:  # noqa: BLE001
        errors.append(repr(e))


ts = [threading.Thread(target=worker, args=(k,)) for k in range(1, 3)]
for t in ts:
    t.start()
for t in ts:
    t.join()
cp.cuda.Device().synchronize()
if errors:
    print("FAIL:", errors)
    sys.exit(1)
print("cupy %s" % cp.__version__)
print("PASS")
