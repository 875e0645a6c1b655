// Non-Linux stub: network namespaces, SO_MARK and SO_ORIGINAL_DST are Linux
// only. The module loads and exports nothing, so the TypeScript side reports
// CNI_ERR_ADDON_UNAVAILABLE instead of failing at install time.
#include <node_api.h>

static napi_value init(napi_env env, napi_value exports) {
  (void)env;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
