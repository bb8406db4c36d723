// The per-environment registry. The addon is loaded once per environment (the main thread's, each
// Worker's); everything native owns in an environment is released with it, even if JS never
// closed it: an async cleanup hook (napi_add_async_cleanup_hook) stops every watcher (uv_poll_stop
// + uv_close; Node keeps the loop turning until the close callbacks have run), stops every thread
// (it is woken, never touches the env again, and is joined when that cannot block on a kernel
// wait, else detached), and closes every descriptor native opened and still owns.
#pragma once
#include "common.h"

#include <sys/types.h>

#include <memory>
#include <set>
#include <vector>

namespace ipc {

class EnvState;
class ThreadCore;

// A native object with something to release at environment teardown (a uv handle, ...). It
// registers itself on construction and unregisters on destruction; Release() runs at most once,
// at teardown, on the JS thread, and must not call into JS. A destructor that runs after it (a
// finalizer during teardown) finds nothing left to do.
class Resource {
 public:
  Resource(const Resource&) = delete;
  Resource& operator=(const Resource&) = delete;
  virtual ~Resource();

 protected:
  explicit Resource(std::shared_ptr<EnvState> state);
  virtual void Release() = 0;
  const std::shared_ptr<EnvState>& state() const { return state_; }

 private:
  friend class EnvState;
  std::shared_ptr<EnvState> state_;
};

class EnvState {
 public:
  // The registry of `env` (InitEnv installed it). Throws a JS Error if there is none.
  static std::shared_ptr<EnvState> Of(napi_env env);

  napi_env env() const { return env_; }
  uv_loop_t* loop() const { return loop_; }
  // True once teardown has begun: no JS runs any more, nothing new is made.
  bool closing() const { return closing_; }

  // ---- Descriptors. The table is process-wide (fds are), each entry names the env that owns it
  // and the file it was (device + inode), so a number closed behind native's back and reused for
  // something else is never closed at teardown.

  // Records `fd` as owned by this env (closed at teardown unless closed before).
  void TrackFd(int fd);
  // Forgets `fd` (whichever env owned it); true if it was tracked.
  static bool UntrackFd(int fd);
  // Closes `fd` if this env still owns it (same file as when tracked); true if it closed it.
  bool CloseTrackedFd(int fd);

  // ---- Handles: every uv handle native opens counts, so teardown can wait for its close callback.
  void HandleOpened() { open_handles_++; }
  void HandleClosed();

  // ---- Threads (see thread.h): kept until joined or, at teardown, detached.
  void AddThread(std::shared_ptr<ThreadCore> thread);

  ~EnvState();

 private:
  friend class Resource;
  friend void InitEnv(Napi::Env env, Napi::Object exports);
  EnvState(napi_env env, uv_loop_t* loop);

  static void Finalize(napi_env env, void* data, void* hint);
  static void Cleanup(napi_async_cleanup_hook_handle handle, void* arg);
  void RunCleanup();
  void ReapThreads();
  void FinishCleanup();

  napi_env env_;
  uv_loop_t* loop_;
  uint64_t id_;
  bool closing_ = false;
  int open_handles_ = 0;
  std::set<Resource*> resources_;
  std::vector<std::shared_ptr<ThreadCore>> threads_;
  napi_async_cleanup_hook_handle hook_ = nullptr;
  std::shared_ptr<EnvState>* hook_ref_ = nullptr;  // keeps this alive until the hook is removed
};

// An open native object that may still call back keeps its JS object from being collected, as a
// Node handle does: Pin() (after construction) makes the wrapper's reference strong, Unpin()
// (on close, or when it has nothing more to report) makes it weak again. Environment teardown
// finalizes pinned objects too.
class Pin {
 public:
  template <typename Wrap>
  void Hold(Wrap* wrap) {
    if (ref_ != nullptr) return;
    napi_ref ref = static_cast<napi_ref>(*wrap);
    if (napi_reference_ref(wrap->Env(), ref, nullptr) == napi_ok) {
      env_ = wrap->Env();
      ref_ = ref;
    }
  }
  void Release() {
    if (ref_ == nullptr) return;
    napi_reference_unref(env_, ref_, nullptr);
    ref_ = nullptr;
  }

 private:
  napi_env env_ = nullptr;
  napi_ref ref_ = nullptr;
};

// Keeps the addon's code mapped for the rest of the process (a detached thread may still be
// running it after the Worker that loaded it, and so the library, has gone).
void PinLibrary();

}  // namespace ipc
