// fakecupti.c -- a stand-in for libcupti (built by run_py_e2e.py as <workdir>/fakecuda_cupti/libcupti.so.13
// when the CUPTI headers are there), so that locksan's CUPTI path runs on a machine without a GPU:
// locksan finds it (LOCKSAN_CUPTI_PATH), subscribes and enables the driver-API domain as it does with
// the real library, and the stand-in driver (fakecuda.c, built with the soname libcuda.so.1) reports
// its calls' entries and exits through fakecupti_driver_api, as the real driver reports them to CUPTI.
// One subscriber at a time, as CUPTI allows (a second gets error 39). Per-callback enabling is kept
// (cuda_calls=adaptive turns quiet functions off); the callback ids are the headers' own.
#include <cupti_callbacks.h>
#include <cupti_driver_cbid.h>
#include <cupti_result.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static CUpti_CallbackFunc g_callback;
static void* g_userdata;
static int g_subscribed, g_domain_on;
static unsigned char g_off[8192];  // per callback id: turned off by cuptiEnableCallback(0, ...)
static int g_handle;               // the subscriber handle points here

static const struct {
  CUpti_CallbackId cbid;
  const char* name;
} kCalls[] = {
    {CUPTI_DRIVER_TRACE_CBID_cuOccupancyMaxPotentialBlockSize, "cuOccupancyMaxPotentialBlockSize"},
    {CUPTI_DRIVER_TRACE_CBID_cuStreamSynchronize, "cuStreamSynchronize"},
    {CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2, "cuMemAlloc_v2"},
    {CUPTI_DRIVER_TRACE_CBID_cuCtxGetCurrent, "cuCtxGetCurrent"},
};

EXPORT CUptiResult cuptiSubscribe(CUpti_SubscriberHandle* subscriber, CUpti_CallbackFunc callback, void* userdata) {
  if (g_subscribed) return CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED;
  g_callback = callback;
  g_userdata = userdata;
  g_subscribed = 1;
  *subscriber = (CUpti_SubscriberHandle)&g_handle;
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiUnsubscribe(CUpti_SubscriberHandle subscriber) {
  if (!g_subscribed || subscriber != (CUpti_SubscriberHandle)&g_handle) return CUPTI_ERROR_INVALID_PARAMETER;
  g_subscribed = 0;
  g_domain_on = 0;
  g_callback = 0;
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiEnableDomain(uint32_t enable, CUpti_SubscriberHandle subscriber, CUpti_CallbackDomain domain) {
  if (!g_subscribed || subscriber != (CUpti_SubscriberHandle)&g_handle) return CUPTI_ERROR_INVALID_PARAMETER;
  if (domain == CUPTI_CB_DOMAIN_DRIVER_API) {
    g_domain_on = enable != 0;
    memset(g_off, 0, sizeof g_off);
  }
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiEnableCallback(uint32_t enable, CUpti_SubscriberHandle subscriber, CUpti_CallbackDomain domain,
                                       CUpti_CallbackId cbid) {
  if (!g_subscribed || subscriber != (CUpti_SubscriberHandle)&g_handle) return CUPTI_ERROR_INVALID_PARAMETER;
  if (domain != CUPTI_CB_DOMAIN_DRIVER_API || cbid >= sizeof g_off) return CUPTI_ERROR_INVALID_PARAMETER;
  g_off[cbid] = enable == 0;
  return CUPTI_SUCCESS;
}

EXPORT CUptiResult cuptiGetCallbackName(CUpti_CallbackDomain domain, uint32_t cbid, const char** name) {
  if (domain != CUPTI_CB_DOMAIN_DRIVER_API) return CUPTI_ERROR_INVALID_PARAMETER;
  for (size_t i = 0; i < sizeof kCalls / sizeof kCalls[0]; i++)
    if (kCalls[i].cbid == cbid) {
      *name = kCalls[i].name;
      return CUPTI_SUCCESS;
    }
  return CUPTI_ERROR_INVALID_PARAMETER;
}

EXPORT CUptiResult cuptiGetResultString(CUptiResult result, const char** str) {
  *str = result == CUPTI_SUCCESS ? "CUPTI_SUCCESS (fake)" : "CUPTI error (fake)";
  return CUPTI_SUCCESS;
}

// The driver's side: the call `name` (one of kCalls) is entered (enter = 1) or left (0) by the calling
// thread. Returns 0, or -1 for a name this stand-in does not know.
EXPORT int fakecupti_driver_api(int enter, const char* name) {
  for (size_t i = 0; i < sizeof kCalls / sizeof kCalls[0]; i++) {
    if (strcmp(kCalls[i].name, name) != 0) continue;
    CUpti_CallbackId cbid = kCalls[i].cbid;
    CUpti_CallbackFunc cb = g_callback;
    if (!cb || !g_domain_on || g_off[cbid]) return 0;
    CUpti_CallbackData d;
    memset(&d, 0, sizeof d);
    d.callbackSite = enter ? CUPTI_API_ENTER : CUPTI_API_EXIT;
    d.functionName = kCalls[i].name;
    cb(g_userdata, CUPTI_CB_DOMAIN_DRIVER_API, cbid, &d);
    return 0;
  }
  return -1;
}
