// The per-environment registry (see env.h): instance data plus an async cleanup hook.
#include "env.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "thread.h"

namespace ipc {

namespace {

// Descriptors native owns, process-wide: fd -> (owning env, the file it was).
struct FdEntry {
  uint64_t owner;
  dev_t dev;
  ino_t ino;
};
std::mutex g_fd_mu;
std::unordered_map<int, FdEntry> g_fds;
std::atomic<uint64_t> g_next_env_id{1};

// How long teardown waits, in all, for woken threads to end before detaching them.
constexpr auto kJoinBudget = std::chrono::milliseconds(500);

bool SameFile(int fd, const FdEntry& e) {
  struct stat st;
  return fstat(fd, &st) == 0 && st.st_dev == e.dev && st.st_ino == e.ino;
}

}  // namespace

// ---- Resource

Resource::Resource(std::shared_ptr<EnvState> state) : state_(std::move(state)) { state_->resources_.insert(this); }

Resource::~Resource() { state_->resources_.erase(this); }

// ---- EnvState

EnvState::EnvState(napi_env env, uv_loop_t* loop) : env_(env), loop_(loop), id_(g_next_env_id++) {}

EnvState::~EnvState() {
  // Normally empty by now (teardown released everything); a registry dropped without teardown
  // (the process is exiting) lets go of its threads and forgets its descriptors.
  for (auto& t : threads_) t->Settle(true, std::chrono::steady_clock::now());
  std::lock_guard<std::mutex> lock(g_fd_mu);
  for (auto it = g_fds.begin(); it != g_fds.end();) {
    if (it->second.owner == id_)
      it = g_fds.erase(it);
    else
      ++it;
  }
}

std::shared_ptr<EnvState> EnvState::Of(napi_env env) {
  void* data = nullptr;
  if (napi_get_instance_data(env, &data) != napi_ok || data == nullptr) throw Napi::Error::New(env, "@ipc/native: no registry for this environment");
  return *static_cast<std::shared_ptr<EnvState>*>(data);
}

void EnvState::TrackFd(int fd) {
  struct stat st;
  FdEntry e{id_, 0, 0};
  if (fstat(fd, &st) == 0) {
    e.dev = st.st_dev;
    e.ino = st.st_ino;
  }
  std::lock_guard<std::mutex> lock(g_fd_mu);
  g_fds[fd] = e;
}

bool EnvState::UntrackFd(int fd) {
  std::lock_guard<std::mutex> lock(g_fd_mu);
  return g_fds.erase(fd) > 0;
}

bool EnvState::CloseTrackedFd(int fd) {
  {
    std::lock_guard<std::mutex> lock(g_fd_mu);
    auto it = g_fds.find(fd);
    if (it == g_fds.end() || it->second.owner != id_) return false;
    bool same = SameFile(fd, it->second);
    g_fds.erase(it);
    if (!same) return false;
  }
  close(fd);  // Linux frees the descriptor even when close() reports EINTR
  return true;
}

void EnvState::HandleClosed() {
  open_handles_--;
  if (closing_ && open_handles_ == 0) FinishCleanup();
}

void EnvState::AddThread(std::shared_ptr<ThreadCore> thread) {
  ReapThreads();
  threads_.push_back(std::move(thread));
}

// Joins threads that have exited (that never blocks: they are past their last statement).
void EnvState::ReapThreads() {
  auto now = std::chrono::steady_clock::now();
  for (auto it = threads_.begin(); it != threads_.end();) {
    if ((*it)->Settle(false, now))
      it = threads_.erase(it);
    else
      ++it;
  }
}

void EnvState::Finalize(napi_env, void* data, void*) { delete static_cast<std::shared_ptr<EnvState>*>(data); }

void EnvState::Cleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  EnvState* self = static_cast<std::shared_ptr<EnvState>*>(arg)->get();
  self->hook_ = handle;
  self->RunCleanup();
}

void EnvState::RunCleanup() {
  closing_ = true;
  // 1. Watchers and other resources: stopped, their handles closing (no callback after this).
  std::set<Resource*> resources;
  resources.swap(resources_);
  for (Resource* r : resources) r->Release();
  // 2. Threads: woken; joined when they end promptly, else detached (never touching the env).
  std::vector<std::shared_ptr<ThreadCore>> threads;
  threads.swap(threads_);
  for (auto& t : threads) t->Stop();
  auto deadline = std::chrono::steady_clock::now() + kJoinBudget;
  for (auto& t : threads) t->Settle(true, deadline);
  // 3. Descriptors this env still owns (after the watchers: a uv_poll never outlives its fd).
  std::vector<std::pair<int, FdEntry>> mine;
  {
    std::lock_guard<std::mutex> lock(g_fd_mu);
    for (auto it = g_fds.begin(); it != g_fds.end();) {
      if (it->second.owner == id_) {
        mine.emplace_back(it->first, it->second);
        it = g_fds.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [fd, e] : mine) {
    if (SameFile(fd, e)) close(fd);
  }
  // 4. Node keeps turning the loop until the hook is removed: once every close callback ran.
  if (open_handles_ == 0) FinishCleanup();
}

void EnvState::FinishCleanup() {
  if (hook_ == nullptr) return;
  napi_async_cleanup_hook_handle hook = hook_;
  std::shared_ptr<EnvState>* ref = hook_ref_;
  hook_ = nullptr;
  hook_ref_ = nullptr;
  napi_remove_async_cleanup_hook(hook);
  delete ref;  // may be the last reference to this
}

void PinLibrary() {
  static std::once_flag once;
  std::call_once(once, [] {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&PinLibrary), &info) != 0 && info.dli_fname != nullptr) {
      dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);  // never closed
    }
  });
}

void InitEnv(Napi::Env env, Napi::Object exports) {
  void* existing = nullptr;
  if (napi_get_instance_data(env, &existing) == napi_ok && existing != nullptr) return;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "@ipc/native: no event loop");
  std::shared_ptr<EnvState> state(new EnvState(env, loop));
  auto* data = new std::shared_ptr<EnvState>(state);
  if (napi_set_instance_data(env, data, EnvState::Finalize, nullptr) != napi_ok) {
    delete data;
    throw Napi::Error::New(env, "@ipc/native: napi_set_instance_data failed");
  }
  state->hook_ref_ = new std::shared_ptr<EnvState>(state);
  if (napi_add_async_cleanup_hook(env, EnvState::Cleanup, state->hook_ref_, &state->hook_) != napi_ok) {
    delete state->hook_ref_;
    state->hook_ref_ = nullptr;
    throw Napi::Error::New(env, "@ipc/native: napi_add_async_cleanup_hook failed");
  }
}

}  // namespace ipc
