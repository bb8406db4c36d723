// Readiness of any fd on the event loop (uv_poll): what the mechanisms whose kernel objects are
// fds but not streams (POSIX message queues) wait on. No thread, no timer.
#include "common.h"

namespace ipc {

class FdWatcher : public Napi::ObjectWrap<FdWatcher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FdWatcher", {
      InstanceMethod<&FdWatcher::Start>("start"),
      InstanceMethod<&FdWatcher::Close>("close"),
      InstanceMethod<&FdWatcher::Ref>("ref"),
      InstanceMethod<&FdWatcher::Unref>("unref"),
    });
  }

  // new FdWatcher(fd, onReady(events)): events is a mask of READABLE (1) and WRITABLE (2), or a
  // negative errno on a poll error. Nothing is watched until start().
  FdWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWatcher>(info) {
    Napi::Env env = info.Env();
    int fd = ArgInt(info, 0, "fd");
    if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env, "onReady must be a function");
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no event loop");
    handle_ = new Handle{};
    handle_->owner = this;
    int rc = uv_poll_init(loop, &handle_->poll, fd);
    if (rc != 0) {
      delete handle_;
      handle_ = nullptr;
      ThrowErrno(env, "uv_poll_init", -rc);
    }
    handle_->poll.data = handle_;
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    env_ = env;
  }

  ~FdWatcher() override { Stop(); }

 private:
  struct Handle {
    uv_poll_t poll;
    FdWatcher* owner;
  };

  static void OnReady(uv_poll_t* poll, int status, int events) {
    Handle* h = static_cast<Handle*>(poll->data);
    FdWatcher* self = h->owner;
    if (self == nullptr || self->callback_.IsEmpty()) return;
    Napi::Env env = self->env_;
    Napi::HandleScope scope(env);
    int value = status < 0 ? status : (events & (UV_READABLE | UV_WRITABLE));
    try {
      self->callback_.MakeCallback(env.Global(), {Napi::Number::New(env, value)});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  }

  static void OnClosed(uv_handle_t* handle) { delete static_cast<Handle*>(handle->data); }

  void Stop() {
    if (handle_ == nullptr) return;
    handle_->owner = nullptr;
    uv_poll_stop(&handle_->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&handle_->poll), OnClosed);
    handle_ = nullptr;
  }

  // start(events): watch for these (0 stops watching without closing).
  Napi::Value Start(const Napi::CallbackInfo& info) {
    int events = ArgInt(info, 0, "events") & (UV_READABLE | UV_WRITABLE);
    if (handle_ == nullptr) throw Napi::Error::New(info.Env(), "FdWatcher is closed");
    int rc = events == 0 ? uv_poll_stop(&handle_->poll) : uv_poll_start(&handle_->poll, events, OnReady);
    if (rc != 0) ThrowErrno(info.Env(), "uv_poll_start", -rc);
    return info.Env().Undefined();
  }

  // close(): stops watching; the fd itself stays open (it belongs to the caller).
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    callback_.Reset();
    return info.Env().Undefined();
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

void InitPoll(Napi::Env env, Napi::Object exports) {
  exports.Set("FdWatcher", FdWatcher::Define(env));
  exports.Set("READABLE", Napi::Number::New(env, UV_READABLE));
  exports.Set("WRITABLE", Napi::Number::New(env, UV_WRITABLE));
}

}  // namespace ipc
