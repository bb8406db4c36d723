// POSIX message queues: mq_open/mq_send/mq_receive/mq_unlink/mq_getattr on non-blocking
// descriptors. On Linux an mqd_t is an fd, so readiness comes from the event loop through
// FdWatcher (poll.cc); the descriptors mqOpen returns are owned by native (closed with their
// environment unless closed before with closeFd, fd.cc).
#include <fcntl.h>
#include <mqueue.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "env.h"

namespace ipc {

static void PutU32(char* at, uint32_t v) {
  for (int i = 0; i < 4; i++) at[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

// mqOpen(name, oflag, mode, maxmsg, msgsize) -> fd (O_CLOEXEC added). maxmsg/msgsize apply with
// O_CREAT (0: the system defaults).
static Napi::Value MqOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgName(info, 0);
  int oflag = ArgInt(info, 1, "oflag") | O_CLOEXEC;
  int mode = ArgInt(info, 2, "mode", 0, 07777);
  int maxmsg = ArgInt(info, 3, "maxmsg", 0);
  int msgsize = ArgInt(info, 4, "msgsize", 0);
  std::shared_ptr<EnvState> state = EnvState::Of(env);
  struct mq_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.mq_maxmsg = maxmsg;
  attr.mq_msgsize = msgsize;
  mqd_t q = mq_open(name.c_str(), oflag, static_cast<mode_t>(mode), (oflag & O_CREAT) && maxmsg > 0 ? &attr : nullptr);
  if (q == static_cast<mqd_t>(-1)) ThrowErrno(env, "mq_open", errno);
  state->TrackFd(q);
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
  if (mq_getattr(ArgFd(info, 0), &attr) != 0) ThrowErrno(env, "mq_getattr", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("maxmsg", Napi::Number::New(env, attr.mq_maxmsg));
  out.Set("msgsize", Napi::Number::New(env, attr.mq_msgsize));
  out.Set("curmsgs", Napi::Number::New(env, attr.mq_curmsgs));
  return out;
}

// mqSend(fd, tag, bytes, priority) -> true when queued, false when the queue is full (EAGAIN).
// A tag >= 0 goes first as a little-endian u32 (the connection a shared queue's message is for);
// -1 sends `bytes` alone.
static Napi::Value MqSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  int64_t tag = ArgLong(info, 1, "tag", -1, 0xffffffffLL);
  Napi::Uint8Array bytes = ArgBytes(info, 2, "bytes");
  unsigned prio = static_cast<unsigned>(ArgInt(info, 3, "priority", 0));
  const char* data = reinterpret_cast<const char*>(bytes.Data());
  size_t len = bytes.ByteLength();
  thread_local std::vector<char> scratch;
  if (tag >= 0) {
    scratch.resize(len + 4);
    PutU32(scratch.data(), static_cast<uint32_t>(tag));
    if (len > 0) std::memcpy(scratch.data() + 4, data, len);
    data = scratch.data();
    len += 4;
  }
  int rc;
  do {
    rc = mq_send(fd, data, len, prio);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == EAGAIN) return Napi::Boolean::New(env, false);
    ThrowErrno(env, "mq_send", errno);
  }
  return Napi::Boolean::New(env, true);
}

// mqReceiveMany(fd, out, msgsize) -> bytes used in `out`: records [u32 length][u32 priority][bytes]
// (little-endian) back to back, as many as the queue holds now and `out` fits with room for a
// whole `msgsize` message each (one call drains a wake-up).
static Napi::Value MqReceiveMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  Napi::Uint8Array out = ArgBytes(info, 1, "out");
  size_t msgsize = static_cast<size_t>(ArgInt(info, 2, "msgsize", 0));
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
    PutU32(base + used, static_cast<uint32_t>(n));
    PutU32(base + used + 4, prio);
    used += 8 + static_cast<size_t>(n);
  }
  return Napi::Number::New(env, static_cast<double>(used));
}

void InitMq(Napi::Env env, Napi::Object exports) {
  SetFunctions(env, exports, {{"mqOpen", MqOpen}, {"mqUnlink", MqUnlink}, {"mqGetattr", MqGetattr}, {"mqSend", MqSend}, {"mqReceiveMany", MqReceiveMany}});
  exports.Set("mqConstants", Constants(env, {{"O_RDONLY", O_RDONLY},
                                             {"O_WRONLY", O_WRONLY},
                                             {"O_RDWR", O_RDWR},
                                             {"O_CREAT", O_CREAT},
                                             {"O_EXCL", O_EXCL},
                                             {"O_NONBLOCK", O_NONBLOCK},
                                             {"O_CLOEXEC", O_CLOEXEC},
                                             {"MQ_PRIO_MAX", static_cast<double>(sysconf(_SC_MQ_PRIO_MAX))}}));
}

}  // namespace ipc
