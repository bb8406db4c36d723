// Shared helpers for the addon: errno -> JS error with `code` and `syscall`, as Node's fs errors,
// and the argument checks every exported function uses (a bad argument is a TypeError or a
// RangeError, never a crash or a silently coerced value).
#pragma once
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

namespace ipc {

// The errno's name: libuv's (what Node's own errors use) when libuv knows it, else glibc's
// (libuv has no name for EIDRM, ESTALE, ENOMSG, ...).
inline std::string ErrnoName(int err) {
  char buf[64];
  uv_err_name_r(-err, buf, sizeof(buf));
  if (std::strncmp(buf, "Unknown", 7) != 0) return buf;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* name = strerrorname_np(err)) return name;
#endif
  switch (err) {
    case EIDRM:
      return "EIDRM";
    case ESTALE:
      return "ESTALE";
    case ENOMSG:
      return "ENOMSG";
    default:
      return buf;
  }
}

// Builds an Error like Node's with the N-API C calls only (usable while the environment is being
// torn down): message "syscall: CODE (strerror)", with .code, .errno (negative, as Node's) and
// .syscall. Returns nullptr if the error cannot be made (the environment cannot run JS any more).
inline napi_value ErrnoErrorValue(napi_env env, const char* syscall, int err) {
  std::string code = ErrnoName(err);
  std::string msg = std::string(syscall) + ": " + code + " (" + std::strerror(err) + ")";
  napi_value js_code, js_msg, js_errno, js_syscall, error;
  if (napi_create_string_utf8(env, code.c_str(), code.size(), &js_code) != napi_ok) return nullptr;
  if (napi_create_string_utf8(env, msg.c_str(), msg.size(), &js_msg) != napi_ok) return nullptr;
  if (napi_create_error(env, js_code, js_msg, &error) != napi_ok) return nullptr;
  if (napi_create_int32(env, -err, &js_errno) != napi_ok) return nullptr;
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &js_syscall) != napi_ok) return nullptr;
  if (napi_set_named_property(env, error, "errno", js_errno) != napi_ok) return nullptr;
  if (napi_set_named_property(env, error, "syscall", js_syscall) != napi_ok) return nullptr;
  return error;
}

// The same Error for throwing from a call made by JS.
inline Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err) {
  napi_value e = ErrnoErrorValue(env, syscall, err);
  if (e == nullptr) return Napi::Error::New(env, std::string(syscall) + " failed");
  return Napi::Error(env, e);
}

[[noreturn]] inline void ThrowErrno(Napi::Env env, const char* syscall, int err) { throw ErrnoError(env, syscall, err); }

// ---- Arguments. A value of the wrong type throws a TypeError (code ERR_INVALID_ARG_TYPE), a
// number out of range or not an integer a RangeError (code ERR_OUT_OF_RANGE), as Node's own APIs.

[[noreturn]] inline void ThrowArgType(Napi::Env env, const char* what, const char* expected) {
  Napi::TypeError e = Napi::TypeError::New(env, std::string(what) + " must be " + expected);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  throw e;
}

[[noreturn]] inline void ThrowArgRange(Napi::Env env, const char* what, const std::string& range) {
  Napi::RangeError e = Napi::RangeError::New(env, std::string(what) + " must be " + range);
  e.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
  throw e;
}

// Largest integer a JS number holds exactly (Number.MAX_SAFE_INTEGER).
constexpr int64_t kMaxSafeInteger = 9007199254740991LL;

// An integer in [min, max] (both within the safe-integer range).
inline int64_t ArgLong(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t min = -kMaxSafeInteger, int64_t max = kMaxSafeInteger) {
  if (info.Length() <= i || !info[i].IsNumber()) ThrowArgType(info.Env(), what, "a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || std::trunc(v) != v || v < static_cast<double>(min) || v > static_cast<double>(max)) {
    ThrowArgRange(info.Env(), what, "an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return static_cast<int64_t>(v);
}

// An integer in [min, max] that fits an int (an fd, flags, a size the kernel takes as int).
inline int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what, int min = INT32_MIN, int max = INT32_MAX) {
  return static_cast<int>(ArgLong(info, i, what, min, max));
}

// An fd: an integer from 0 to INT32_MAX.
inline int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* what = "fd") { return ArgInt(info, i, what, 0); }

// An optional boolean (undefined gives `otherwise`).
inline bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* what, bool otherwise) {
  if (info.Length() <= i || info[i].IsUndefined()) return otherwise;
  if (!info[i].IsBoolean()) ThrowArgType(info.Env(), what, "a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

// Bytes: a Uint8Array (a Buffer is one).
inline Napi::Uint8Array ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowArgType(info.Env(), what, "a Uint8Array");
  }
  return info[i].As<Napi::Uint8Array>();
}

inline Napi::Function ArgFunction(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsFunction()) ThrowArgType(info.Env(), what, "a function");
  return info[i].As<Napi::Function>();
}

// A string the kernel takes as a C string (no NUL inside).
inline std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) ThrowArgType(info.Env(), what, "a string");
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) {
    Napi::TypeError e = Napi::TypeError::New(info.Env(), std::string(what) + " must not contain NUL");
    e.Set("code", Napi::String::New(info.Env(), "ERR_INVALID_ARG_VALUE"));
    throw e;
  }
  return s;
}

// A filesystem path.
inline std::string ArgPath(const Napi::CallbackInfo& info, size_t i) { return ArgString(info, i, "path"); }

// A POSIX IPC object name (mq_open, mq_unlink).
inline std::string ArgName(const Napi::CallbackInfo& info, size_t i) { return ArgString(info, i, "name"); }

// A module function for SetFunctions: its JS name and its C++ implementation.
struct NamedFunction {
  const char* name;
  Napi::Value (*call)(const Napi::CallbackInfo&);
};

// Adds each function to `exports` under its name.
inline void SetFunctions(Napi::Env env, Napi::Object exports, std::initializer_list<NamedFunction> functions) {
  for (const NamedFunction& f : functions) exports.Set(f.name, Napi::Function::New(env, f.call, f.name));
}

// A named integer constant for Constants().
struct NamedConstant {
  const char* name;
  double value;
};

// An object holding these constants (e.g. the O_* flags a call takes).
inline Napi::Object Constants(Napi::Env env, std::initializer_list<NamedConstant> constants) {
  Napi::Object out = Napi::Object::New(env);
  for (const NamedConstant& c : constants) out.Set(c.name, Napi::Number::New(env, c.value));
  return out;
}

// Each mechanism file exports an Init function that adds its functions to `exports`. InitEnv
// (env.cc) runs first: it installs the per-environment registry the others use.
void InitEnv(Napi::Env env, Napi::Object exports);
void InitPipe(Napi::Env env, Napi::Object exports);
void InitPidfd(Napi::Env env, Napi::Object exports);
void InitSocket(Napi::Env env, Napi::Object exports);
void InitFifo(Napi::Env env, Napi::Object exports);
void InitPoll(Napi::Env env, Napi::Object exports);
void InitFd(Napi::Env env, Napi::Object exports);
void InitMark(Napi::Env env, Napi::Object exports);
void InitMq(Napi::Env env, Napi::Object exports);
void InitSysv(Napi::Env env, Napi::Object exports);
void InitShm(Napi::Env env, Napi::Object exports);
void InitSem(Napi::Env env, Napi::Object exports);
void InitSignal(Napi::Env env, Napi::Object exports);

}  // namespace ipc
