// A uv_poll_t on one fd, owned by a native object and counted by its environment's registry, so
// teardown waits for its close callback. FdWatcher (poll.cc) and MarkWatcher (mark.cc) use it.
#pragma once
#include "env.h"

namespace ipc {

class PollHandle {
 public:
  // Called on the JS thread for each event: status < 0 is a poll error (negative errno).
  using Callback = void (*)(void* owner, int status, int events);

  // uv_poll_init on the env's loop; throws an ErrnoError (syscall "uv_poll_init") on failure.
  // Nothing is watched until Start().
  PollHandle(Napi::Env env, std::shared_ptr<EnvState> state, int fd, Callback cb, void* owner);
  ~PollHandle() { Close(); }
  PollHandle(const PollHandle&) = delete;
  PollHandle& operator=(const PollHandle&) = delete;

  // Watch for `events` (UV_READABLE | UV_WRITABLE); 0 stops watching. Returns a libuv status.
  int Start(int events);
  void SetRef(bool on);
  // Stops for good (uv_poll_stop + uv_close); no callback comes after it. Idempotent.
  void Close();
  bool closed() const { return box_ == nullptr; }

 private:
  struct Box {
    uv_poll_t poll;
    std::shared_ptr<EnvState> state;
    Callback cb;
    void* owner;
  };
  static void OnPoll(uv_poll_t* poll, int status, int events);
  static void OnClosed(uv_handle_t* handle);
  Box* box_ = nullptr;
};

}  // namespace ipc
