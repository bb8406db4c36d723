// Message queues. POSIX: mq_open/mq_send/mq_receive/mq_unlink on non-blocking descriptors (on
// Linux an mqd_t is an fd, so readiness comes from the event loop through FdWatcher), plus flock()
// on the queue's fd, which marks a live owner (the kernel drops the lock when the owner dies).
#include "common.h"
#include <fcntl.h>
#include <mqueue.h>
#include <sys/file.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ipc {

static std::string ArgName(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsString()) throw Napi::TypeError::New(info.Env(), "name must be a string");
  std::string name = info[i].As<Napi::String>().Utf8Value();
  if (name.find('\0') != std::string::npos) throw Napi::TypeError::New(info.Env(), "name must not contain NUL");
  return name;
}

// mqOpen(name, oflag, mode, maxmsg, msgsize) -> fd. maxmsg/msgsize apply with O_CREAT (0: defaults).
static Napi::Value MqOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgName(info, 0);
  int oflag = ArgInt(info, 1, "oflag");
  int mode = ArgInt(info, 2, "mode");
  int maxmsg = ArgInt(info, 3, "maxmsg");
  int msgsize = ArgInt(info, 4, "msgsize");
  struct mq_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.mq_maxmsg = maxmsg;
  attr.mq_msgsize = msgsize;
  mqd_t q = mq_open(name.c_str(), oflag, static_cast<mode_t>(mode), (oflag & O_CREAT) && maxmsg > 0 ? &attr : nullptr);
  if (q == static_cast<mqd_t>(-1)) ThrowErrno(env, "mq_open", errno);
  return Napi::Number::New(env, q);
}

static Napi::Value MqUnlink(const Napi::CallbackInfo& info) {
  std::string name = ArgName(info, 0);
  if (mq_unlink(name.c_str()) != 0) ThrowErrno(info.Env(), "mq_unlink", errno);
  return info.Env().Undefined();
}

static Napi::Value MqGetattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct mq_attr attr;
  if (mq_getattr(ArgInt(info, 0, "fd"), &attr) != 0) ThrowErrno(env, "mq_getattr", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("maxmsg", Napi::Number::New(env, attr.mq_maxmsg));
  out.Set("msgsize", Napi::Number::New(env, attr.mq_msgsize));
  out.Set("curmsgs", Napi::Number::New(env, attr.mq_curmsgs));
  return out;
}

// mqSend(fd, tag, bytes, priority) -> true when queued, false when the queue is full (EAGAIN).
// A tag >= 0 goes first as a little-endian u32 (the connection a shared queue's message is for).
static Napi::Value MqSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "fd");
  double tag = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
  if (info.Length() < 3 || !info[2].IsTypedArray()) throw Napi::TypeError::New(env, "bytes must be a Uint8Array");
  Napi::Uint8Array bytes = info[2].As<Napi::Uint8Array>();
  unsigned prio = static_cast<unsigned>(ArgInt(info, 3, "priority"));
  const char* data = reinterpret_cast<const char*>(bytes.Data());
  size_t len = bytes.ByteLength();
  thread_local std::vector<char> scratch;
  if (tag >= 0) {
    scratch.resize(len + 4);
    uint32_t t = static_cast<uint32_t>(tag);
    for (int i = 0; i < 4; i++) scratch[i] = static_cast<char>((t >> (8 * i)) & 0xff);
    std::memcpy(scratch.data() + 4, data, len);
    data = scratch.data();
    len += 4;
  }
  if (mq_send(fd, data, len, prio) != 0) {
    if (errno == EAGAIN) return Napi::Boolean::New(env, false);
    ThrowErrno(env, "mq_send", errno);
  }
  return Napi::Boolean::New(env, true);
}

// mqReceiveMany(fd, out, msgsize) -> bytes used in `out`: records [u32 length][u32 priority][bytes]
// back to back, as many as the queue holds now and `out` fits (one call drains a wake-up).
static Napi::Value MqReceiveMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "fd");
  if (info.Length() < 2 || !info[1].IsTypedArray()) throw Napi::TypeError::New(env, "out must be a Uint8Array");
  Napi::Uint8Array out = info[1].As<Napi::Uint8Array>();
  size_t msgsize = static_cast<size_t>(ArgInt(info, 2, "msgsize"));
  char* base = reinterpret_cast<char*>(out.Data());
  size_t cap = out.ByteLength();
  size_t used = 0;
  while (cap - used >= msgsize + 8) {
    unsigned prio = 0;
    ssize_t n = mq_receive(fd, base + used + 8, msgsize, &prio);
    if (n < 0) {
      if (errno == EAGAIN) break;
      if (errno == EINTR) continue;
      ThrowErrno(env, "mq_receive", errno);
    }
    uint32_t len = static_cast<uint32_t>(n);
    for (int i = 0; i < 4; i++) base[used + i] = static_cast<char>((len >> (8 * i)) & 0xff);
    for (int i = 0; i < 4; i++) base[used + 4 + i] = static_cast<char>((prio >> (8 * i)) & 0xff);
    used += 8 + len;
  }
  return Napi::Number::New(env, static_cast<double>(used));
}

// lockExclusive(fd) -> true if this process now holds flock(LOCK_EX) on fd, false if another does.
static Napi::Value LockExclusive(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), "flock", errno);
  }
  return Napi::Boolean::New(info.Env(), true);
}

// ---- System V: msgget/msgsnd/msgrcv. These queues have no fd, so a blocking receive runs on a
// dedicated thread per receiver (never the libuv threadpool) and hands batches to the event loop
// through a ThreadSafeFunction; a send into a full queue is finished by a dedicated sender thread.

// A message as the kernel wants it: the mtype, then the bytes.
struct SysvMsg {
  long mtype;
  char text[1];
};

// ftokKey(path, projId) -> key
static Napi::Value FtokKey(const Napi::CallbackInfo& info) {
  std::string path = ArgName(info, 0);
  key_t key = ftok(path.c_str(), ArgInt(info, 1, "projId"));
  if (key == -1) ThrowErrno(info.Env(), "ftok", errno);
  return Napi::Number::New(info.Env(), key);
}

// msgGet(key, flags) -> msqid
static Napi::Value MsgGet(const Napi::CallbackInfo& info) {
  int id = msgget(static_cast<key_t>(ArgInt(info, 0, "key")), ArgInt(info, 1, "flags"));
  if (id < 0) ThrowErrno(info.Env(), "msgget", errno);
  return Napi::Number::New(info.Env(), id);
}

// msgStat(msqid) -> { uid, cuid, mode, qbytes, qnum, lspid, lrpid }
static Napi::Value MsgStat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct msqid_ds ds;
  if (msgctl(ArgInt(info, 0, "msqid"), IPC_STAT, &ds) != 0) ThrowErrno(env, "msgctl", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("uid", Napi::Number::New(env, ds.msg_perm.uid));
  out.Set("cuid", Napi::Number::New(env, ds.msg_perm.cuid));
  out.Set("mode", Napi::Number::New(env, ds.msg_perm.mode & 0777));
  out.Set("qbytes", Napi::Number::New(env, static_cast<double>(ds.msg_qbytes)));
  out.Set("qnum", Napi::Number::New(env, static_cast<double>(ds.msg_qnum)));
  out.Set("lspid", Napi::Number::New(env, ds.msg_lspid));
  out.Set("lrpid", Napi::Number::New(env, ds.msg_lrpid));
  return out;
}

// msgRemove(msqid): IPC_RMID (wakes every blocked receiver with EIDRM).
static Napi::Value MsgRemove(const Napi::CallbackInfo& info) {
  if (msgctl(ArgInt(info, 0, "msqid"), IPC_RMID, nullptr) != 0) ThrowErrno(info.Env(), "msgctl", errno);
  return info.Env().Undefined();
}

static bool SendOne(int msqid, long mtype, const char* data, size_t len, int flags, int* err) {
  thread_local std::vector<char> buf;
  buf.resize(sizeof(long) + len);
  std::memcpy(buf.data(), &mtype, sizeof(long));
  if (len > 0) std::memcpy(buf.data() + sizeof(long), data, len);
  for (;;) {
    if (msgsnd(msqid, buf.data(), len, flags) == 0) return true;
    if (errno == EINTR) continue;
    *err = errno;
    return false;
  }
}

// msgSend(msqid, mtype, bytes) -> true if queued, false if the queue is full (EAGAIN).
static Napi::Value MsgSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int msqid = ArgInt(info, 0, "msqid");
  long mtype = static_cast<long>(info[1].As<Napi::Number>().DoubleValue());
  if (info.Length() < 3 || !info[2].IsTypedArray()) throw Napi::TypeError::New(env, "bytes must be a Uint8Array");
  Napi::Uint8Array bytes = info[2].As<Napi::Uint8Array>();
  int err = 0;
  if (SendOne(msqid, mtype, reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength(), IPC_NOWAIT, &err)) return Napi::Boolean::New(env, true);
  if (err == EAGAIN) return Napi::Boolean::New(env, false);
  ThrowErrno(env, "msgsnd", err);
}

// msgReceiveNow(msqid, mtype, max) -> Buffer of the first message of that type, or null (IPC_NOWAIT).
static Napi::Value MsgReceiveNow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int msqid = ArgInt(info, 0, "msqid");
  long mtype = static_cast<long>(info[1].As<Napi::Number>().DoubleValue());
  size_t max = static_cast<size_t>(ArgInt(info, 2, "max"));
  std::vector<char> buf(sizeof(long) + max);
  for (;;) {
    ssize_t n = msgrcv(msqid, buf.data(), max, mtype, IPC_NOWAIT);
    if (n >= 0) return Napi::Buffer<char>::Copy(env, buf.data() + sizeof(long), static_cast<size_t>(n));
    if (errno == EINTR) continue;
    if (errno == ENOMSG) return env.Null();
    ThrowErrno(env, "msgrcv", errno);
  }
}

// Shared between a receiver object and its thread (the thread may outlive the object).
struct ReceiverState {
  int msqid;
  long mtype;
  size_t max;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  bool paused = false;
  Napi::ThreadSafeFunction tsfn;
};

// One batch handed to the event loop: concatenated records [u32 length][bytes], or an error.
struct Batch {
  std::vector<char> data;
  int error = 0;
};

// new SysvReceiver(msqid, mtype, maxBytes, onBatch(buffer | null, errno)): a thread blocked in
// msgrcv for `mtype`; each wake-up drains what is there (IPC_NOWAIT) into one batch. A zero-length
// message of `mtype` only wakes the thread (close() sends one). EIDRM ends it (queue removed).
class SysvReceiver : public Napi::ObjectWrap<SysvReceiver> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SysvReceiver", {
      InstanceMethod<&SysvReceiver::Pause>("pause"),
      InstanceMethod<&SysvReceiver::Resume>("resume"),
      InstanceMethod<&SysvReceiver::Close>("close"),
    });
  }

  SysvReceiver(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SysvReceiver>(info) {
    Napi::Env env = info.Env();
    state_ = std::make_shared<ReceiverState>();
    state_->msqid = ArgInt(info, 0, "msqid");
    state_->mtype = static_cast<long>(info[1].As<Napi::Number>().DoubleValue());
    state_->max = static_cast<size_t>(ArgInt(info, 2, "maxBytes"));
    if (info.Length() < 4 || !info[3].IsFunction()) throw Napi::TypeError::New(env, "onBatch must be a function");
    state_->tsfn = Napi::ThreadSafeFunction::New(env, info[3].As<Napi::Function>(), "ipc-sysv-receiver", 0, 1);
    std::shared_ptr<ReceiverState> st = state_;
    std::thread([st]() { Run(st); }).detach();
  }

  ~SysvReceiver() override { Stop(); }

 private:
  static void Deliver(Napi::Env env, Napi::Function cb, Batch* batch) {
    std::unique_ptr<Batch> owned(batch);
    if (env == nullptr) return;
    Napi::Value buf = owned->error != 0 ? env.Null() : Napi::Buffer<char>::Copy(env, owned->data.data(), owned->data.size());
    try {
      cb.Call({buf, Napi::Number::New(env, owned->error)});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  }

  static void Run(std::shared_ptr<ReceiverState> st) {
    std::vector<char> buf(sizeof(long) + st->max);
    const size_t batchLimit = 256 * 1024;
    while (!st->stop.load()) {
      {
        std::unique_lock<std::mutex> lock(st->mu);
        st->cv.wait(lock, [&] { return !st->paused || st->stop.load(); });
      }
      if (st->stop.load()) break;
      ssize_t n = msgrcv(st->msqid, buf.data(), st->max, st->mtype, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        Batch* b = new Batch();
        b->error = errno;
        if (!st->stop.load()) st->tsfn.BlockingCall(b, Deliver);
        else delete b;
        break;
      }
      Batch* batch = new Batch();
      auto add = [&](ssize_t len) {
        uint32_t l = static_cast<uint32_t>(len);
        const char* p = reinterpret_cast<const char*>(&l);
        batch->data.insert(batch->data.end(), p, p + 4);
        batch->data.insert(batch->data.end(), buf.data() + sizeof(long), buf.data() + sizeof(long) + len);
      };
      if (n > 0) add(n);
      while (batch->data.size() < batchLimit) {
        ssize_t m = msgrcv(st->msqid, buf.data(), st->max, st->mtype, IPC_NOWAIT);
        if (m < 0) break;  // ENOMSG: drained (other errors show on the next blocking call)
        if (m > 0) add(m);
      }
      if (st->stop.load() || batch->data.empty()) {
        delete batch;
        continue;
      }
      if (st->tsfn.BlockingCall(batch, Deliver) != napi_ok) {
        delete batch;
        break;
      }
    }
    st->tsfn.Release();
  }

  void Stop() {
    if (!state_ || state_->stop.exchange(true)) return;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->paused = false;
    }
    state_->cv.notify_all();
    int err = 0;
    SendOne(state_->msqid, state_->mtype, nullptr, 0, IPC_NOWAIT, &err);  // wake a blocked msgrcv
  }

  Napi::Value Pause(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->paused = true;
    return info.Env().Undefined();
  }

  Napi::Value Resume(const Napi::CallbackInfo& info) {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->paused = false;
    }
    state_->cv.notify_all();
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  std::shared_ptr<ReceiverState> state_;
};

struct SenderState {
  int msqid;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<long, std::vector<char>>> queue;
  double sent = 0;  // messages queued in the kernel so far (cumulative)
  Napi::ThreadSafeFunction tsfn;
};

// new SysvSender(msqid, onProgress(errno, sent)): finishes sends that found the queue full, in
// order, with blocking msgsnd on its own thread. onProgress reports the cumulative count of
// messages it has queued whenever its own queue runs empty (or errno on failure); the caller
// compares it with what it pushed, since it may have pushed more meanwhile.
class SysvSender : public Napi::ObjectWrap<SysvSender> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SysvSender", {
      InstanceMethod<&SysvSender::Push>("push"),
      InstanceMethod<&SysvSender::Close>("close"),
    });
  }

  SysvSender(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SysvSender>(info) {
    Napi::Env env = info.Env();
    state_ = std::make_shared<SenderState>();
    state_->msqid = ArgInt(info, 0, "msqid");
    if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env, "onDrained must be a function");
    state_->tsfn = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "ipc-sysv-sender", 0, 1);
    state_->tsfn.Unref(env);
    std::shared_ptr<SenderState> st = state_;
    std::thread([st]() { Run(st); }).detach();
  }

  ~SysvSender() override { Stop(); }

 private:
  static void Run(std::shared_ptr<SenderState> st) {
    for (;;) {
      std::pair<long, std::vector<char>> item;
      bool last = false;
      {
        std::unique_lock<std::mutex> lock(st->mu);
        st->cv.wait(lock, [&] { return !st->queue.empty() || st->stop.load(); });
        if (st->stop.load()) break;
        item = std::move(st->queue.front());
        st->queue.pop_front();
      }
      int err = 0;
      bool ok = SendOne(st->msqid, item.first, item.second.data(), item.second.size(), 0, &err);
      double sent = 0;
      {
        std::lock_guard<std::mutex> lock(st->mu);
        if (ok) st->sent += 1;
        sent = st->sent;
        last = st->queue.empty();
      }
      if (!ok || last) {
        auto* report = new std::pair<int, double>(ok ? 0 : err, sent);
        st->tsfn.BlockingCall(report, [](Napi::Env env, Napi::Function cb, std::pair<int, double>* r) {
          std::unique_ptr<std::pair<int, double>> owned(r);
          if (env == nullptr) return;
          try {
            cb.Call({Napi::Number::New(env, owned->first), Napi::Number::New(env, owned->second)});
          } catch (const Napi::Error& e) {
            napi_fatal_exception(env, e.Value());
          }
        });
        if (!ok) break;
      }
    }
    st->tsfn.Release();
  }

  void Stop() {
    if (!state_ || state_->stop.exchange(true)) return;
    state_->cv.notify_all();
  }

  // push(mtype, bytes): queue one message for the thread (copied).
  Napi::Value Push(const Napi::CallbackInfo& info) {
    long mtype = static_cast<long>(info[0].As<Napi::Number>().DoubleValue());
    Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
    const char* d = reinterpret_cast<const char*>(bytes.Data());
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->queue.emplace_back(mtype, std::vector<char>(d, d + bytes.ByteLength()));
    }
    state_->cv.notify_one();
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  std::shared_ptr<SenderState> state_;
};

void InitMq(Napi::Env env, Napi::Object exports) {
  exports.Set("ftokKey", Napi::Function::New(env, FtokKey, "ftokKey"));
  exports.Set("msgGet", Napi::Function::New(env, MsgGet, "msgGet"));
  exports.Set("msgStat", Napi::Function::New(env, MsgStat, "msgStat"));
  exports.Set("msgRemove", Napi::Function::New(env, MsgRemove, "msgRemove"));
  exports.Set("msgSend", Napi::Function::New(env, MsgSend, "msgSend"));
  exports.Set("msgReceiveNow", Napi::Function::New(env, MsgReceiveNow, "msgReceiveNow"));
  exports.Set("SysvReceiver", SysvReceiver::Define(env));
  exports.Set("SysvSender", SysvSender::Define(env));
  Napi::Object sv = Napi::Object::New(env);
  sv.Set("IPC_CREAT", Napi::Number::New(env, IPC_CREAT));
  sv.Set("IPC_EXCL", Napi::Number::New(env, IPC_EXCL));
  exports.Set("sysvConstants", sv);

  exports.Set("mqOpen", Napi::Function::New(env, MqOpen, "mqOpen"));
  exports.Set("mqUnlink", Napi::Function::New(env, MqUnlink, "mqUnlink"));
  exports.Set("mqGetattr", Napi::Function::New(env, MqGetattr, "mqGetattr"));
  exports.Set("mqSend", Napi::Function::New(env, MqSend, "mqSend"));
  exports.Set("mqReceiveMany", Napi::Function::New(env, MqReceiveMany, "mqReceiveMany"));
  exports.Set("lockExclusive", Napi::Function::New(env, LockExclusive, "lockExclusive"));
  Napi::Object k = Napi::Object::New(env);
  k.Set("O_RDONLY", Napi::Number::New(env, O_RDONLY));
  k.Set("O_WRONLY", Napi::Number::New(env, O_WRONLY));
  k.Set("O_RDWR", Napi::Number::New(env, O_RDWR));
  k.Set("O_CREAT", Napi::Number::New(env, O_CREAT));
  k.Set("O_EXCL", Napi::Number::New(env, O_EXCL));
  k.Set("O_NONBLOCK", Napi::Number::New(env, O_NONBLOCK));
  k.Set("O_CLOEXEC", Napi::Number::New(env, O_CLOEXEC));
  k.Set("MQ_PRIO_MAX", Napi::Number::New(env, sysconf(_SC_MQ_PRIO_MAX)));
  exports.Set("mqConstants", k);
}

}  // namespace ipc
