// System V message queues: ftok, msgget, msgctl, msgsnd, msgrcv. These queues have no fd, so a
// blocking receive runs on a dedicated thread per receiver (never the libuv threadpool) and hands
// batches to the event loop through a thread-safe function; a send into a full queue is finished
// by a dedicated sender thread. Both are ThreadCores (thread.h): stopped with their environment.
#include <sys/ipc.h>
#include <sys/msg.h>

#include <climits>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include <mutex>
#include "callback.h"

#include "thread.h"

namespace ipc {

// mtypes msgsnd takes (and the receivers wait for): 1..LONG_MAX, within the safe-integer range.
constexpr int64_t kMaxMtype = LONG_MAX < kMaxSafeInteger ? LONG_MAX : kMaxSafeInteger;

// ftokKey(path, projId) -> key
static Napi::Value FtokKey(const Napi::CallbackInfo& info) {
  std::string path = ArgPath(info, 0);
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
  if (msgctl(ArgInt(info, 0, "msqid", 0), IPC_STAT, &ds) != 0) ThrowErrno(env, "msgctl", errno);
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

// msgRemove(msqid): IPC_RMID (wakes every blocked receiver and sender with EIDRM).
static Napi::Value MsgRemove(const Napi::CallbackInfo& info) {
  if (msgctl(ArgInt(info, 0, "msqid", 0), IPC_RMID, nullptr) != 0) ThrowErrno(info.Env(), "msgctl", errno);
  return info.Env().Undefined();
}

// One msgsnd of (mtype, bytes); false with *err set on failure (EAGAIN with IPC_NOWAIT: full).
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
  int msqid = ArgInt(info, 0, "msqid", 0);
  long mtype = static_cast<long>(ArgLong(info, 1, "mtype", 1, kMaxMtype));
  Napi::Uint8Array bytes = ArgBytes(info, 2, "bytes");
  int err = 0;
  if (SendOne(msqid, mtype, reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength(), IPC_NOWAIT, &err)) return Napi::Boolean::New(env, true);
  if (err == EAGAIN) return Napi::Boolean::New(env, false);
  ThrowErrno(env, "msgsnd", err);
}

// msgReceiveNow(msqid, mtype, max) -> Buffer of the first message msgrcv(mtype) selects, or null
// if there is none (IPC_NOWAIT). mtype as msgrcv takes it: 0 any, < 0 the lowest type <= -mtype.
static Napi::Value MsgReceiveNow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int msqid = ArgInt(info, 0, "msqid", 0);
  long mtype = static_cast<long>(ArgLong(info, 1, "mtype", -kMaxMtype, kMaxMtype));
  size_t max = static_cast<size_t>(ArgInt(info, 2, "max", 0));
  std::vector<char> buf(sizeof(long) + max);
  for (;;) {
    ssize_t n = msgrcv(msqid, buf.data(), max, mtype, IPC_NOWAIT);
    if (n >= 0) return Napi::Buffer<char>::Copy(env, buf.data() + sizeof(long), static_cast<size_t>(n));
    if (errno == EINTR) continue;
    if (errno == ENOMSG) return env.Null();
    ThrowErrno(env, "msgrcv", errno);
  }
}

// ---- SysvReceiver

// The receive thread: blocked in msgrcv(mtype); each wake-up drains what is there (IPC_NOWAIT)
// into one batch of records [u32 length][bytes] (little-endian). A zero-length message of
// `mtype` only wakes it (Stop sends one). An error (EIDRM: the queue was removed) ends it.
class ReceiverCore : public ThreadCore {
 public:
  ReceiverCore(int msqid, long mtype, size_t max) : msqid_(msqid), mtype_(mtype), max_(max) {}

 private:
  struct Batch : Report {
    std::vector<char> data;
    int error = 0;
    void Deliver(napi_env env, napi_value callback) override {
      napi_value argv[2];
      if (error != 0) {
        argv[0] = ErrnoErrorValue(env, "msgrcv", error);
        argv[1] = JsNull(env);
      } else {
        argv[0] = JsNull(env);
        argv[1] = JsBufferCopy(env, data.data(), data.size());
      }
      CallJs(env, From::kThreadsafeFunction, callback, 2, argv);
    }
  };

  void Run() override {
    Receive();
    Exiting();
  }

  void Receive() {
    std::vector<char> buf(sizeof(long) + max_);
    const size_t batchLimit = 256 * 1024;
    while (!stopping()) {
      ssize_t n = msgrcv(msqid_, buf.data(), max_, mtype_, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        auto* b = new Batch();
        b->error = errno;
        Post(b);
        return;
      }
      auto batch = std::make_unique<Batch>();
      auto add = [&](ssize_t len) {
        char head[4];
        uint32_t l = static_cast<uint32_t>(len);
        for (int i = 0; i < 4; i++) head[i] = static_cast<char>((l >> (8 * i)) & 0xff);
        batch->data.insert(batch->data.end(), head, head + 4);
        batch->data.insert(batch->data.end(), buf.data() + sizeof(long), buf.data() + sizeof(long) + len);
      };
      if (n > 0) add(n);
      while (batch->data.size() < batchLimit) {
        ssize_t m = msgrcv(msqid_, buf.data(), max_, mtype_, IPC_NOWAIT);
        if (m < 0) break;  // ENOMSG: drained (other errors show on the next blocking call)
        if (m > 0) add(m);
      }
      if (stopping()) return;
      if (batch->data.empty()) continue;
      if (!Post(batch.release())) return;
    }
  }

  // A zero-length message of its type wakes a blocked msgrcv (false if it cannot be sent now,
  // e.g. the queue is full: the thread then ends with its next message or the queue's removal).
  bool Wake() override {
    std::lock_guard<std::mutex> lock(wake_mu_);
    if (exiting_) return true;  // the thread is past its last msgrcv: nothing to wake
    int err = 0;
    wake_sent_ = SendOne(msqid_, mtype_, nullptr, 0, IPC_NOWAIT, &err);
    return wake_sent_;
  }

  // The thread leaves: a wake-up sent after its last msgrcv would stay in the queue, unread, so
  // it takes it back (a zero-length message of its type; a longer one is left alone: E2BIG).
  void Exiting() {
    std::lock_guard<std::mutex> lock(wake_mu_);
    exiting_ = true;
    if (!wake_sent_) return;
    char none[sizeof(long)];
    while (msgrcv(msqid_, none, 0, mtype_, IPC_NOWAIT) < 0 && errno == EINTR) {
    }
  }

  int msqid_;
  long mtype_;
  size_t max_;
  std::mutex wake_mu_;
  bool exiting_ = false;
  bool wake_sent_ = false;
};

// new SysvReceiver(msqid, mtype, maxBytes, onBatch(error, batch)): see ReceiverCore. onBatch gets
// (null, Buffer) for each batch, or (Error, null) once, when receiving failed (the Error is an
// errno error of syscall "msgrcv"; code EIDRM when the queue was removed). Keeps the event loop
// alive until close(), and lives until then, referenced or not. After close() no batch is
// delivered.
class SysvReceiver : public Napi::ObjectWrap<SysvReceiver> {
 public:
  static Napi::Function Define(Napi::Env env) { return DefineClass(env, "SysvReceiver", {InstanceMethod<&SysvReceiver::Close>("close")}); }

  SysvReceiver(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SysvReceiver>(info) {
    int msqid = ArgInt(info, 0, "msqid", 0);
    long mtype = static_cast<long>(ArgLong(info, 1, "mtype", 1, kMaxMtype));
    size_t max = static_cast<size_t>(ArgInt(info, 2, "maxBytes", 0));
    Napi::Function onBatch = ArgFunction(info, 3, "onBatch");
    core_ = std::make_shared<ReceiverCore>(msqid, mtype, max);
    core_->Start(info.Env(), onBatch, "ipc-sysv-recv", true);
    pin_.Hold(this);  // until close()
  }

  ~SysvReceiver() override {
    if (core_) core_->Stop();
  }

 private:
  Napi::Value Close(const Napi::CallbackInfo& info) {
    core_->Stop();
    pin_.Release();
    return info.Env().Undefined();
  }

  std::shared_ptr<ReceiverCore> core_;
  Pin pin_;
};

// ---- SysvSender

// The sender thread: finishes sends that found the queue full, in order, with blocking msgsnd.
// It reports the cumulative count of messages it has queued whenever its own queue runs empty,
// or an error (and ends).
class SenderCore : public ThreadCore {
 public:
  explicit SenderCore(int msqid) : msqid_(msqid) {}

  // JS thread: one message (copied) for the thread.
  void Push(long mtype, const char* data, size_t len) {
    if (stopped()) return;
    {
      std::lock_guard<std::mutex> lock(qmu_);
      queue_.emplace_back(mtype, std::vector<char>(data, data + len));
    }
    qcv_.notify_one();
  }

 private:
  struct Progress : Report {
    int error;
    double sent;
    Progress(int e, double s) : error(e), sent(s) {}
    void Deliver(napi_env env, napi_value callback) override {
      napi_value argv[2] = {error != 0 ? ErrnoErrorValue(env, "msgsnd", error) : JsNull(env), JsNumber(env, sent)};
      CallJs(env, From::kThreadsafeFunction, callback, 2, argv);
    }
  };

  void Run() override {
    for (;;) {
      std::pair<long, std::vector<char>> item;
      {
        std::unique_lock<std::mutex> lock(qmu_);
        qcv_.wait(lock, [&] { return !queue_.empty() || stopping(); });
        if (stopping()) return;
        item = std::move(queue_.front());
        queue_.pop_front();
        in_send_ = true;
      }
      int err = 0;
      bool ok = SendOne(msqid_, item.first, item.second.data(), item.second.size(), 0, &err);
      double sent = 0;
      bool last = false;
      {
        std::lock_guard<std::mutex> lock(qmu_);
        in_send_ = false;
        if (ok) sent_ += 1;
        sent = sent_;
        last = queue_.empty();
      }
      if (stopping()) return;
      if (!ok || last) {
        if (!Post(new Progress(ok ? 0 : err, sent))) return;
        if (!ok) return;
      }
    }
  }

  // Wakes the thread waiting for work; one blocked in msgsnd cannot be woken (false).
  bool Wake() override {
    bool busy;
    {
      std::lock_guard<std::mutex> lock(qmu_);
      busy = in_send_;
    }
    qcv_.notify_all();
    return !busy;
  }

  int msqid_;
  std::mutex qmu_;
  std::condition_variable qcv_;
  std::deque<std::pair<long, std::vector<char>>> queue_;  // qmu_
  double sent_ = 0;                                       // qmu_: messages queued in the kernel so far
  bool in_send_ = false;                                  // qmu_
};

// new SysvSender(msqid, onProgress(error, sent)): see SenderCore. onProgress gets (null, sent)
// each time its queue runs empty, (Error, sent) on failure (an errno error of syscall "msgsnd").
// Does not keep the event loop alive; lives until close(), referenced or not. close() ends it;
// what it still holds is dropped.
class SysvSender : public Napi::ObjectWrap<SysvSender> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SysvSender",
                       {
                           InstanceMethod<&SysvSender::Push>("push"),
                           InstanceMethod<&SysvSender::Close>("close"),
                       });
  }

  SysvSender(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SysvSender>(info) {
    int msqid = ArgInt(info, 0, "msqid", 0);
    Napi::Function onProgress = ArgFunction(info, 1, "onProgress");
    core_ = std::make_shared<SenderCore>(msqid);
    core_->Start(info.Env(), onProgress, "ipc-sysv-send", false);
    pin_.Hold(this);  // until close()
  }

  ~SysvSender() override {
    if (core_) core_->Stop();
  }

 private:
  // push(mtype, bytes): queue one message (copied) for the thread.
  Napi::Value Push(const Napi::CallbackInfo& info) {
    long mtype = static_cast<long>(ArgLong(info, 0, "mtype", 1, kMaxMtype));
    Napi::Uint8Array bytes = ArgBytes(info, 1, "bytes");
    core_->Push(mtype, reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength());
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    core_->Stop();
    pin_.Release();
    return info.Env().Undefined();
  }

  std::shared_ptr<SenderCore> core_;
  Pin pin_;
};

void InitSysv(Napi::Env env, Napi::Object exports) {
  SetFunctions(
      env, exports,
      {{"ftokKey", FtokKey}, {"msgGet", MsgGet}, {"msgStat", MsgStat}, {"msgRemove", MsgRemove}, {"msgSend", MsgSend}, {"msgReceiveNow", MsgReceiveNow}});
  exports.Set("SysvReceiver", SysvReceiver::Define(env));
  exports.Set("SysvSender", SysvSender::Define(env));
  exports.Set("sysvConstants", Constants(env, {{"IPC_CREAT", IPC_CREAT}, {"IPC_EXCL", IPC_EXCL}}));
}

}  // namespace ipc
