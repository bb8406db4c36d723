// Unix domain sockets: peer credentials (SO_PEERCRED).
#include <sys/socket.h>
#include "common.h"

namespace ipc {

// peerCred(fd) -> { pid, uid, gid } of the process at the other end of a connected Unix socket,
// as the kernel recorded it at connect()/socketpair() time.
static Napi::Value PeerCred(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) ThrowErrno(env, "getsockopt", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  return out;
}

void InitSocket(Napi::Env env, Napi::Object exports) { exports.Set("peerCred", Napi::Function::New(env, PeerCred, "peerCred")); }

}  // namespace ipc
