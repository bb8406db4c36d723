// Named pipes: mkfifo(). Opening, reading and writing go through ordinary fds (O_NONBLOCK opens
// never block on a FIFO; readiness comes from the event loop).
#include "common.h"
#include <sys/stat.h>
#include <sys/types.h>

namespace ipc {

// mkfifo(path, mode): fails with EEXIST if anything (a symlink included) is at `path`.
static Napi::Value Mkfifo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "path must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.find('\0') != std::string::npos) throw Napi::TypeError::New(env, "path must not contain NUL");
  int mode = ArgInt(info, 1, "mode");
  if (mkfifo(path.c_str(), static_cast<mode_t>(mode)) != 0) ThrowErrno(env, "mkfifo", errno);
  return env.Undefined();
}

void InitFifo(Napi::Env env, Napi::Object exports) {
  exports.Set("mkfifo", Napi::Function::New(env, Mkfifo, "mkfifo"));
}

}  // namespace ipc
