// Real-time signals for @ipc/signal: claiming SIGRTMIN+n for the SDK, receiving them in order
// with their siginfo (sender pid and uid, value), and queueing them with a value.
//
// Order by construction. Real-time signals of one number queue in the order sent, but a
// process-directed one goes to whichever thread does not block it, and handlers on two threads
// can run in either order. So a claimed signal is blocked in every thread of the process — the
// calling thread with pthread_sigmask, every other one by a marker signal directed at it
// (rt_tgsigqueueinfo) whose handler adds the signal to the mask that thread returns to
// (uc_sigmask) — and one reader thread of the addon's own takes them all from a signalfd, which
// dequeues the process's queue in order. Threads made later inherit the mask of their maker,
// which blocks it by then. The handler installed for a claimed signal (SA_SIGINFO | SA_RESTART:
// nothing else sees EINTR; it also makes the claim visible in /proc/<pid>/status SigCgt) turns
// a signal that still reached some thread (the moment of claiming) into a "stray" record in a
// lock-free ring that the reader picks up: never lost, never the default action (which would end
// the process).
//
// The reader hands each subscriber (a SignalReceiver in some environment) its records in batches
// through a thread-safe function, in the order read. It stops reading while a subscriber has more
// than kMaxInFlight records not yet delivered, so a flood stays in the kernel's queue (senders
// then get EAGAIN) instead of in memory.
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "callback.h"
#include "env.h"
#include "poll.h"

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace ipc {

namespace {

constexpr uint32_t kMarker = 0x49504353;  // "IPCS": the value of a marker signal
constexpr int kReadBatch = 64;
constexpr int kRecordInts = 6;  // signo, code, pid, uid, value low, value high
constexpr size_t kStrays = 1024;
constexpr int64_t kMaxInFlight = 1 << 16;

struct Record {
  int32_t v[kRecordInts];
};

// ---- What the handler touches: atomics and a write to an eventfd only (async-signal-safe).

std::atomic<uint64_t> g_markers{0};
std::atomic<int> g_wake_fd{-1};

struct StraySlot {
  std::atomic<uint64_t> seq{0};  // n + 1 once slot n's record is written
  Record record;
};
StraySlot g_strays[kStrays];
std::atomic<uint64_t> g_stray_head{0};  // next slot to reserve
std::atomic<uint64_t> g_stray_tail{0};  // next slot to read (written by the reader thread only)
std::atomic<uint64_t> g_strays_lost{0};

void OnSignal(int signo, siginfo_t* si, void* context) {
  int saved = errno;
  if (si->si_code == SI_QUEUE && si->si_pid == getpid() && static_cast<uint32_t>(si->si_value.sival_int) == kMarker) {
    // a marker: this thread returns from the handler with the signal blocked
    sigaddset(&static_cast<ucontext_t*>(context)->uc_sigmask, signo);
    g_markers.fetch_add(1);
  } else {
    uint64_t n = g_stray_head.load();
    bool room;
    do {
      room = n - g_stray_tail.load() < kStrays;
    } while (room && !g_stray_head.compare_exchange_weak(n, n + 1));
    if (!room) {
      g_strays_lost.fetch_add(1);
    } else {
      StraySlot& slot = g_strays[n % kStrays];
      uint64_t value = reinterpret_cast<uint64_t>(si->si_value.sival_ptr);
      slot.record = {
          {signo, si->si_code, si->si_pid, static_cast<int32_t>(si->si_uid), static_cast<int32_t>(value & 0xffffffffu), static_cast<int32_t>(value >> 32)}};
      slot.seq.store(n + 1, std::memory_order_release);
    }
    int fd = g_wake_fd.load();
    if (fd >= 0) {
      uint64_t one = 1;
      ssize_t w = write(fd, &one, sizeof(one));
      (void)w;
    }
  }
  errno = saved;
}

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

int QueueInfo(pid_t pid, pid_t tid, int signo, uint64_t value) {
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  info.si_signo = signo;
  info.si_code = SI_QUEUE;
  info.si_pid = getpid();
  info.si_uid = getuid();
  info.si_value.sival_ptr = reinterpret_cast<void*>(value);
  long rc = tid > 0 ? syscall(SYS_rt_tgsigqueueinfo, pid, tid, signo, &info) : syscall(SYS_rt_sigqueueinfo, pid, signo, &info);
  return rc == 0 ? 0 : errno;
}

// True when thread `tid` of this process blocks `signo` (/proc/self/task/<tid>/status SigBlk),
// or is gone.
bool ThreadBlocks(pid_t tid, int signo) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return true;
  char line[256];
  bool blocks = false;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, "SigBlk:", 7) == 0) {
      unsigned long long mask = std::strtoull(line + 7, nullptr, 16);
      blocks = (mask >> (signo - 1)) & 1ULL;
      break;
    }
  }
  std::fclose(f);
  return blocks;
}

std::vector<pid_t> Threads() {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9') out.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
  }
  closedir(d);
  return out;
}

// Blocks `signo` in every thread (see the file comment). Returns the threads still not blocking it
// after ~200 ms (their signals take the stray path).
int BlockEverywhere(int signo) {
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, signo);
  pthread_sigmask(SIG_BLOCK, &one, nullptr);
  pid_t self = Tid();
  std::map<pid_t, int> sent;  // markers sent per thread
  for (int round = 0; round < 200; round++) {
    int open = 0;
    uint64_t before = g_markers.load();
    int fresh = 0;
    for (pid_t tid : Threads()) {
      if (tid == self || ThreadBlocks(tid, signo)) continue;
      open++;
      if (sent[tid] == 0 || round % 20 == 19) {  // once, then again now and then (a marker may not have been its)
        if (QueueInfo(getpid(), tid, signo, kMarker) == 0) {
          sent[tid]++;
          fresh++;
        }
      }
    }
    if (open == 0) return 0;
    // the markers are handled as soon as those threads run: wait for them, briefly
    for (int spin = 0; spin < 1000 && g_markers.load() - before < static_cast<uint64_t>(fresh); spin++) std::this_thread::yield();
    if (round > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (round == 199) return open;
  }
  return 0;
}

// ---- The hub: claims, subscribers and the reader thread (process-wide).

class Sink;

class Hub {
 public:
  static Hub& Get() {
    static Hub* hub = new Hub();  // never destroyed: the reader may outlive every environment
    return *hub;
  }

  // JS thread. 0, or EBUSY (another handler owns it), or an errno. With `read`, the reader thread
  // takes the signal's process-directed instances for its subscribers; without (a poller's claim),
  // only the claim is made: handler, blocked everywhere.
  int Claim(int signo, bool read, int* unblocked) {
    std::lock_guard<std::mutex> lock(mu_);
    *unblocked = 0;
    int err = StartLocked();
    if (err != 0) return err;
    auto it = claims_.find(signo);
    if (it == claims_.end()) {
      struct sigaction old;
      if (sigaction(signo, nullptr, &old) != 0) return errno;
      bool dfl = (old.sa_flags & SA_SIGINFO) == 0 && old.sa_handler == SIG_DFL;
      if (!dfl) return EBUSY;
      struct sigaction act;
      std::memset(&act, 0, sizeof(act));
      act.sa_sigaction = OnSignal;
      act.sa_flags = SA_SIGINFO | SA_RESTART;
      sigfillset(&act.sa_mask);
      if (sigaction(signo, &act, nullptr) != 0) return errno;
      *unblocked = BlockEverywhere(signo);
      it = claims_.emplace(signo, Claimed{0, 0, old}).first;
    }
    if (read && it->second.readers == 0) {
      sigaddset(&mask_, signo);
      if (signalfd(sfd_, &mask_, SFD_NONBLOCK | SFD_CLOEXEC) < 0) {
        int e = errno;
        sigdelset(&mask_, signo);
        if (it->second.refs == 0) {
          sigaction(signo, &it->second.old, nullptr);
          claims_.erase(it);
        }
        return e;
      }
    }
    it->second.refs++;
    if (read) it->second.readers++;
    return 0;
  }

  // JS thread: the last unclaim restores the previous disposition and drops what is still queued
  // for the process.
  void Unclaim(int signo, bool read) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = claims_.find(signo);
    if (it == claims_.end()) return;
    if (read && --it->second.readers == 0) {
      sigdelset(&mask_, signo);
      signalfd(sfd_, &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
    }
    if (--it->second.refs > 0) return;
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&one, nullptr, &zero) == signo) {
    }
    sigaction(signo, &it->second.old, nullptr);
    claims_.erase(it);
  }

  // A claim that only one receiver in the process may hold at a time (a listener's): false if held.
  bool TakeExclusive(int signo) {
    std::lock_guard<std::mutex> lock(mu_);
    return exclusive_.insert(signo).second;
  }

  void GiveExclusive(int signo) {
    std::lock_guard<std::mutex> lock(mu_);
    exclusive_.erase(signo);
  }

  void Subscribe(const std::shared_ptr<Sink>& sink) {
    std::lock_guard<std::mutex> lock(mu_);
    sinks_.push_back(sink);
  }

  // After it returns the reader never calls into `sink` again.
  void Unsubscribe(Sink* sink) {
    std::lock_guard<std::mutex> lock(mu_);
    sinks_.erase(std::remove_if(sinks_.begin(), sinks_.end(), [&](const std::shared_ptr<Sink>& s) { return s.get() == sink; }), sinks_.end());
  }

  // A subscriber delivered records: the reader may read again if it had stopped.
  void Drained() {
    uint64_t one = 1;
    ssize_t w = write(efd_, &one, sizeof(one));
    (void)w;
  }

  uint64_t StraysLost() const { return g_strays_lost.load(); }

 private:
  struct Claimed {
    int refs;     // receivers and pollers holding it
    int readers;  // of those, receivers (the reader thread reads it for them)
    struct sigaction old;
  };

  Hub() { sigemptyset(&mask_); }

  int StartLocked() {
    if (sfd_ >= 0) return 0;
    efd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd_ < 0) return errno;
    sfd_ = signalfd(-1, &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd_ < 0) {
      int e = errno;
      close(efd_);
      efd_ = -1;
      return e;
    }
    g_wake_fd.store(efd_);
    PinLibrary();  // the reader runs the addon's code for the rest of the process
    try {
      std::thread([this] { Run(); }).detach();
    } catch (const std::system_error& e) {
      return e.code().value();
    }
    return 0;
  }

  void Run();
  void Dispatch(const std::vector<Record>& records);
  bool Behind();

  std::mutex mu_;
  int sfd_ = -1;
  int efd_ = -1;
  sigset_t mask_;
  std::map<int, Claimed> claims_;
  std::set<int> exclusive_;
  std::vector<std::shared_ptr<Sink>> sinks_;
};

// One subscriber: the signal numbers it wants and the thread-safe function to its environment.
class Sink : public Resource, public std::enable_shared_from_this<Sink> {
 public:
  Sink(Napi::Env env, std::vector<int> signos) : Resource(EnvState::Of(env)), signos_(std::move(signos)) {}

  // JS thread, once: the thread-safe function to `callback`, which keeps this alive until it is finalized.
  void Start(Napi::Env env, Napi::Function callback) {
    napi_value name;
    napi_create_string_utf8(env, "ipc-signal", NAPI_AUTO_LENGTH, &name);
    auto* keep = new std::shared_ptr<Sink>(shared_from_this());
    if (napi_create_threadsafe_function(env, callback, nullptr, name, 0, 1, keep, Finalize, this, OnBatch, &tsfn_) != napi_ok) {
      delete keep;
      stopped_ = true;
      throw Napi::Error::New(env, "napi_create_threadsafe_function failed");
    }
  }

  bool Wants(int signo) const { return std::find(signos_.begin(), signos_.end(), signo) != signos_.end(); }
  int64_t InFlight() const { return in_flight_.load(); }

  // Reader thread, under the hub's lock.
  void Post(std::vector<Record>&& records) {
    auto* batch = new std::vector<Record>(std::move(records));
    in_flight_.fetch_add(static_cast<int64_t>(batch->size()));
    if (napi_call_threadsafe_function(tsfn_, batch, napi_tsfn_nonblocking) != napi_ok) {
      in_flight_.fetch_sub(static_cast<int64_t>(batch->size()));
      delete batch;
    }
  }

  // JS thread; idempotent. No batch reaches JS after it.
  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    Hub::Get().Unsubscribe(this);
    if (!state()->closing()) napi_release_threadsafe_function(tsfn_, napi_tsfn_abort);
  }

  void SetRef(napi_env env, bool on) {
    if (stopped_) return;
    if (on)
      napi_ref_threadsafe_function(env, tsfn_);
    else
      napi_unref_threadsafe_function(env, tsfn_);
  }

 private:
  static void Finalize(napi_env, void* data, void*) { delete static_cast<std::shared_ptr<Sink>*>(data); }

  static void OnBatch(napi_env env, napi_value callback, void* context, void* data) {
    std::unique_ptr<std::vector<Record>> batch(static_cast<std::vector<Record>*>(data));
    Sink* self = static_cast<Sink*>(context);
    if (self->in_flight_.fetch_sub(static_cast<int64_t>(batch->size())) > kMaxInFlight) Hub::Get().Drained();  // it had stopped reading
    if (env == nullptr || callback == nullptr || self->stopped_) return;
    napi_value arg = JsBufferCopy(env, batch->data(), batch->size() * sizeof(Record));
    ipc::CallJs(env, From::kThreadsafeFunction, callback, 1, &arg);
  }

  void Release() override { Stop(); }

  std::vector<int> signos_;
  napi_threadsafe_function tsfn_ = nullptr;
  std::atomic<int64_t> in_flight_{0};
  bool stopped_ = false;
};

bool Hub::Behind() {
  for (auto& s : sinks_) {
    if (s->InFlight() > kMaxInFlight) return true;
  }
  return false;
}

void Hub::Dispatch(const std::vector<Record>& records) {
  for (auto& s : sinks_) {
    std::vector<Record> mine;
    for (const Record& r : records) {
      if (s->Wants(r.v[0])) mine.push_back(r);
    }
    if (!mine.empty()) s->Post(std::move(mine));
  }
}

void Hub::Run() {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  pthread_setname_np(pthread_self(), "ipc-signals");
  std::vector<Record> records;
  signalfd_siginfo buf[kReadBatch];
  for (;;) {
    bool behind;
    {
      std::lock_guard<std::mutex> lock(mu_);
      behind = Behind();
    }
    struct pollfd fds[2] = {{efd_, POLLIN, 0}, {sfd_, static_cast<short>(behind ? 0 : POLLIN), 0}};
    int n = poll(fds, 2, behind ? 10 : -1);
    if (n < 0 && errno != EINTR) return;
    if (fds[0].revents & POLLIN) {
      uint64_t drained;
      ssize_t r = read(efd_, &drained, sizeof(drained));
      (void)r;
    }
    records.clear();
    // strays first: they were taken before the signalfd could see them
    for (;;) {
      uint64_t tail = g_stray_tail.load();
      StraySlot& slot = g_strays[tail % kStrays];
      if (slot.seq.load(std::memory_order_acquire) != tail + 1) break;
      records.push_back(slot.record);
      g_stray_tail.store(tail + 1);
    }
    if (!behind) {
      ssize_t got = read(sfd_, buf, sizeof(buf));
      for (ssize_t i = 0; got > 0 && i < got / static_cast<ssize_t>(sizeof(signalfd_siginfo)); i++) {
        const signalfd_siginfo& s = buf[i];
        records.push_back({{static_cast<int32_t>(s.ssi_signo), s.ssi_code, static_cast<int32_t>(s.ssi_pid), static_cast<int32_t>(s.ssi_uid),
                            static_cast<int32_t>(s.ssi_ptr & 0xffffffffu), static_cast<int32_t>(s.ssi_ptr >> 32)}});
      }
    }
    if (records.empty()) continue;
    std::lock_guard<std::mutex> lock(mu_);
    Dispatch(records);
  }
}

}  // namespace

// new SignalReceiver(signos, onBatch(records), exclusive = false): claims each signal number for the SDK (the first
// claim in the process installs the handler and blocks it in every thread; EBUSY if another
// handler owns it) and hands onBatch Buffers of records, six little-endian i32 each: signo,
// si_code, si_pid, si_uid, value low 32 bits, value high 32 bits — in the order the process
// received them; with `exclusive`, no other exclusive receiver of these signals may exist in the
// process (EADDRINUSE: a listener's claim). Keeps the event loop alive unless unref()'d. close() ends it and gives the
// claims back (the last one restores the previous disposition). Released with its environment.
class SignalReceiver : public Napi::ObjectWrap<SignalReceiver> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SignalReceiver",
                       {
                           InstanceMethod<&SignalReceiver::Close>("close"),
                           InstanceMethod<&SignalReceiver::Ref>("ref"),
                           InstanceMethod<&SignalReceiver::Unref>("unref"),
                           InstanceAccessor<&SignalReceiver::Unblocked>("unblocked"),
                       });
  }

  SignalReceiver(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SignalReceiver>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) ThrowArgType(env, "signos", "an array of signal numbers");
    Napi::Array list = info[0].As<Napi::Array>();
    std::vector<int> signos;
    for (uint32_t i = 0; i < list.Length(); i++) {
      Napi::Value v = list.Get(i);
      if (!v.IsNumber()) ThrowArgType(env, "signos", "an array of signal numbers");
      int s = v.As<Napi::Number>().Int32Value();
      if (s < SIGRTMIN || s > SIGRTMAX) ThrowArgRange(env, "signos", "real-time signals (SIGRTMIN to SIGRTMAX)");
      if (std::find(signos.begin(), signos.end(), s) == signos.end()) signos.push_back(s);
    }
    Napi::Function onBatch = ArgFunction(info, 1, "onBatch");
    if (ArgBool(info, 2, "exclusive", false)) {
      for (int s : signos) {
        if (!Hub::Get().TakeExclusive(s)) {
          for (int e : exclusive_) Hub::Get().GiveExclusive(e);
          exclusive_.clear();
          ThrowErrno(env, "sigaction", EADDRINUSE);
        }
        exclusive_.push_back(s);
      }
    }
    for (int s : signos) {
      int unblocked = 0;
      int err = Hub::Get().Claim(s, true, &unblocked);
      if (err != 0) {
        Finish();
        ThrowErrno(env, "sigaction", err);
      }
      unblocked_ += unblocked;
      claimed_.push_back(s);
    }
    try {
      sink_ = std::make_shared<Sink>(env, signos);
      sink_->Start(env, onBatch);
    } catch (...) {
      sink_.reset();
      Finish();
      throw;
    }
    Hub::Get().Subscribe(sink_);
  }

  ~SignalReceiver() override { Finish(); }

 private:
  void Finish() {
    if (sink_) sink_->Stop();
    for (int c : claimed_) Hub::Get().Unclaim(c, true);
    claimed_.clear();
    for (int e : exclusive_) Hub::Get().GiveExclusive(e);
    exclusive_.clear();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Finish();
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (sink_) sink_->SetRef(info.Env(), true);
    return info.This();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (sink_) sink_->SetRef(info.Env(), false);
    return info.This();
  }

  Napi::Value Unblocked(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), unblocked_); }

  std::shared_ptr<Sink> sink_;
  std::vector<int> claimed_;
  std::vector<int> exclusive_;
  int unblocked_ = 0;
};

// new SignalPoller(signos, onBatch(records)): the fast lane, for signals sent to this thread
// (rt_tgsigqueueinfo with this thread's id, threadId()): claims them (handler, blocked everywhere;
// the reader thread does not read them) and reads them from a signalfd of this thread polled on
// its event loop, handing onBatch the same records as SignalReceiver, in order, once per wake-up.
// Keeps the event loop alive unless unref()'d. Released with its environment.
class SignalPoller : public Napi::ObjectWrap<SignalPoller>, public Resource {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SignalPoller",
                       {
                           InstanceMethod<&SignalPoller::Close>("close"),
                           InstanceMethod<&SignalPoller::Ref>("ref"),
                           InstanceMethod<&SignalPoller::Unref>("unref"),
                       });
  }

  SignalPoller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SignalPoller>(info), Resource(EnvState::Of(info.Env())) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) ThrowArgType(env, "signos", "an array of signal numbers");
    Napi::Array list = info[0].As<Napi::Array>();
    sigset_t mask;
    sigemptyset(&mask);
    std::vector<int> signos;
    for (uint32_t i = 0; i < list.Length(); i++) {
      Napi::Value v = list.Get(i);
      int s = v.IsNumber() ? v.As<Napi::Number>().Int32Value() : 0;
      if (s < SIGRTMIN || s > SIGRTMAX) ThrowArgRange(env, "signos", "real-time signals (SIGRTMIN to SIGRTMAX)");
      if (std::find(signos.begin(), signos.end(), s) == signos.end()) signos.push_back(s);
      sigaddset(&mask, s);
    }
    callback_ = Napi::Persistent(ArgFunction(info, 1, "onBatch"));
    for (int s : signos) {
      int unblocked = 0;
      int err = Hub::Get().Claim(s, false, &unblocked);
      if (err != 0) {
        Finish();
        ThrowErrno(env, "sigaction", err);
      }
      claimed_.push_back(s);
    }
    fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd_ < 0) {
      int e = errno;
      Finish();
      ThrowErrno(env, "signalfd", e);
    }
    try {
      poll_ = std::make_unique<PollHandle>(env, state(), fd_, OnEvent, this);
    } catch (...) {
      Finish();
      throw;
    }
    int rc = poll_->Start(UV_READABLE);
    if (rc != 0) {
      Finish();
      ThrowErrno(env, "uv_poll_start", -rc);
    }
    pin_.Hold(this);
  }

  ~SignalPoller() override { Finish(); }

 private:
  static void OnEvent(void* owner, int status, int) {
    SignalPoller* self = static_cast<SignalPoller*>(owner);
    if (status < 0 || self->fd_ < 0) return;
    std::vector<Record>& records = self->records_;
    records.clear();
    signalfd_siginfo buf[kReadBatch];
    for (int round = 0; round < 16; round++) {  // at most 1024 a turn: others get to run
      ssize_t got = read(self->fd_, buf, sizeof(buf));
      if (got <= 0) break;
      for (ssize_t i = 0; i < got / static_cast<ssize_t>(sizeof(signalfd_siginfo)); i++) {
        const signalfd_siginfo& s = buf[i];
        records.push_back({{static_cast<int32_t>(s.ssi_signo), s.ssi_code, static_cast<int32_t>(s.ssi_pid), static_cast<int32_t>(s.ssi_uid),
                            static_cast<int32_t>(s.ssi_ptr & 0xffffffffu), static_cast<int32_t>(s.ssi_ptr >> 32)}});
      }
      if (got < static_cast<ssize_t>(sizeof(buf))) break;
    }
    if (records.empty()) return;
    napi_env env = self->state()->env();
    ValueScope scope(env);
    if (!scope.ok()) return;
    napi_value fn = JsRef(env, self->callback_);
    napi_value arg = JsBufferCopy(env, records.data(), records.size() * sizeof(Record));
    CallJs(env, From::kLoop, fn, 1, &arg);
  }

  void Finish() {
    pin_.Release();
    if (poll_) poll_->Close();
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
    for (int c : claimed_) Hub::Get().Unclaim(c, false);
    claimed_.clear();
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
  std::vector<int> claimed_;
  std::vector<Record> records_;
  std::unique_ptr<PollHandle> poll_;
  Napi::FunctionReference callback_;
  Pin pin_;
};

// threadId() -> the calling thread's id (gettid): where a peer directs the fast lane's signals.
static Napi::Value ThreadId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), Tid()); }

// sigqueueThreadBatch(pid, tid, signo, values, from, count) -> signals queued: as sigqueueBatch,
// directed at thread `tid` of process `pid` (rt_tgsigqueueinfo: the kernel checks that the thread
// belongs to that process, so a reused pid is not signalled by mistake).
static Napi::Value SigqueueThreadBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgInt(info, 0, "pid", 1);
  int tid = ArgInt(info, 1, "tid", 1);
  int signo = ArgInt(info, 2, "signo", 1, 64);
  if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) ThrowArgType(env, "values", "a Uint32Array");
  Napi::Uint32Array values = info[3].As<Napi::Uint32Array>();
  int64_t from = ArgLong(info, 4, "from", 0);
  int64_t count = ArgLong(info, 5, "count", 0);
  if ((from + count) * 2 > static_cast<int64_t>(values.ElementLength())) ThrowArgRange(env, "count", "within values");
  int64_t sent = 0;
  for (; sent < count; sent++) {
    size_t at = static_cast<size_t>((from + sent) * 2);
    uint64_t value = (static_cast<uint64_t>(values[at + 1]) << 32) | values[at];
    int err;
    do {
      err = QueueInfo(pid, tid, signo, value);
    } while (err == EINTR);
    if (err == 0) continue;
    if (err == EAGAIN) break;
    ThrowErrno(env, "rt_tgsigqueueinfo", err);
  }
  return Napi::Number::New(env, static_cast<double>(sent));
}

// sigqueueValue(pid, signo, low, high) -> true if queued, false on EAGAIN (the receiver's queue is
// full): rt_sigqueueinfo with si_code SI_QUEUE and the 64-bit value (high << 32) | low (a C
// sigqueue() sender's sival_int is the low half).
static Napi::Value SigqueueValue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgInt(info, 0, "pid", 1);
  int signo = ArgInt(info, 1, "signo", 1, 64);
  uint64_t low = static_cast<uint32_t>(ArgLong(info, 2, "low", INT32_MIN, UINT32_MAX));
  uint64_t high = static_cast<uint32_t>(ArgLong(info, 3, "high", INT32_MIN, UINT32_MAX));
  int err = QueueInfo(pid, 0, signo, (high << 32) | low);
  if (err == 0) return Napi::Boolean::New(env, true);
  if (err == EAGAIN) return Napi::Boolean::New(env, false);
  ThrowErrno(env, "rt_sigqueueinfo", err);
}

// sigqueueBatch(pidfd, signo, values, from, count) -> signals queued: values[from…] as (low, high)
// u32 pairs, one signal each, through pidfd_send_signal (a pid that was reused is never signalled),
// stopping at EAGAIN (the receiver's queue is full). Other errors throw (ESRCH: it exited).
static Napi::Value SigqueueBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pidfd = ArgFd(info, 0, "pidfd");
  int signo = ArgInt(info, 1, "signo", 1, 64);
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) ThrowArgType(env, "values", "a Uint32Array");
  Napi::Uint32Array values = info[2].As<Napi::Uint32Array>();
  int64_t from = ArgLong(info, 3, "from", 0);
  int64_t count = ArgLong(info, 4, "count", 0);
  if ((from + count) * 2 > static_cast<int64_t>(values.ElementLength())) ThrowArgRange(env, "count", "within values");
  siginfo_t si;
  std::memset(&si, 0, sizeof(si));
  si.si_signo = signo;
  si.si_code = SI_QUEUE;
  si.si_pid = getpid();
  si.si_uid = getuid();
  int64_t sent = 0;
  for (; sent < count; sent++) {
    size_t at = static_cast<size_t>((from + sent) * 2);
    uint64_t value = (static_cast<uint64_t>(values[at + 1]) << 32) | values[at];
    si.si_value.sival_ptr = reinterpret_cast<void*>(value);
    long rc;
    do {
      rc = syscall(SYS_pidfd_send_signal, pidfd, signo, &si, 0);
    } while (rc != 0 && errno == EINTR);
    if (rc == 0) continue;
    if (errno == EAGAIN) break;
    ThrowErrno(env, "pidfd_send_signal", errno);
  }
  return Napi::Number::New(env, static_cast<double>(sent));
}

// signalRange() -> { min, max }: SIGRTMIN and SIGRTMAX as this C library has them.
static Napi::Value SignalRange(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("min", Napi::Number::New(info.Env(), SIGRTMIN));
  out.Set("max", Napi::Number::New(info.Env(), SIGRTMAX));
  return out;
}

// signalStraysLost() -> signals the handler could not keep (its ring was full); 0 normally.
static Napi::Value SignalStraysLost(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(Hub::Get().StraysLost())); }

void InitSignal(Napi::Env env, Napi::Object exports) {
  SetFunctions(env, exports,
               {{"sigqueueValue", SigqueueValue},
                {"sigqueueBatch", SigqueueBatch},
                {"sigqueueThreadBatch", SigqueueThreadBatch},
                {"threadId", ThreadId},
                {"signalRange", SignalRange},
                {"signalStraysLost", SignalStraysLost}});
  exports.Set("SignalReceiver", SignalReceiver::Define(env));
  exports.Set("SignalPoller", SignalPoller::Define(env));
}

}  // namespace ipc
