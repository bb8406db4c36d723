// Sealed segments shared by shm.cc and sem.cc: mapping a memfd that no peer can shrink (so no
// access to the mapping can fault), and a mapping whose lifetime is shared by everything that
// points into it (an external ArrayBuffer, semaphores inside it, the threads waiting on them).
#pragma once
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common.h"

namespace ipc {

// Maps `fd` shared, read-write, after checking it is `size` bytes and sealed against shrinking
// and growing: EBADMSG for another size, EPERM when unsealed, mmap's errno otherwise.
void* MapSealed(Napi::Env env, int fd, int64_t size);

// A mapping, held by shared_ptr: unmapped by Unmap() or when the last holder lets go.
struct Mapping {
  void* base = nullptr;
  size_t size = 0;
  void Unmap() {
    if (base != nullptr) munmap(base, size);
    base = nullptr;
  }
  ~Mapping() { Unmap(); }
};

// A sealed memfd mapped (MapSealed) and shown to JS as one external ArrayBuffer. The buffer's
// finalizer holds a share of the mapping through `hold` (freed by that finalizer); resetting
// *hold after detaching the buffer gives that share up at once.
struct BufferMapping {
  std::shared_ptr<Mapping> mapping;
  Napi::ArrayBuffer buffer;
  std::shared_ptr<Mapping>* hold = nullptr;
};

// Maps `fd` (MapSealed) as an external ArrayBuffer; ENOTSUP (syscall
// napi_create_external_arraybuffer) where the runtime refuses external buffers.
BufferMapping MapAsBuffer(Napi::Env env, int fd, int64_t size);

}  // namespace ipc
