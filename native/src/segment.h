// Sealed segments shared by shm.cc and sem.cc: mapping a memfd that no peer can shrink (so no
// access to the mapping can fault), and a mapping whose lifetime is shared by everything that
// points into it (an external ArrayBuffer, semaphores inside it, the threads waiting on them).
#pragma once
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

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

}  // namespace ipc
