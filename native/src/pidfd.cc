// Process-exit notification: pidfd_open() + a uv_poll readiness watcher on the event loop.
// A pidfd becomes readable when the process exits (a zombie counts), so the watcher fires once,
// with no polling timer and no thread.
#include "common.h"
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace ipc {

class PidWatcher : public Napi::ObjectWrap<PidWatcher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PidWatcher", {
      InstanceMethod<&PidWatcher::Close>("close"),
      InstanceMethod<&PidWatcher::Exited>("exited"),
      InstanceMethod<&PidWatcher::Ref>("ref"),
      InstanceMethod<&PidWatcher::Unref>("unref"),
    });
  }

  // new PidWatcher(pid, onExit): opens the pidfd at once (so a later pid reuse cannot fool it)
  // and calls onExit() once, on the event loop, when the process has exited.
  PidWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PidWatcher>(info) {
    Napi::Env env = info.Env();
    int pid = ArgInt(info, 0, "pid");
    if (pid <= 0) throw Napi::RangeError::New(env, "pid must be positive");
    if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env, "onExit must be a function");
    int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) ThrowErrno(env, "pidfd_open", errno);
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
      close(fd);
      throw Napi::Error::New(env, "no event loop");
    }
    handle_ = new Handle{};
    handle_->fd = fd;
    handle_->owner = this;
    int rc = uv_poll_init(loop, &handle_->poll, fd);
    if (rc != 0) {
      close(fd);
      delete handle_;
      handle_ = nullptr;
      ThrowErrno(env, "uv_poll_init", -rc);
    }
    handle_->poll.data = handle_;
    rc = uv_poll_start(&handle_->poll, UV_READABLE, OnReadable);
    if (rc != 0) {
      Stop();
      ThrowErrno(env, "uv_poll_start", -rc);
    }
    uv_unref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    env_ = env;
  }

  ~PidWatcher() override { Stop(); }

 private:
  struct Handle {
    uv_poll_t poll;
    PidWatcher* owner;
    int fd;
  };

  static void OnReadable(uv_poll_t* poll, int status, int events) {
    Handle* h = static_cast<Handle*>(poll->data);
    PidWatcher* self = h->owner;
    if (self == nullptr) return;
    self->Stop();
    Napi::Env env = self->env_;
    Napi::HandleScope scope(env);
    if (self->callback_.IsEmpty()) return;
    Napi::FunctionReference cb = std::move(self->callback_);
    try {
      cb.MakeCallback(env.Global(), {});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  }

  static void OnClosed(uv_handle_t* handle) {
    Handle* h = static_cast<Handle*>(handle->data);
    close(h->fd);
    delete h;
  }

  // Stops watching and releases the pidfd (asynchronously, as libuv closes handles).
  void Stop() {
    if (handle_ == nullptr) return;
    handle_->owner = nullptr;
    uv_poll_stop(&handle_->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&handle_->poll), OnClosed);
    handle_ = nullptr;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    callback_.Reset();
    return info.Env().Undefined();
  }

  // exited() -> true if the process has exited already (a non-blocking poll of the pidfd).
  Napi::Value Exited(const Napi::CallbackInfo& info) {
    if (handle_ == nullptr) return Napi::Boolean::New(info.Env(), true);
    struct pollfd p = {handle_->fd, POLLIN, 0};
    int rc = poll(&p, 1, 0);
    if (rc < 0) ThrowErrno(info.Env(), "poll", errno);
    return Napi::Boolean::New(info.Env(), rc > 0);
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
    return info.This();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
    return info.This();
  }

  Handle* handle_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::Env env_ = Napi::Env(nullptr);
};

void InitPidfd(Napi::Env env, Napi::Object exports) {
  exports.Set("PidWatcher", PidWatcher::Define(env));
}

}  // namespace ipc
