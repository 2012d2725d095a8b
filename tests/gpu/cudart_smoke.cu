// tests/gpu/cudart_smoke.cu — the runtime API (static cudart) under LD_PRELOAD=libsmoke_preload.so:
// cudart reaches the driver through cuGetProcAddress pointers; the tracker must still see the calls.
// Exit 0 PASS (or "SKIP: ..."), 1 FAIL.
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

__global__ void smoke_kernel(int* out) { out[threadIdx.x] = threadIdx.x; }

static long g_host_tid = 0;
static void CUDART_CB HostFn(void*) { g_host_tid = syscall(SYS_gettid); }

int main() {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  auto counts = reinterpret_cast<void (*)(uint64_t*, uint64_t*, uint64_t*, uint64_t*)>(
      dlsym(RTLD_DEFAULT, "locksan_stub_counts"));
  auto names = reinterpret_cast<const char* (*)(int)>(dlsym(RTLD_DEFAULT, "locksan_stub_names"));
  auto last_symbol = reinterpret_cast<const char* (*)()>(dlsym(RTLD_DEFAULT, "locksan_stub_last_symbol"));
  auto status = reinterpret_cast<const char* (*)()>(dlsym(RTLD_DEFAULT, "locksan_stub_tracker_status"));
  if (!counts || !names || !last_symbol || !status) {
    printf("FAIL: run under LD_PRELOAD=libsmoke_preload.so\n");
    return 1;
  }
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    printf("SKIP: no GPU (%s)\n", cudaGetErrorString(cudaGetLastError()));
    return 0;
  }
  int* d = nullptr;
  cudaMalloc(&d, 1024);
  int grid = 0, block = 0;
  cudaOccupancyMaxPotentialBlockSize(&grid, &block, smoke_kernel, 0, 0);
  smoke_kernel<<<1, 32>>>(d);
  cudaLaunchHostFunc(0, HostFn, nullptr);
  cudaStream_t s;
  cudaStreamCreate(&s);
  smoke_kernel<<<1, 32, 0, s>>>(d);
  cudaStreamSynchronize(s);
  cudaStreamDestroy(s);
  cudaDeviceSynchronize();
  int h[32];
  cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost);
  cudaFree(d);
  cudaError_t err = cudaGetLastError();
  uint64_t e, x, xw, mm;
  counts(&e, &x, &xw, &mm);
  const char* sym = last_symbol();
  printf("status: %s\n", status());
  printf("counts: enter=%llu exit=%llu exit_without_enter=%llu cbid_mismatch=%llu\n",
         (unsigned long long)e, (unsigned long long)x, (unsigned long long)xw, (unsigned long long)mm);
  printf("names: %s\n", names(30));
  printf("FACT: last launch symbolName via cudart: %s; host fn tid %ld, main tid %ld\n",
         sym ? sym : "(null)", g_host_tid, (long)syscall(SYS_gettid));
  bool ok = err == cudaSuccess && h[5] == 5 && e > 10 && e == x && xw == 0 && mm == 0 && sym &&
            strstr(sym, "smoke_kernel");
  printf("%s\n", ok ? "PASS" : "FAIL: see above");
  return ok ? 0 : 1;
}
