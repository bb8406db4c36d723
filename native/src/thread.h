// A dedicated thread that reports to JS through a thread-safe function, and the state its JS
// object, the thread and the environment's registry share (ThreadCore is always held by
// shared_ptr; the thread holds a reference too, so it may outlive the JS object safely).
//
// Rules it enforces:
//   - the thread posts reports only through Post(), which fails once Stop() has run: after
//     Stop() returns, the thread never touches the thread-safe function, or the env, again;
//   - no report reaches JS after Stop() (queued ones are dropped);
//   - Stop() wakes the thread (Wake(), per subclass) and never blocks; the registry joins it
//     once it has exited, or at teardown waits briefly for a thread that was woken and detaches
//     one that cannot be woken (blocked in a kernel wait nothing can interrupt).
#pragma once
#include "callback.h"
#include "env.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include <pthread.h>

namespace ipc {

class ThreadCore : public std::enable_shared_from_this<ThreadCore> {
 public:
  // What a thread hands to the JS thread: delivered once, on the JS thread, in a live env.
  struct Report {
    virtual ~Report() = default;
    virtual void Deliver(napi_env env, napi_value callback) = 0;
  };

  virtual ~ThreadCore() = default;

  // JS thread: makes the thread-safe function for `callback` (ref'd or not: whether it keeps the
  // event loop alive), starts the thread, named `name` (at most 15 characters: what top -H and
  // /proc/<pid>/task/<tid>/comm show; also the TSFN's async resource name), and registers it.
  // Throws a JS error on failure.
  void Start(Napi::Env env, Napi::Function callback, const char* name, bool ref) {
    state_ = EnvState::Of(env);
    name_ = name;
    napi_value resource_name;
    if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name) != napi_ok) throw Napi::Error::New(env);
    auto* keep = new std::shared_ptr<ThreadCore>(shared_from_this());  // for call_js; freed by FinalizeCb
    napi_status status = napi_create_threadsafe_function(env, callback, nullptr, resource_name, 0, 1, keep, FinalizeCb, this, CallJsCb, &tsfn_);
    if (status != napi_ok) {
      delete keep;
      throw Napi::Error::New(env, "napi_create_threadsafe_function failed");
    }
    if (!ref) napi_unref_threadsafe_function(env, tsfn_);
    ref_ = ref;
    try {
      std::shared_ptr<ThreadCore> self = shared_from_this();
      thread_ = std::thread([self]() { self->Main(); });
    } catch (const std::system_error& e) {
      napi_release_threadsafe_function(tsfn_, napi_tsfn_abort);
      ThrowErrno(env, "pthread_create", e.code().value());
    }
    started_ = true;
    state_->AddThread(shared_from_this());
  }

  // JS thread; idempotent. No report reaches JS after this; the thread is asked to end.
  void Stop() {
    if (stopped_ || !started_) return;
    stopped_ = true;
    stop_.store(true);
    {
      std::lock_guard<std::mutex> lock(mu_);
      posting_closed_ = true;
    }
    woken_ = Exited() || Wake();
    // At teardown Node closes every thread-safe function itself.
    if (!state_->closing()) napi_release_threadsafe_function(tsfn_, napi_tsfn_abort);
  }

  bool stopped() const { return stopped_; }

  // JS thread: whether the thread's reports keep the event loop alive (no-op once stopped).
  void SetRef(napi_env env, bool ref) {
    if (stopped_ || !started_ || ref == ref_) return;
    ref_ = ref;
    if (ref)
      napi_ref_threadsafe_function(env, tsfn_);
    else
      napi_unref_threadsafe_function(env, tsfn_);
  }

 protected:
  // The thread's body; returning ends the thread.
  virtual void Run() = 0;
  // JS thread, with stopping() already true: interrupt the thread's wait. Returns false if the
  // thread cannot be woken now (it will end when its kernel wait ends).
  virtual bool Wake() = 0;

  bool stopping() const { return stop_.load(); }

  // Thread side: hands `report` to the JS thread. Returns false (and drops it) once stopped.
  bool Post(Report* report) {
    std::unique_ptr<Report> owned(report);
    std::lock_guard<std::mutex> lock(mu_);
    if (posting_closed_) return false;
    if (napi_call_threadsafe_function(tsfn_, owned.get(), napi_tsfn_nonblocking) != napi_ok) return false;
    owned.release();
    return true;
  }

 private:
  friend class EnvState;

  void Main() {
    pthread_setname_np(pthread_self(), name_.c_str());
    Run();
    std::lock_guard<std::mutex> lock(mu_);
    exited_ = true;
    exited_cv_.notify_all();
  }

  bool Exited() {
    std::lock_guard<std::mutex> lock(mu_);
    return exited_;
  }

  bool WaitExited(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return exited_cv_.wait_until(lock, deadline, [this] { return exited_; });
  }

  // Registry side: join if it has exited (or, with a deadline, if it was woken and exits by
  // then), else detach. Returns true when the thread is no longer joinable.
  bool Settle(bool final, std::chrono::steady_clock::time_point deadline) {
    if (!thread_.joinable()) return true;
    if (Exited() || (final && woken_ && WaitExited(deadline))) {
      thread_.join();
      return true;
    }
    if (!final) return false;
    PinLibrary();
    thread_.detach();
    return true;
  }

  static void CallJsCb(napi_env env, napi_value callback, void* context, void* data) {
    std::unique_ptr<Report> report(static_cast<Report*>(data));
    if (env == nullptr || callback == nullptr) return;  // the TSFN is closing: drop it
    if (static_cast<ThreadCore*>(context)->stopped_) return;
    report->Deliver(env, callback);
  }

  static void FinalizeCb(napi_env, void* data, void*) { delete static_cast<std::shared_ptr<ThreadCore>*>(data); }

  std::shared_ptr<EnvState> state_;
  std::string name_;
  std::thread thread_;
  napi_threadsafe_function tsfn_ = nullptr;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable exited_cv_;
  bool posting_closed_ = false;  // mu_
  bool exited_ = false;          // mu_
  bool started_ = false;         // JS thread
  bool stopped_ = false;         // JS thread
  bool ref_ = true;              // JS thread
  bool woken_ = false;           // JS thread: Wake() said the thread will end promptly
};

}  // namespace ipc
