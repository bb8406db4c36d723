// Module entry: the per-environment registry first (env.cc), then one Init per mechanism file.
// The addon is context-aware: it is loaded, and Init runs, once per environment (each Worker).
#include "common.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ipc::InitEnv(env, exports);
  ipc::InitPipe(env, exports);
  ipc::InitPidfd(env, exports);
  ipc::InitSocket(env, exports);
  ipc::InitFifo(env, exports);
  ipc::InitPoll(env, exports);
  ipc::InitFd(env, exports);
  ipc::InitMark(env, exports);
  ipc::InitMq(env, exports);
  ipc::InitSysv(env, exports);
  ipc::InitShm(env, exports);
  ipc::InitSem(env, exports);
  ipc::InitSignal(env, exports);
  return exports;
}

NODE_API_MODULE(ipc_native, Init)
