// Semaphores for sem: POSIX named ones (sem_open), POSIX unnamed ones inside a sealed segment
// (sem_init with pshared = 1: they vanish with the memfd), and System V sets (semget, semop,
// semctl). A Semaphore object is one handle: tryWait/post/value run on the JS thread (sem_trywait
// takes a free unit in userspace); blocking waits run on a waiter thread of the handle's own
// (never the libuv threadpool), which exists while JS wants units and a second longer.
//
// The waiter thread takes units for JS as long as JS's demand (want()) is above zero, and hands
// them over through a thread-safe function. A unit it took that JS never receives (the handle was
// closed, the report dropped) is posted back: no unit is ever lost by the waiting machinery. JS
// gives back a unit that arrives for a wait it has since cancelled. Waits run in slices of 25 ms
// (each slice re-checks the demand and the stop flag), except on a semaphore inside a segment,
// which waits without a limit and is woken at close by a post of its own (only this side ever
// waits on it, and the segment is being torn down).
#include <semaphore.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

#include <algorithm>
#include <climits>

#include "callback.h"
#include "segment.h"
#include "thread.h"

namespace ipc {

namespace {

constexpr int kSliceMs = 25;
constexpr auto kIdle = std::chrono::seconds(1);
// Tags a SemRing object, so a Semaphore never unwraps another class's object as one.
constexpr napi_type_tag kSemRingTag = {0x6970632d73656d72ULL, 0x696e672d74616731ULL};

union SemUn {
  int val;
  struct semid_ds* buf;
  unsigned short* array;
  struct seminfo* info;
};

// One semaphore, whatever its kind. Errors are errno values; 0 is success.
class Target {
 public:
  virtual ~Target() = default;
  // Takes one unit if there is one: 0, else EAGAIN.
  virtual int TryWait() = 0;
  // Takes one unit, waiting at most `ms` (< 0: no limit): 0, else ETIMEDOUT (also after a signal).
  virtual int Wait(int ms) = 0;
  virtual int Post(int n) = 0;
  virtual int Value(int* out) = 0;
  virtual const char* WaitCall() const = 0;
  virtual const char* PostCall() const = 0;
  virtual const char* ValueCall() const = 0;
  // True for a semaphore inside a segment (a post wakes this side's own waiter at close).
  virtual bool InSegment() const { return false; }
};

class PosixTarget : public Target {
 public:
  PosixTarget(sem_t* sem, bool named, std::shared_ptr<Mapping> mapping) : sem_(sem), named_(named), mapping_(std::move(mapping)) {}
  ~PosixTarget() override {
    if (named_) sem_close(sem_);
  }

  int TryWait() override {
    for (;;) {
      if (sem_trywait(sem_) == 0) return 0;
      if (errno != EINTR) return errno;
    }
  }

  int Wait(int ms) override {
    if (ms < 0) {
      for (;;) {
        if (sem_wait(sem_) == 0) return 0;
        if (errno != EINTR) return errno;
      }
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += static_cast<long>(ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec += 1;
      deadline.tv_nsec -= 1000000000L;
    }
    for (;;) {
      if (sem_clockwait(sem_, CLOCK_MONOTONIC, &deadline) == 0) return 0;
      if (errno != EINTR) return errno;
    }
  }

  // Refuses (EOVERFLOW) a post that would pass SEM_VALUE_MAX before posting anything.
  int Post(int n) override {
    int value = 0;
    if (sem_getvalue(sem_, &value) != 0) return errno;
    if (static_cast<int64_t>(std::max(value, 0)) + n > SEM_VALUE_MAX) return EOVERFLOW;
    for (int i = 0; i < n; i++) {
      if (sem_post(sem_) != 0) return errno;
    }
    return 0;
  }

  int Value(int* out) override { return sem_getvalue(sem_, out) == 0 ? 0 : errno; }
  const char* WaitCall() const override { return "sem_wait"; }
  const char* PostCall() const override { return "sem_post"; }
  const char* ValueCall() const override { return "sem_getvalue"; }
  bool InSegment() const override { return mapping_ != nullptr; }

 private:
  sem_t* sem_;
  bool named_;
  std::shared_ptr<Mapping> mapping_;  // what an unnamed semaphore lives in, kept while it is used
};

class SysvTarget : public Target {
 public:
  SysvTarget(int semid, int num, bool undo) : semid_(semid), num_(static_cast<unsigned short>(num)), undo_(undo ? SEM_UNDO : 0) {}

  int TryWait() override { return Op(-1, IPC_NOWAIT, nullptr); }

  int Wait(int ms) override {
    if (ms < 0) return Op(-1, 0, nullptr);
    struct timespec t = {ms / 1000, static_cast<long>(ms % 1000) * 1000000L};
    int rc = Op(-1, 0, &t);
    return rc == EAGAIN || rc == EINTR ? ETIMEDOUT : rc;
  }

  int Post(int n) override { return Op(static_cast<short>(n), 0, nullptr); }

  int Value(int* out) override {
    int v = semctl(semid_, num_, GETVAL);
    if (v < 0) return errno;
    *out = v;
    return 0;
  }

  const char* WaitCall() const override { return "semop"; }
  const char* PostCall() const override { return "semop"; }
  const char* ValueCall() const override { return "semctl"; }

 private:
  // semop is never restarted after a signal (semop(2)): EINTR retries, except in a timed wait.
  int Op(short op, short flags, const struct timespec* timeout) {
    struct sembuf b = {num_, op, static_cast<short>(flags | undo_)};
    for (;;) {
      int rc = timeout != nullptr ? semtimedop(semid_, &b, 1, timeout) : semop(semid_, &b, 1);
      if (rc == 0) return 0;
      if (errno == EINTR && timeout == nullptr) continue;
      return errno;
    }
  }

  int semid_;
  unsigned short num_;
  short undo_;
};

// Units the waiter thread took, on their way to JS. Posted back if they never get there.
struct Units : ThreadCore::Report {
  std::shared_ptr<Target> target;
  int count = 0;
  int error = 0;
  bool delivered = false;
  ~Units() override {
    if (!delivered && count > 0 && !target->InSegment()) target->Post(count);
  }
  void Deliver(napi_env env, napi_value callback) override {
    delivered = true;
    napi_value argv[2] = {error != 0 ? ErrnoErrorValue(env, target->WaitCall(), error) : JsNull(env), JsInt(env, count)};
    CallJs(env, From::kThreadsafeFunction, callback, 2, argv);
  }
};

class WaiterCore : public ThreadCore {
 public:
  WaiterCore(std::shared_ptr<Target> target, int64_t demand) : target_(std::move(target)), demand_(demand) {}

  // JS thread: changes the demand (never below 0). False if the thread has left (start another).
  bool Add(int64_t delta, int64_t* now) {
    std::lock_guard<std::mutex> lock(mu_);
    if (left_) return false;
    demand_ = std::max<int64_t>(0, demand_ + delta);
    *now = demand_;
    cv_.notify_one();
    return true;
  }

 private:
  void Run() override {
    Wait();
    std::lock_guard<std::mutex> lock(mu_);
    left_ = true;
    target_.reset();  // what it points into may go now (a segment is unmapped once nothing uses it)
  }

  void Wait() {
    int slice = target_->InSegment() ? -1 : kSliceMs;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        bool wanted = cv_.wait_for(lock, kIdle, [&] { return demand_ > 0 || stopping(); });
        if (!wanted || stopping()) return;
      }
      int rc = target_->Wait(slice);
      if (rc == ETIMEDOUT || rc == EAGAIN) continue;
      auto units = std::make_unique<Units>();
      units->target = target_;
      if (rc != 0) {
        units->error = rc;
      } else {
        std::lock_guard<std::mutex> lock(mu_);
        if (demand_ == 0) {  // the wait it was for ended meanwhile: give the unit back at once
          if (!target_->InSegment()) target_->Post(1);
          continue;
        }
        units->count = 1;
        demand_--;
        while (demand_ > 0 && target_->TryWait() == 0) {
          demand_--;
          units->count++;
        }
      }
      bool failed = rc != 0;
      if (stopping() || !Post(units.release()) || failed) return;  // a report not posted gives its units back
    }
  }

  // A sliced wait ends within a slice; an unlimited one (a segment's) is woken by a post.
  bool Wake() override {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
    if (!left_ && target_->InSegment()) target_->Post(1);
    return true;
  }

  std::shared_ptr<Target> target_;
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t demand_;     // mu_
  bool left_ = false;  // mu_
};

}  // namespace

// new SemRing(fd, size): maps a sealed memfd (seals and size checked; `fd` stays the caller's) for
// the unnamed semaphores and slots inside it. `buffer` is the mapping as one external ArrayBuffer;
// init(offset, value) makes a process-shared semaphore at `offset`. close() detaches the buffer;
// the mapping goes when nothing uses it any more (semaphores made on it, their waiter threads).
class SemRing : public Napi::ObjectWrap<SemRing> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SemRing",
                       {
                           InstanceAccessor<&SemRing::Buffer>("buffer"),
                           InstanceMethod<&SemRing::Init>("init"),
                           InstanceMethod<&SemRing::Close>("close"),
                       });
  }

  SemRing(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SemRing>(info) {
    Napi::Env env = info.Env();
    int fd = ArgFd(info, 0);
    int64_t size = ArgLong(info, 1, "size", 4096, int64_t(1) << 36);
    BufferMapping m = MapAsBuffer(env, fd, size);
    mapping_ = m.mapping;
    buffer_ = Napi::Persistent(m.buffer);
    hold_ = m.hold;
    napi_type_tag_object(env, info.This(), &kSemRingTag);
  }

  // The semaphore at `offset` (checked: aligned, inside), for a Semaphore of kind 2.
  std::shared_ptr<Target> At(Napi::Env env, int64_t offset) {
    if (!mapping_) ThrowErrno(env, "sem", EBADF);
    if (offset < 0 || offset % 8 != 0 || offset + static_cast<int64_t>(sizeof(sem_t)) > static_cast<int64_t>(mapping_->size))
      ThrowArgRange(env, "offset", "a multiple of 8 inside the segment");
    auto* sem = reinterpret_cast<sem_t*>(static_cast<uint8_t*>(mapping_->base) + offset);
    return std::make_shared<PosixTarget>(sem, false, mapping_);
  }

 private:
  Napi::Value Buffer(const Napi::CallbackInfo& info) {
    if (buffer_.IsEmpty()) return info.Env().Undefined();
    return buffer_.Value();
  }

  Napi::Value Init(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int64_t offset = ArgLong(info, 0, "offset", 0);
    int64_t value = ArgLong(info, 1, "value", 0, SEM_VALUE_MAX);
    std::shared_ptr<Target> t = At(env, offset);
    auto* sem = reinterpret_cast<sem_t*>(static_cast<uint8_t*>(mapping_->base) + offset);
    if (sem_init(sem, 1, static_cast<unsigned>(value)) != 0) ThrowErrno(env, "sem_init", errno);
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!buffer_.IsEmpty()) {
      Napi::ArrayBuffer ab = buffer_.Value();
      if (!ab.IsDetached()) ab.Detach();
      buffer_.Reset();
      hold_->reset();  // detached: no JS can reach the memory any more, whenever the finalizer runs
      hold_ = nullptr;
    }
    mapping_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<Mapping> mapping_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
  std::shared_ptr<Mapping>* hold_ = nullptr;  // the buffer finalizer's share (freed by the finalizer)
};

// new Semaphore(kind, a, b, c, onUnits(error, count)):
//   kind 0, POSIX named: a = name, b = 1 to create it (O_CREAT | O_EXCL, 0600) with value c, 0 to open it;
//   kind 1, System V:    a = semid, b = the semaphore's number in the set, c = true for SEM_UNDO;
//   kind 2, in a segment: a = a SemRing, b = the semaphore's offset in it.
// tryWait() -> bool; post(n); value(); want(delta) -> the waiter thread's demand after adding
// delta (a thread starts when it goes above 0; while above 0 it keeps the event loop alive);
// onUnits(null, count) hands over units it took; onUnits(error, 0) once when waiting failed
// (EIDRM: the set was removed). close() ends the thread; units it holds are posted back.
class Semaphore : public Napi::ObjectWrap<Semaphore> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Semaphore",
                       {
                           InstanceMethod<&Semaphore::TryWait>("tryWait"),
                           InstanceMethod<&Semaphore::Post>("post"),
                           InstanceMethod<&Semaphore::Value>("value"),
                           InstanceMethod<&Semaphore::Want>("want"),
                           InstanceMethod<&Semaphore::Close>("close"),
                       });
  }

  Semaphore(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Semaphore>(info) {
    Napi::Env env = info.Env();
    int kind = ArgInt(info, 0, "kind", 0, 2);
    if (kind == 0) {
      std::string name = ArgName(info, 1);
      bool create = ArgInt(info, 2, "create", 0, 1) == 1;
      int64_t value = create ? ArgLong(info, 3, "value", 0, SEM_VALUE_MAX) : 0;
      sem_t* sem = create ? sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, static_cast<unsigned>(value)) : sem_open(name.c_str(), 0);
      if (sem == SEM_FAILED) ThrowErrno(env, "sem_open", errno);
      target_ = std::make_shared<PosixTarget>(sem, true, nullptr);
    } else if (kind == 1) {
      int semid = ArgInt(info, 1, "semid", 0);
      int num = ArgInt(info, 2, "num", 0, USHRT_MAX);
      bool undo = ArgBool(info, 3, "undo", false);
      target_ = std::make_shared<SysvTarget>(semid, num, undo);
    } else {
      bool tagged = false;
      if (!info[1].IsObject() || napi_check_object_type_tag(env, info[1], &kSemRingTag, &tagged) != napi_ok || !tagged) ThrowArgType(env, "ring", "a SemRing");
      SemRing* ring = Napi::ObjectWrap<SemRing>::Unwrap(info[1].As<Napi::Object>());
      target_ = ring->At(env, ArgLong(info, 2, "offset", 0));
    }
    on_units_ = Napi::Persistent(ArgFunction(info, 4, "onUnits"));
  }

  ~Semaphore() override {
    if (core_) core_->Stop();
  }

 private:
  void CheckOpen(Napi::Env env) {
    if (!target_) ThrowErrno(env, "sem", EBADF);
  }

  Napi::Value TryWait(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    int rc = target_->TryWait();
    if (rc == 0) return Napi::Boolean::New(env, true);
    if (rc == EAGAIN) return Napi::Boolean::New(env, false);
    ThrowErrno(env, target_->WaitCall(), rc);
  }

  Napi::Value Post(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    int n = ArgInt(info, 0, "n", 1, SHRT_MAX);
    int rc = target_->Post(n);
    if (rc != 0) ThrowErrno(env, target_->PostCall(), rc);
    return env.Undefined();
  }

  Napi::Value Value(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    int v = 0;
    int rc = target_->Value(&v);
    if (rc != 0) ThrowErrno(env, target_->ValueCall(), rc);
    return Napi::Number::New(env, v);
  }

  Napi::Value Want(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    int64_t delta = ArgLong(info, 0, "delta", -(int64_t(1) << 40), int64_t(1) << 40);
    int64_t now = 0;
    if (!core_ || !core_->Add(delta, &now)) {
      if (delta <= 0) return Napi::Number::New(env, 0);
      if (core_) core_->Stop();  // it left (idle or failed): its reports are all delivered or given back
      core_ = std::make_shared<WaiterCore>(target_, delta);
      core_->Start(env, on_units_.Value(), "ipc-sem-wait", true);
      now = delta;
    }
    core_->SetRef(env, now > 0);
    return Napi::Number::New(env, static_cast<double>(now));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (core_) core_->Stop();
    core_.reset();
    target_.reset();  // a named semaphore is sem_close()d once its thread lets go of it too
    return info.Env().Undefined();
  }

  std::shared_ptr<Target> target_;
  std::shared_ptr<WaiterCore> core_;
  Napi::FunctionReference on_units_;
};

// semUnlink(name): sem_unlink.
static Napi::Value SemUnlink(const Napi::CallbackInfo& info) {
  std::string name = ArgName(info, 0);
  if (sem_unlink(name.c_str()) != 0) ThrowErrno(info.Env(), "sem_unlink", errno);
  return info.Env().Undefined();
}

// semGet(key, nsems, flags) -> semid
static Napi::Value SemGet(const Napi::CallbackInfo& info) {
  int id = semget(static_cast<key_t>(ArgInt(info, 0, "key")), ArgInt(info, 1, "nsems", 0), ArgInt(info, 2, "flags"));
  if (id < 0) ThrowErrno(info.Env(), "semget", errno);
  return Napi::Number::New(info.Env(), id);
}

// semSetVal(semid, num, value): SETVAL.
static Napi::Value SemSetVal(const Napi::CallbackInfo& info) {
  SemUn arg;
  arg.val = ArgInt(info, 2, "value", 0);
  if (semctl(ArgInt(info, 0, "semid", 0), ArgInt(info, 1, "num", 0, USHRT_MAX), SETVAL, arg) != 0) ThrowErrno(info.Env(), "semctl", errno);
  return info.Env().Undefined();
}

// semStat(semid) -> { uid, cuid, mode, nsems, otime, ctime }
static Napi::Value SemStat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct semid_ds ds;
  SemUn arg;
  arg.buf = &ds;
  if (semctl(ArgInt(info, 0, "semid", 0), 0, IPC_STAT, arg) != 0) ThrowErrno(env, "semctl", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("uid", Napi::Number::New(env, ds.sem_perm.uid));
  out.Set("cuid", Napi::Number::New(env, ds.sem_perm.cuid));
  out.Set("mode", Napi::Number::New(env, ds.sem_perm.mode & 0777));
  out.Set("nsems", Napi::Number::New(env, static_cast<double>(ds.sem_nsems)));
  out.Set("otime", Napi::Number::New(env, static_cast<double>(ds.sem_otime)));
  out.Set("ctime", Napi::Number::New(env, static_cast<double>(ds.sem_ctime)));
  return out;
}

// semRemove(semid): IPC_RMID (every waiter wakes with EIDRM).
static Napi::Value SemRemove(const Napi::CallbackInfo& info) {
  if (semctl(ArgInt(info, 0, "semid", 0), 0, IPC_RMID) != 0) ThrowErrno(info.Env(), "semctl", errno);
  return info.Env().Undefined();
}

// semTouch(semid, num): a semop that changes nothing but sets sem_otime, the sign that a new set
// is initialised (semget(2) NOTES): +1 and -1 on `num` in one atomic operation, which never blocks.
static Napi::Value SemTouch(const Napi::CallbackInfo& info) {
  unsigned short num = static_cast<unsigned short>(ArgInt(info, 1, "num", 0, USHRT_MAX));
  struct sembuf ops[2] = {{num, 1, 0}, {num, -1, 0}};
  int semid = ArgInt(info, 0, "semid", 0);
  for (;;) {
    if (semop(semid, ops, 2) == 0) break;
    if (errno != EINTR) ThrowErrno(info.Env(), "semop", errno);
  }
  return info.Env().Undefined();
}

// semInfo() -> { semmsl, semmns, semopm, semmni, semvmx }: the System V limits (IPC_INFO).
static Napi::Value SemInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct seminfo si;
  SemUn arg;
  arg.info = &si;
  if (semctl(0, 0, IPC_INFO, arg) < 0) ThrowErrno(env, "semctl", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("semmsl", Napi::Number::New(env, si.semmsl));
  out.Set("semmns", Napi::Number::New(env, si.semmns));
  out.Set("semopm", Napi::Number::New(env, si.semopm));
  out.Set("semmni", Napi::Number::New(env, si.semmni));
  out.Set("semvmx", Napi::Number::New(env, si.semvmx));
  return out;
}

void InitSem(Napi::Env env, Napi::Object exports) {
  SetFunctions(env, exports,
               {{"semUnlink", SemUnlink},
                {"semGet", SemGet},
                {"semSetVal", SemSetVal},
                {"semStat", SemStat},
                {"semRemove", SemRemove},
                {"semTouch", SemTouch},
                {"semInfo", SemInfo}});
  exports.Set("SemRing", SemRing::Define(env));
  exports.Set("Semaphore", Semaphore::Define(env));
  exports.Set("semConstants", Constants(env, {{"SEM_VALUE_MAX", SEM_VALUE_MAX},
                                              {"SEM_T_BYTES", static_cast<int>(sizeof(sem_t))},
                                              {"IPC_PRIVATE", IPC_PRIVATE},
                                              {"IPC_CREAT", IPC_CREAT},
                                              {"IPC_EXCL", IPC_EXCL}}));
}

}  // namespace ipc
