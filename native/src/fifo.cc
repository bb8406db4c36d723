// Named pipes: mkfifo(). Opening, reading and writing go through ordinary fds (O_NONBLOCK opens
// never block on a FIFO; readiness comes from the event loop).
#include <sys/stat.h>
#include <sys/types.h>
#include "common.h"

namespace ipc {

// mkfifo(path, mode): fails with EEXIST if anything (a symlink included) is at `path`.
static Napi::Value Mkfifo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgPath(info, 0);
  int mode = ArgInt(info, 1, "mode", 0, 07777);
  if (mkfifo(path.c_str(), static_cast<mode_t>(mode)) != 0) ThrowErrno(env, "mkfifo", errno);
  return env.Undefined();
}

void InitFifo(Napi::Env env, Napi::Object exports) { exports.Set("mkfifo", Napi::Function::New(env, Mkfifo, "mkfifo")); }

}  // namespace ipc
