// How native code calls into JS: every native -> JS callback (a uv_poll event, a thread's report
// through a thread-safe function) goes through CallJs. It uses the N-API C calls and checks every
// status, so it never raises a C++ exception or a fatal error: while an environment is being torn
// down (worker.terminate(), process exit) calls into JS fail, and CallJs then just returns false.
// A JS exception the callback throws in a live environment is reported as uncaught
// (napi_fatal_exception), as a JS callback of Node's own would be.
#pragma once
#include <node_api.h>

#include <cstddef>
#include <cstdint>

namespace ipc {

// A handle scope for values made in a libuv callback (the TSFN dispatcher opens its own).
class ValueScope {
 public:
  explicit ValueScope(napi_env env) : env_(env) {
    if (napi_open_handle_scope(env, &scope_) != napi_ok) scope_ = nullptr;
  }
  ~ValueScope() {
    if (scope_ != nullptr) napi_close_handle_scope(env_, scope_);
  }
  bool ok() const { return scope_ != nullptr; }
  ValueScope(const ValueScope&) = delete;
  ValueScope& operator=(const ValueScope&) = delete;

 private:
  napi_env env_;
  napi_handle_scope scope_ = nullptr;
};

// Where the call comes from.
enum class From {
  // A libuv callback (uv_poll): no JS on the stack, so the call is made with napi_make_callback,
  // which runs the microtasks and process.nextTick queue afterwards.
  kLoop,
  // A thread-safe function's call_js: Node has opened a callback scope for it already.
  kThreadsafeFunction,
};

// Calls fn(argv...). Returns true if it returned normally.
inline bool CallJs(napi_env env, From from, napi_value fn, size_t argc, const napi_value* argv) {
  if (env == nullptr || fn == nullptr) return false;
  for (size_t i = 0; i < argc; i++) {
    if (argv[i] == nullptr) return false;  // a value could not be made: the env cannot run JS
  }
  napi_value recv = nullptr;
  napi_value result = nullptr;
  napi_status status;
  if (from == From::kLoop) {
    if (napi_get_global(env, &recv) != napi_ok) return false;
    status = napi_make_callback(env, nullptr, recv, fn, argc, argv, &result);
  } else {
    if (napi_get_undefined(env, &recv) != napi_ok) return false;
    status = napi_call_function(env, recv, fn, argc, argv, &result);
  }
  if (status == napi_ok) return true;
  // Either the callback threw (report it as uncaught), or the env is terminating (the call was
  // refused or cut short; nothing is pending, or reporting fails harmlessly because
  // napi_fatal_exception refuses to run when the env cannot call into JS).
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value error = nullptr;
    if (napi_get_and_clear_last_exception(env, &error) == napi_ok && error != nullptr) napi_fatal_exception(env, error);
  }
  return false;
}

// Values for callback arguments, nullptr when they cannot be made (CallJs then does nothing).
inline napi_value JsInt(napi_env env, int32_t v) {
  napi_value out = nullptr;
  return napi_create_int32(env, v, &out) == napi_ok ? out : nullptr;
}

inline napi_value JsNumber(napi_env env, double v) {
  napi_value out = nullptr;
  return napi_create_double(env, v, &out) == napi_ok ? out : nullptr;
}

inline napi_value JsNull(napi_env env) {
  napi_value out = nullptr;
  return napi_get_null(env, &out) == napi_ok ? out : nullptr;
}

inline napi_value JsBufferCopy(napi_env env, const void* data, size_t len) {
  napi_value out = nullptr;
  void* copy = nullptr;
  return napi_create_buffer_copy(env, len, data, &copy, &out) == napi_ok ? out : nullptr;
}

// The function a reference holds (nullptr if it is empty or gone).
inline napi_value JsRef(napi_env env, napi_ref ref) {
  napi_value out = nullptr;
  if (ref == nullptr || napi_get_reference_value(env, ref, &out) != napi_ok) return nullptr;
  return out;
}

}  // namespace ipc
