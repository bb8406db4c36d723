// Process-exit notification: pidfd_open(). A pidfd becomes readable when the process exits (a
// zombie counts); @ipc/native's PidWatcher waits for that with an FdWatcher on the event loop,
// with no polling timer and no thread. Pidfds are owned by native (closed with their environment
// unless closed before with closeFd).
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "env.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace ipc {

// pidfdOpen(pid) -> fd (O_CLOEXEC is implied for pidfds).
static Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  int pid = ArgInt(info, 0, "pid", 1);
  std::shared_ptr<EnvState> state = EnvState::Of(info.Env());
  int fd;
  do {
    fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) ThrowErrno(info.Env(), "pidfd_open", errno);
  state->TrackFd(fd);
  return Napi::Number::New(info.Env(), fd);
}

// readableNow(fd) -> true if fd is readable at this moment (poll with a zero timeout).
static Napi::Value ReadableNow(const Napi::CallbackInfo& info) {
  struct pollfd p = {ArgFd(info, 0), POLLIN, 0};
  int rc;
  do {
    rc = poll(&p, 1, 0);
  } while (rc < 0 && errno == EINTR);  // a signal (SIGCHLD of a child that died) is no answer
  if (rc < 0) ThrowErrno(info.Env(), "poll", errno);
  return Napi::Boolean::New(info.Env(), rc > 0);
}

void InitPidfd(Napi::Env env, Napi::Object exports) { SetFunctions(env, exports, {{"pidfdOpen", PidfdOpen}, {"readableNow", ReadableNow}}); }

}  // namespace ipc
