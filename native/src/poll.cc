// Readiness of any fd on the event loop (uv_poll): what the mechanisms whose kernel objects are
// fds but not streams (POSIX message queues, pidfds) wait on. No thread, no timer.
#include "poll.h"

#include "callback.h"

namespace ipc {

// ---- PollHandle

PollHandle::PollHandle(Napi::Env env, std::shared_ptr<EnvState> state, int fd, Callback cb, void* owner) {
  Box* box = new Box{};
  int rc = uv_poll_init(state->loop(), &box->poll, fd);
  if (rc != 0) {
    delete box;
    ThrowErrno(env, "uv_poll_init", -rc);
  }
  box->poll.data = box;
  box->state = std::move(state);
  box->cb = cb;
  box->owner = owner;
  box->state->HandleOpened();
  box_ = box;
}

int PollHandle::Start(int events) {
  if (box_ == nullptr) return UV_EBADF;
  return events == 0 ? uv_poll_stop(&box_->poll) : uv_poll_start(&box_->poll, events, OnPoll);
}

void PollHandle::SetRef(bool on) {
  if (box_ == nullptr) return;
  if (on)
    uv_ref(reinterpret_cast<uv_handle_t*>(&box_->poll));
  else
    uv_unref(reinterpret_cast<uv_handle_t*>(&box_->poll));
}

void PollHandle::Close() {
  if (box_ == nullptr) return;
  Box* box = box_;
  box_ = nullptr;
  box->owner = nullptr;
  uv_poll_stop(&box->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&box->poll), OnClosed);
}

void PollHandle::OnPoll(uv_poll_t* poll, int status, int events) {
  Box* box = static_cast<Box*>(poll->data);
  if (box->owner == nullptr || box->state->closing()) return;
  box->cb(box->owner, status, events);
}

void PollHandle::OnClosed(uv_handle_t* handle) {
  Box* box = static_cast<Box*>(handle->data);
  std::shared_ptr<EnvState> state = std::move(box->state);
  delete box;
  state->HandleClosed();
}

// ---- FdWatcher

class FdWatcher : public Napi::ObjectWrap<FdWatcher>, public Resource {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FdWatcher",
                       {
                           InstanceMethod<&FdWatcher::Start>("start"),
                           InstanceMethod<&FdWatcher::Close>("close"),
                           InstanceMethod<&FdWatcher::Ref>("ref"),
                           InstanceMethod<&FdWatcher::Unref>("unref"),
                       });
  }

  // new FdWatcher(fd, onReady(events)): events is a mask of READABLE (1) and WRITABLE (2), or a
  // negative errno on a poll error. Nothing is watched until start(). The fd stays the caller's.
  // It lives until close() (or its environment ends), referenced or not.
  FdWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWatcher>(info), Resource(EnvState::Of(info.Env())) {
    int fd = ArgFd(info, 0);
    Napi::Function onReady = ArgFunction(info, 1, "onReady");
    poll_ = std::make_unique<PollHandle>(info.Env(), state(), fd, OnEvent, this);
    callback_ = Napi::Persistent(onReady);
    pin_.Hold(this);  // until close(): a watcher nobody references still calls back
  }

 private:
  static void OnEvent(void* owner, int status, int events) {
    FdWatcher* self = static_cast<FdWatcher*>(owner);
    napi_env env = self->state()->env();
    ValueScope scope(env);
    if (!scope.ok()) return;
    napi_value arg = JsInt(env, status < 0 ? status : (events & (UV_READABLE | UV_WRITABLE)));
    CallJs(env, From::kLoop, JsRef(env, self->callback_), 1, &arg);
  }

  void Release() override { poll_->Close(); }

  // start(events): watch for these (0 stops watching without closing).
  Napi::Value Start(const Napi::CallbackInfo& info) {
    int events = ArgInt(info, 0, "events") & (UV_READABLE | UV_WRITABLE);
    if (poll_->closed()) throw Napi::Error::New(info.Env(), "FdWatcher is closed");
    int rc = poll_->Start(events);
    if (rc != 0) ThrowErrno(info.Env(), "uv_poll_start", -rc);
    return info.Env().Undefined();
  }

  // close(): stops watching; the fd itself stays open (it belongs to the caller).
  Napi::Value Close(const Napi::CallbackInfo& info) {
    poll_->Close();
    callback_.Reset();
    pin_.Release();
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    poll_->SetRef(true);
    return info.This();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    poll_->SetRef(false);
    return info.This();
  }

  std::unique_ptr<PollHandle> poll_;
  Napi::FunctionReference callback_;
  Pin pin_;
};

void InitPoll(Napi::Env env, Napi::Object exports) {
  exports.Set("FdWatcher", FdWatcher::Define(env));
  exports.Set("READABLE", Napi::Number::New(env, UV_READABLE));
  exports.Set("WRITABLE", Napi::Number::New(env, UV_WRITABLE));
}

}  // namespace ipc
