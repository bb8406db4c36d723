// Liveness marks: an owner mark that ends with its owner (a process, or a Worker: its environment)
// and that another side observes without polling. The mark is a pipe nobody writes to: the owner
// keeps both ends (the write end is what keeps it alive); an observer opens the read end through
// /proc/<pid>/fd/<fd> (a new reader of the same pipe) and watches it with uv_poll. When the last
// write end closes (release(), the owner's environment or process ends), the observer's read end
// reports POLLHUP and read() returns 0: the mark is gone.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "callback.h"
#include "poll.h"

namespace ipc {

// new LivenessMark(): { pid, fd, ino } name it; release() ends it (idempotent). It is not ended
// when the JS object is collected: it lives until release() or the end of its environment.
class LivenessMark : public Napi::ObjectWrap<LivenessMark> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "LivenessMark",
                       {
                           InstanceAccessor<&LivenessMark::Pid>("pid"),
                           InstanceAccessor<&LivenessMark::Fd>("fd"),
                           InstanceAccessor<&LivenessMark::Ino>("ino"),
                           InstanceMethod<&LivenessMark::ReleaseMark>("release"),
                       });
  }

  LivenessMark(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LivenessMark>(info) {
    Napi::Env env = info.Env();
    state_ = EnvState::Of(env);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) ThrowErrno(env, "pipe2", errno);
    struct stat st;
    if (fstat(fds[0], &st) != 0) {
      int err = errno;
      close(fds[0]);
      close(fds[1]);
      ThrowErrno(env, "fstat", err);
    }
    read_ = fds[0];
    write_ = fds[1];
    ino_ = static_cast<double>(st.st_ino);
    pid_ = getpid();
    state_->TrackFd(read_);
    state_->TrackFd(write_);
  }

 private:
  Napi::Value Pid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), pid_); }
  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), read_); }
  Napi::Value Ino(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ino_); }

  Napi::Value ReleaseMark(const Napi::CallbackInfo& info) {
    if (!released_) {
      released_ = true;
      state_->CloseTrackedFd(write_);
      state_->CloseTrackedFd(read_);
    }
    return info.Env().Undefined();
  }

  std::shared_ptr<EnvState> state_;
  int read_ = -1;
  int write_ = -1;
  double ino_ = 0;
  int pid_ = 0;
  bool released_ = false;
};

// new MarkWatcher(pid, fd, ino, onGone()): watches the mark { pid, fd, ino }; onGone runs once,
// on the event loop, when it ends (also if polling it fails: it cannot be watched any longer).
// Unref'd by default; it lives until it fires or is closed, referenced or not. Throws errno errors (syscall "open"): ENOENT when the owner process or its
// mark is gone already, EACCES/EPERM when /proc/<pid>/fd cannot be opened (another user, a
// non-dumpable process, no shared pid namespace), ESTALE when /proc/<pid>/fd/<fd> is not that
// pipe (the fd number was reused).
class MarkWatcher : public Napi::ObjectWrap<MarkWatcher>, public Resource {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "MarkWatcher",
                       {
                           InstanceMethod<&MarkWatcher::Close>("close"),
                           InstanceMethod<&MarkWatcher::Ref>("ref"),
                           InstanceMethod<&MarkWatcher::Unref>("unref"),
                       });
  }

  MarkWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MarkWatcher>(info), Resource(EnvState::Of(info.Env())) {
    Napi::Env env = info.Env();
    int pid = ArgInt(info, 0, "pid", 1);
    int fd = ArgFd(info, 1);
    int64_t ino = ArgLong(info, 2, "ino", 0);
    Napi::Function onGone = ArgFunction(info, 3, "onGone");
    // O_PATH first: it pins the file without opening it (no side effect if the number now names
    // something else), so the check and the open below are about the same file.
    char path[64];
    std::snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
    int pinned = open(path, O_PATH | O_CLOEXEC);
    if (pinned < 0) ThrowErrno(env, "open", errno);
    struct stat st;
    if (fstat(pinned, &st) != 0 || !S_ISFIFO(st.st_mode) || static_cast<int64_t>(st.st_ino) != ino) {
      close(pinned);
      ThrowErrno(env, "open", ESTALE);
    }
    std::snprintf(path, sizeof(path), "/proc/self/fd/%d", pinned);
    int rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    int err = errno;
    close(pinned);
    if (rfd < 0) ThrowErrno(env, "open", err);
    fd_ = rfd;
    state()->TrackFd(fd_);
    try {
      poll_ = std::make_unique<PollHandle>(env, state(), fd_, OnEvent, this);
    } catch (...) {
      state()->CloseTrackedFd(fd_);
      fd_ = -1;
      throw;
    }
    callback_ = Napi::Persistent(onGone);
    int rc = poll_->Start(UV_READABLE);
    if (rc != 0) {
      Finish();
      ThrowErrno(env, "uv_poll_start", -rc);
    }
    poll_->SetRef(false);
    pin_.Hold(this);  // until it fires or is closed
  }

  ~MarkWatcher() override { Finish(); }

 private:
  // True once the pipe has no writer left (read() gives EOF); data someone wrote is discarded.
  bool Ended() {
    char buf[256];
    for (;;) {
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n == 0) return true;
      if (n > 0) continue;
      if (errno == EINTR) continue;
      return errno != EAGAIN;
    }
  }

  static void OnEvent(void* owner, int status, int events) {
    MarkWatcher* self = static_cast<MarkWatcher*>(owner);
    if (status >= 0 && !self->Ended()) return;
    napi_env env = self->state()->env();
    ValueScope scope(env);
    if (!scope.ok()) return;
    napi_value fn = JsRef(env, self->callback_);
    self->Finish();
    CallJs(env, From::kLoop, fn, 0, nullptr);
  }

  // Stops watching and closes the observer's fd. Idempotent.
  void Finish() {
    pin_.Release();
    if (poll_) poll_->Close();
    if (fd_ >= 0) {
      state()->CloseTrackedFd(fd_);
      fd_ = -1;
    }
  }

  void Release() override { Finish(); }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Finish();
    callback_.Reset();
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (poll_) poll_->SetRef(true);
    return info.This();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (poll_) poll_->SetRef(false);
    return info.This();
  }

  int fd_ = -1;
  std::unique_ptr<PollHandle> poll_;
  Napi::FunctionReference callback_;
  Pin pin_;
};

void InitMark(Napi::Env env, Napi::Object exports) {
  exports.Set("LivenessMark", LivenessMark::Define(env));
  exports.Set("MarkWatcher", MarkWatcher::Define(env));
}

}  // namespace ipc
