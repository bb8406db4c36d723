// Process-exit notification: pidfd_open(). A pidfd becomes readable when the process exits (a
// zombie counts); @ipc/native's PidWatcher waits for that with an FdWatcher on the event loop,
// with no polling timer and no thread.
#include "common.h"
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace ipc {

// pidfdOpen(pid) -> fd (O_CLOEXEC is implied for pidfds).
static Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  int pid = ArgInt(info, 0, "pid");
  if (pid <= 0) throw Napi::RangeError::New(info.Env(), "pid must be positive");
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) ThrowErrno(info.Env(), "pidfd_open", errno);
  return Napi::Number::New(info.Env(), fd);
}

// readableNow(fd) -> true if fd is readable at this moment (poll with a zero timeout).
static Napi::Value ReadableNow(const Napi::CallbackInfo& info) {
  struct pollfd p = {ArgInt(info, 0, "fd"), POLLIN, 0};
  int rc = poll(&p, 1, 0);
  if (rc < 0) ThrowErrno(info.Env(), "poll", errno);
  return Napi::Boolean::New(info.Env(), rc > 0);
}

void InitPidfd(Napi::Env env, Napi::Object exports) {
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("readableNow", Napi::Function::New(env, ReadableNow, "readableNow"));
}

}  // namespace ipc
