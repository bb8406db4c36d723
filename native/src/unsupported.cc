// Non-Linux builds: the addon loads but supplies nothing; @ipc/native reports ERR_IPC_UNSUPPORTED.
#include "common.h"
namespace ipc {
void InitEnv(Napi::Env, Napi::Object) {}
void InitPipe(Napi::Env, Napi::Object) {}
void InitPidfd(Napi::Env, Napi::Object) {}
void InitSocket(Napi::Env, Napi::Object) {}
void InitFifo(Napi::Env, Napi::Object) {}
void InitPoll(Napi::Env, Napi::Object) {}
void InitFd(Napi::Env, Napi::Object) {}
void InitMark(Napi::Env, Napi::Object) {}
void InitMq(Napi::Env, Napi::Object) {}
void InitSysv(Napi::Env, Napi::Object) {}
void InitShm(Napi::Env, Napi::Object) {}
}  // namespace ipc
