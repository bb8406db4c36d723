// Shared helpers for the addon: errno -> JS error with `code` and `syscall`, as Node's fs errors.
#pragma once
#include <napi.h>
#include <uv.h>
#include <cerrno>
#include <cstring>
#include <string>

namespace ipc {

// Builds an Error like Node's: message "syscall: CODE (strerror)", with .code, .errno, .syscall.
inline Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err) {
  const char* code = uv_err_name(-err);
  std::string msg = std::string(syscall) + ": " + code + " (" + std::strerror(err) + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

[[noreturn]] inline void ThrowErrno(Napi::Env env, const char* syscall, int err) {
  throw ErrnoError(env, syscall, err);
}

inline int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  }
  return info[i].As<Napi::Number>().Int32Value();
}

// Each mechanism file exports an Init function that adds its functions to `exports`.
void InitPipe(Napi::Env env, Napi::Object exports);
void InitPidfd(Napi::Env env, Napi::Object exports);
void InitSocket(Napi::Env env, Napi::Object exports);
void InitFifo(Napi::Env env, Napi::Object exports);
void InitPoll(Napi::Env env, Napi::Object exports);
void InitMq(Napi::Env env, Napi::Object exports);

}  // namespace ipc
