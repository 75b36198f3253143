/* Helpers the addon's files share (defined in netns_native.c). */
#ifndef CNI_TS_NATIVE_H
#define CNI_TS_NATIVE_H
#include <node_api.h>
#include <stdint.h>

napi_value native_throw_errno(napi_env env, int err, const char *what);
int native_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);
int native_int(napi_env env, napi_value v, int32_t *out);
int native_path(napi_env env, napi_value v, char *out, size_t size, const char *what);
/* a Buffer's bytes; otherwise a TypeError "expected a Buffer" */
int native_buffer(napi_env env, napi_value v, void **data, size_t *len);
napi_value native_make_int(napi_env env, int32_t v);
typedef struct { const char *name; napi_callback fn; } native_fn;
void native_export_all(napi_env env, napi_value exports, const native_fn *fns, size_t n);
void native_register_files(napi_env env, napi_value exports);
void native_register_sockets(napi_env env, napi_value exports);
void native_register_agent(napi_env env, napi_value exports);
/* (sockets.c) CLOCK_MONOTONIC in ms; wait for `events` on fd until the deadline: 0, ETIMEDOUT or an errno */
long long native_now_ms(void);
int native_wait_fd(int fd, short events, long long deadline);
/* enter a network namespace on this thread (remembering the old one in *saved; 0 or an errno),
   and return to it (aborts if it cannot: this thread must not run JS elsewhere) */
int native_enter(int fd, int *saved);
void native_leave(int saved);
#endif
