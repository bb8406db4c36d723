// Anonymous pipes: pipe2() with O_CLOEXEC, and the pipe capacity (F_GETPIPE_SZ / F_SETPIPE_SZ).
#include <fcntl.h>
#include <unistd.h>
#include "common.h"

namespace ipc {

// pipe2(flags?) -> [readFd, writeFd]. O_CLOEXEC is always set: a pipe reaches a child only when
// it is passed explicitly (spawn dup2()s it, which clears the flag on the child's copy). These
// fds are not owned by native: they are handed over to streams (net.Socket) or to a child.
static Napi::Value Pipe2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int flags = O_CLOEXEC;
  if (info.Length() > 0 && !info[0].IsUndefined()) flags |= ArgInt(info, 0, "flags");
  int fds[2];
  if (pipe2(fds, flags) != 0) ThrowErrno(env, "pipe2", errno);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, fds[0]));
  out.Set(1u, Napi::Number::New(env, fds[1]));
  return out;
}

static Napi::Value GetPipeSize(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int size = fcntl(fd, F_GETPIPE_SZ);
  if (size < 0) ThrowErrno(info.Env(), "fcntl", errno);
  return Napi::Number::New(info.Env(), size);
}

// Returns the capacity the kernel granted (it rounds up to a power of two pages).
static Napi::Value SetPipeSize(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int want = ArgInt(info, 1, "size", 0);
  int size = fcntl(fd, F_SETPIPE_SZ, want);
  if (size < 0) ThrowErrno(info.Env(), "fcntl", errno);
  return Napi::Number::New(info.Env(), size);
}

// setCloexec(fd, on): FD_CLOEXEC on an inherited fd, so it does not leak into grandchildren.
static Napi::Value SetCloexec(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  bool on = ArgBool(info, 1, "on", true);
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) ThrowErrno(info.Env(), "fcntl", errno);
  int next = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
  if (next != flags && fcntl(fd, F_SETFD, next) < 0) ThrowErrno(info.Env(), "fcntl", errno);
  return info.Env().Undefined();
}

void InitPipe(Napi::Env env, Napi::Object exports) {
  SetFunctions(env, exports, {{"pipe2", Pipe2}, {"getPipeSize", GetPipeSize}, {"setPipeSize", SetPipeSize}, {"setCloexec", SetCloexec}});
  exports.Set("O_NONBLOCK", Napi::Number::New(env, O_NONBLOCK));
  exports.Set("PIPE_BUF", Napi::Number::New(env, PIPE_BUF));
}

}  // namespace ipc
