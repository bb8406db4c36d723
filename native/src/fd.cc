// Descriptors native opens and owns: closeFd (how JS closes them: fs.closeSync in a Worker warns
// about fds it did not open, and would leave them tracked), openFd (a file opened so that it is
// closed with its environment, e.g. a lock file), and flock() on any fd.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "env.h"

namespace ipc {

// closeFd(fd): close(fd), and native forgets it. EBADF if it is not open.
static Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  EnvState::UntrackFd(fd);
  if (close(fd) != 0 && errno != EINTR) ThrowErrno(info.Env(), "close", errno);  // EINTR: closed anyway
  return info.Env().Undefined();
}

// openFd(path, flags, mode) -> fd, opened with O_CLOEXEC added and owned by native: closed with
// its environment unless closed before with closeFd.
static Napi::Value OpenFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgPath(info, 0);
  int flags = ArgInt(info, 1, "flags");
  int mode = ArgInt(info, 2, "mode", 0, 07777);
  std::shared_ptr<EnvState> state = EnvState::Of(env);
  int fd;
  do {
    fd = open(path.c_str(), flags | O_CLOEXEC, static_cast<mode_t>(mode));
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) ThrowErrno(env, "open", errno);
  state->TrackFd(fd);
  return Napi::Number::New(env, fd);
}

// disownFd(fd) -> fd: native forgets a descriptor it opened (openFd) without closing it: its
// ownership passes to a libuv stream (a net.Socket), which closes it.
static Napi::Value DisownFd(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  EnvState::UntrackFd(fd);
  return Napi::Number::New(info.Env(), fd);
}

// lockExclusive(fd) -> true if this open file now holds flock(LOCK_EX) on fd, false if another
// holds it. The kernel drops the lock when the open file is closed (its owner died, or closed it).
static Napi::Value LockExclusive(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), "flock", errno);
  }
  return Napi::Boolean::New(info.Env(), true);
}

void InitFd(Napi::Env env, Napi::Object exports) {
  SetFunctions(env, exports, {{"closeFd", CloseFd}, {"openFd", OpenFd}, {"disownFd", DisownFd}, {"lockExclusive", LockExclusive}});
  exports.Set("fdConstants", Constants(env, {{"O_RDONLY", O_RDONLY},
                                             {"O_WRONLY", O_WRONLY},
                                             {"O_RDWR", O_RDWR},
                                             {"O_CREAT", O_CREAT},
                                             {"O_EXCL", O_EXCL},
                                             {"O_TRUNC", O_TRUNC},
                                             {"O_APPEND", O_APPEND},
                                             {"O_NOFOLLOW", O_NOFOLLOW},
                                             {"O_NONBLOCK", O_NONBLOCK},
                                             {"O_CLOEXEC", O_CLOEXEC},
                                             {"O_DIRECTORY", O_DIRECTORY},
                                             {"O_NOCTTY", O_NOCTTY}}));
}

}  // namespace ipc
