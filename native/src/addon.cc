// Module entry: one Init per mechanism file.
#include "common.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ipc::InitPipe(env, exports);
  ipc::InitPidfd(env, exports);
  ipc::InitSocket(env, exports);
  ipc::InitFifo(env, exports);
  ipc::InitPoll(env, exports);
  ipc::InitMq(env, exports);
  return exports;
}

NODE_API_MODULE(ipc_native, Init)
