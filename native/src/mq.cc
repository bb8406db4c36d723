// Message queues. POSIX: mq_open/mq_send/mq_receive/mq_unlink on non-blocking descriptors (on
// Linux an mqd_t is an fd, so readiness comes from the event loop through FdWatcher), plus flock()
// on the queue's fd, which marks a live owner (the kernel drops the lock when the owner dies).
#include "common.h"
#include <fcntl.h>
#include <mqueue.h>
#include <sys/file.h>
#include <unistd.h>
#include <cstring>
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

void InitMq(Napi::Env env, Napi::Object exports) {
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
