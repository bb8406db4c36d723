// Shared memory for shm: sealed memfds (nothing named, nothing a peer can truncate: no SIGBUS),
// descriptors of a peer opened through /proc/<pid>/fd, doorbell pipes, and ShmChannel: one side
// of a connection segment holding one byte ring per direction, woken through its doorbell.
//
// Segment layout (packages/shm/src/wire.ts holds the same numbers; the shm README documents it):
//   [0, 256)      64 little-endian u32 words of the handshake, owned by JS (word()/setWord())
//   ring r (0: creator -> acceptor, 1: acceptor -> creator) at 256 + 256 r:
//     +0 head (bytes ever committed, u32, wraps), +4 producer sleeping (0/1)   (one cache line)
//     +128 tail (bytes ever consumed), +132 consumer sleeping                  (another line)
//   data of ring r at 4096 + r * capacity; capacity a power of two; size 4096 + 2 * capacity.
// The producer is the only writer of head and keeps its own copy; the consumer likewise of tail.
// What the peer wrote is checked before use (head - tail <= capacity, else EBADMSG), and every
// data index is masked, so a hostile peer can make the stream wrong (core then fails to decode
// it) but never make this side read or write outside the mapping. Commit-last: head is stored
// after the copy, so a producer killed mid-copy exposes nothing.
//
// Wake-ups: a side sleeps only after setting its sleeping word and finding, on a second look,
// nothing to do (store, then load, both seq_cst: the Dekker pattern). The other side, after its
// own store of head or tail, loads that word and, if set, exchanges it to 0 and writes one byte
// into the sleeper's doorbell pipe: at most one byte per sleep, no syscall while both run.
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "callback.h"
#include "poll.h"
#include "segment.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

namespace ipc {

namespace {

constexpr size_t kHeaderBytes = 4096;
constexpr size_t kWords = 64;
constexpr size_t kRingBase = 256;
constexpr size_t kRingStride = 256;
constexpr size_t kTailOffset = 128;
constexpr int kRequiredSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

inline uint32_t LoadWord(uint8_t* at) { return __atomic_load_n(reinterpret_cast<uint32_t*>(at), __ATOMIC_SEQ_CST); }
inline void StoreWord(uint8_t* at, uint32_t v) { __atomic_store_n(reinterpret_cast<uint32_t*>(at), v, __ATOMIC_SEQ_CST); }
inline uint32_t SwapWord(uint8_t* at, uint32_t v) { return __atomic_exchange_n(reinterpret_cast<uint32_t*>(at), v, __ATOMIC_SEQ_CST); }

// memfdCreate(name, size) -> fd: a memfd of `size` bytes, allocated now (fallocate: ENOSPC here,
// never a SIGBUS later), sealed against shrinking, growing and further sealing. Owned by native.
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgName(info, 0);
  int64_t size = ArgLong(info, 1, "size", 1, int64_t(1) << 40);
  std::shared_ptr<EnvState> state = EnvState::Of(env);
  int fd = static_cast<int>(memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL));
  if (fd < 0 && errno == EINVAL) fd = static_cast<int>(memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));  // before Linux 6.3
  if (fd < 0) ThrowErrno(env, "memfd_create", errno);
  auto fail = [&](const char* syscall) {
    int err = errno;
    close(fd);
    ThrowErrno(env, syscall, err);
  };
  if (fchmod(fd, 0600) != 0) fail("fchmod");  // owner-only, like every object of the SDK
  if (ftruncate(fd, size) != 0) fail("ftruncate");
  int rc;
  do {
    rc = fallocate(fd, 0, 0, size);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) fail("fallocate");
  if (fcntl(fd, F_ADD_SEALS, kRequiredSeals) != 0) fail("fcntl");
  state->TrackFd(fd);
  return Napi::Number::New(env, fd);
}

// openPeerFd(pid, fd, flags) -> fd: open("/proc/<pid>/fd/<fd>", flags | O_CLOEXEC | O_NOCTTY), owned
// by native. Errno errors of syscall "open": ENOENT (the process or its fd is gone), EACCES or
// EPERM (another user, a non-dumpable process), ENXIO (what it names cannot be opened again).
Napi::Value OpenPeerFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = ArgInt(info, 0, "pid", 1);
  int target = ArgFd(info, 1);
  int flags = ArgInt(info, 2, "flags");
  std::shared_ptr<EnvState> state = EnvState::Of(env);
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, target);
  int fd;
  do {
    fd = open(path, flags | O_CLOEXEC | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) ThrowErrno(env, "open", errno);
  state->TrackFd(fd);
  return Napi::Number::New(env, fd);
}

// fdInfo(fd) -> { seals, size, ino, uid, mode, link }: F_GET_SEALS (-1 where sealing is not
// supported), fstat, and readlink("/proc/self/fd/<fd>") (a memfd reads "/memfd:<name> (deleted)").
Napi::Value FdInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  struct stat st;
  if (fstat(fd, &st) != 0) ThrowErrno(env, "fstat", errno);
  int seals = fcntl(fd, F_GET_SEALS);
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  char link[256];
  ssize_t n = readlink(path, link, sizeof(link) - 1);
  if (n < 0) ThrowErrno(env, "readlink", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("seals", Napi::Number::New(env, seals));
  out.Set("size", Napi::Number::New(env, static_cast<double>(st.st_size)));
  out.Set("ino", Napi::Number::New(env, static_cast<double>(st.st_ino)));
  out.Set("uid", Napi::Number::New(env, st.st_uid));
  out.Set("mode", Napi::Number::New(env, st.st_mode & 07777));
  out.Set("link", Napi::String::New(env, link, static_cast<size_t>(n)));
  return out;
}

// doorbellPipe() -> { read, write, ino }: pipe2(O_CLOEXEC | O_NONBLOCK), both ends owned by native.
Napi::Value DoorbellPipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<EnvState> state = EnvState::Of(env);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) ThrowErrno(env, "pipe2", errno);
  struct stat st;
  if (fstat(fds[0], &st) != 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    ThrowErrno(env, "fstat", err);
  }
  state->TrackFd(fds[0]);
  state->TrackFd(fds[1]);
  Napi::Object out = Napi::Object::New(env);
  out.Set("read", Napi::Number::New(env, fds[0]));
  out.Set("write", Napi::Number::New(env, fds[1]));
  out.Set("ino", Napi::Number::New(env, static_cast<double>(st.st_ino)));
  return out;
}

}  // namespace

// Maps `fd` shared, read-write, after checking it is `size` bytes and sealed against shrinking
// and growing (so no access to the mapping can ever fault): EBADMSG for another size, EPERM when
// unsealed, mmap's errno otherwise.
void* MapSealed(Napi::Env env, int fd, int64_t size) {
  struct stat st;
  if (fstat(fd, &st) != 0) ThrowErrno(env, "fstat", errno);
  if (st.st_size != size) ThrowErrno(env, "fstat", EBADMSG);
  int seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & kRequiredSeals) != kRequiredSeals) ThrowErrno(env, "fcntl", EPERM);
  void* base = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (base == MAP_FAILED) ThrowErrno(env, "mmap", errno);
  return base;
}

static void FinalizeBufferMapping(napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<Mapping>*>(hint); }

BufferMapping MapAsBuffer(Napi::Env env, int fd, int64_t size) {
  void* base = MapSealed(env, fd, size);
  BufferMapping out;
  out.mapping = std::make_shared<Mapping>();
  out.mapping->base = base;
  out.mapping->size = static_cast<size_t>(size);
  out.hold = new std::shared_ptr<Mapping>(out.mapping);
  napi_value ab = nullptr;
  if (napi_create_external_arraybuffer(env, base, static_cast<size_t>(size), FinalizeBufferMapping, out.hold, &ab) != napi_ok) {
    delete out.hold;
    ThrowErrno(env, "napi_create_external_arraybuffer", ENOTSUP);  // the mapping goes with `out`
  }
  out.buffer = Napi::ArrayBuffer(env, ab);
  return out;
}

// new ShmChannel(fd, size, side, doorbellFd, onWake(status), capacity?): maps the sealed segment
// `fd` (seals and size are checked again here; with `capacity`, the rings are that large and the
// segment may hold more after them) as `side` (0: the creator, which writes ring 0; 1: the
// acceptor), and owns `fd` and `doorbellFd` (its own doorbell's read end) from then on. onWake
// runs on the event loop when the doorbell rang (1: look at both rings), when every write end of
// it has closed (0: the peer is gone; what its ring holds can still be read), or on a poll error
// (a negative errno). Nothing is watched until start(). Released with its environment.
class ShmChannel : public Napi::ObjectWrap<ShmChannel>, public Resource {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ShmChannel",
                       {
                           InstanceMethod<&ShmChannel::Word>("word"),
                           InstanceMethod<&ShmChannel::SetWord>("setWord"),
                           InstanceMethod<&ShmChannel::SetPeerDoorbell>("setPeerDoorbell"),
                           InstanceMethod<&ShmChannel::RingPeer>("ring"),
                           InstanceMethod<&ShmChannel::Write>("write"),
                           InstanceMethod<&ShmChannel::Read>("read"),
                           InstanceMethod<&ShmChannel::Start>("start"),
                           InstanceMethod<&ShmChannel::Close>("close"),
                           InstanceMethod<&ShmChannel::Ref>("ref"),
                           InstanceMethod<&ShmChannel::Unref>("unref"),
                           InstanceAccessor<&ShmChannel::Capacity>("capacity"),
                       });
  }

  ShmChannel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ShmChannel>(info), Resource(EnvState::Of(info.Env())) {
    Napi::Env env = info.Env();
    int fd = ArgFd(info, 0);
    int64_t size = ArgLong(info, 1, "size", int64_t(kHeaderBytes) + 2 * 4096, int64_t(kHeaderBytes) + 2 * (int64_t(1) << 30));
    int side = ArgInt(info, 2, "side", 0, 1);
    int doorbell = ArgFd(info, 3, "doorbellFd");
    Napi::Function onWake = ArgFunction(info, 4, "onWake");
    uint64_t capacity = static_cast<uint64_t>(size - int64_t(kHeaderBytes)) / 2;
    if (info.Length() > 5 && !info[5].IsUndefined()) {
      // rings of `capacity` bytes, and after them bytes that belong to someone else (sem's slots)
      capacity = static_cast<uint64_t>(ArgLong(info, 5, "capacity", 4096, int64_t(1) << 30));
      if ((capacity & (capacity - 1)) != 0 || int64_t(kHeaderBytes + 2 * capacity) > size)
        ThrowArgRange(env, "capacity", "a power of two whose rings fit in size");
    } else if ((size - int64_t(kHeaderBytes)) % 2 != 0 || (capacity & (capacity - 1)) != 0) {
      ThrowArgRange(env, "size", "4096 + 2 × a power of two");
    }
    void* base = MapSealed(env, fd, size);
    base_ = static_cast<uint8_t*>(base);
    size_ = static_cast<size_t>(size);
    capacity_ = static_cast<uint32_t>(capacity);
    mask_ = capacity_ - 1;
    fd_ = fd;
    doorbell_ = doorbell;
    out_ = View(side);
    in_ = View(1 - side);
    head_ = LoadWord(out_.head);
    tail_ = LoadWord(in_.tail);
    try {
      poll_ = std::make_unique<PollHandle>(env, state(), doorbell_, OnEvent, this);
    } catch (...) {
      Finish();
      throw;
    }
    callback_ = Napi::Persistent(onWake);
  }

  ~ShmChannel() override { Finish(); }

 private:
  struct RingView {
    uint8_t* head = nullptr;
    uint8_t* producerSleeping = nullptr;
    uint8_t* tail = nullptr;
    uint8_t* consumerSleeping = nullptr;
    uint8_t* data = nullptr;
  };

  RingView View(int r) {
    RingView v;
    uint8_t* ctl = base_ + kRingBase + kRingStride * static_cast<size_t>(r);
    v.head = ctl;
    v.producerSleeping = ctl + 4;
    v.tail = ctl + kTailOffset;
    v.consumerSleeping = ctl + kTailOffset + 4;
    v.data = base_ + kHeaderBytes + static_cast<size_t>(capacity_) * static_cast<size_t>(r);
    return v;
  }

  bool Open() const { return base_ != nullptr; }

  void CheckOpen(Napi::Env env) const {
    if (!Open()) ThrowErrno(env, "shm", EBADF);
  }

  // One byte into the peer's doorbell; a full pipe already holds a wake-up, a closed one has no reader left.
  void RingDoorbell() {
    if (peer_doorbell_ < 0) return;
    char one = 1;
    ssize_t n;
    do {
      n = write(peer_doorbell_, &one, 1);
    } while (n < 0 && errno == EINTR);
  }

  // The sleeper's word was set: clear it and ring (only one of possibly several wakers rings).
  void WakeIfSleeping(uint8_t* word) {
    if (LoadWord(word) != 0 && SwapWord(word, 0) != 0) RingDoorbell();
  }

  // Copies `n` bytes into ring data at index `at` (wrapping).
  void CopyIn(uint8_t* data, uint32_t at, const uint8_t* src, uint32_t n) {
    uint32_t offset = at & mask_;
    uint32_t first = std::min(n, capacity_ - offset);
    std::memcpy(data + offset, src, first);
    if (first < n) std::memcpy(data, src + first, n - first);
  }

  void CopyOut(const uint8_t* data, uint32_t at, uint8_t* dst, uint32_t n) {
    uint32_t offset = at & mask_;
    uint32_t first = std::min(n, capacity_ - offset);
    std::memcpy(dst, data + offset, first);
    if (first < n) std::memcpy(dst + first, data, n - first);
  }

  // Room in the outbound ring, from the peer's tail (checked).
  bool Room(Napi::Env env, uint32_t* room) {
    uint32_t used = head_ - LoadWord(out_.tail);
    if (used > capacity_) ThrowErrno(env, "shm", EBADMSG);
    *room = capacity_ - used;
    return *room > 0;
  }

  // write(chunks, offset) -> bytes taken, from chunks[0][offset] on: as much as fits, committed
  // with one store of head; rings the consumer if it sleeps. When not everything fit, the producer
  // is marked sleeping (after a second look found no room), so the consumer rings once it has
  // made room.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (!info[0].IsArray()) ThrowArgType(env, "chunks", "an array of Uint8Arrays");
    Napi::Array chunks = info[0].As<Napi::Array>();
    int64_t skip = ArgLong(info, 1, "offset", 0);
    uint32_t count = chunks.Length();
    uint32_t room = 0;
    Room(env, &room);
    double taken = 0;
    for (uint32_t i = 0; i < count; i++) {
      Napi::Value v = chunks.Get(i);
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) ThrowArgType(env, "chunks", "an array of Uint8Arrays");
      Napi::Uint8Array chunk = v.As<Napi::Uint8Array>();
      const uint8_t* src = chunk.Data();
      size_t length = chunk.ByteLength();
      size_t at = 0;
      if (i == 0) {
        if (skip > static_cast<int64_t>(length)) ThrowArgRange(env, "offset", "within the first chunk");
        at = static_cast<size_t>(skip);
      }
      while (at < length) {
        if (room == 0) {
          Publish();
          if (!Room(env, &room)) {
            StoreWord(out_.producerSleeping, 1);
            if (!Room(env, &room)) return Napi::Number::New(env, taken);  // asleep: the consumer rings
            SwapWord(out_.producerSleeping, 0);
          }
        }
        uint32_t n = static_cast<uint32_t>(std::min<size_t>(length - at, room));
        CopyIn(out_.data, head_, src + at, n);
        head_ += n;
        room -= n;
        at += n;
        taken += n;
      }
    }
    Publish();
    return Napi::Number::New(env, taken);
  }

  void Publish() {
    if (LoadWord(out_.head) == head_) return;
    StoreWord(out_.head, head_);
    WakeIfSleeping(out_.consumerSleeping);
  }

  // read(out, offset, arm = true) -> bytes copied into out[offset…]: what the inbound ring holds
  // (as much as fits), consumed with one store of tail; rings the producer if it waits. 0 means
  // the ring is empty; with `arm`, this side is then marked sleeping (after a second look found
  // it still empty), so the producer rings for the next bytes. Without, nobody will ring: the
  // caller polls again (a spin budget).
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    Napi::Uint8Array out = ArgBytes(info, 0, "out");
    int64_t offset = ArgLong(info, 1, "offset", 0);
    bool arm = ArgBool(info, 2, "arm", true);
    if (offset > static_cast<int64_t>(out.ByteLength())) ThrowArgRange(env, "offset", "within out");
    size_t space = out.ByteLength() - static_cast<size_t>(offset);
    uint32_t avail = Available(env);
    if (avail == 0) {
      if (!arm) return Napi::Number::New(env, 0);
      StoreWord(in_.consumerSleeping, 1);
      avail = Available(env);
      if (avail == 0) return Napi::Number::New(env, 0);
      SwapWord(in_.consumerSleeping, 0);
    }
    uint32_t n = static_cast<uint32_t>(std::min<size_t>(avail, space));
    if (n == 0) return Napi::Number::New(env, 0);
    CopyOut(in_.data, tail_, out.Data() + offset, n);
    tail_ += n;
    StoreWord(in_.tail, tail_);
    WakeIfSleeping(in_.producerSleeping);
    return Napi::Number::New(env, n);
  }

  uint32_t Available(Napi::Env env) {
    uint32_t avail = LoadWord(in_.head) - tail_;
    if (avail > capacity_) ThrowErrno(env, "shm", EBADMSG);
    return avail;
  }

  static void OnEvent(void* owner, int status, int events) {
    ShmChannel* self = static_cast<ShmChannel*>(owner);
    int what = 1;
    if (status < 0) {
      what = status;
    } else {
      char buf[64];
      for (;;) {
        ssize_t n = read(self->doorbell_, buf, sizeof(buf));
        if (n > 0) continue;
        if (n == 0)
          what = 0;
        else if (errno == EINTR)
          continue;
        else if (errno != EAGAIN)
          what = -errno;
        break;
      }
    }
    if (what <= 0 && self->poll_) self->poll_->Close();  // EOF and errors repeat: report them once
    napi_env env = self->state()->env();
    ValueScope scope(env);
    if (!scope.ok()) return;
    napi_value fn = JsRef(env, self->callback_);
    napi_value arg = JsInt(env, what);
    CallJs(env, From::kLoop, fn, 1, &arg);
  }

  Napi::Value Word(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env());
    int i = ArgInt(info, 0, "index", 0, kWords - 1);
    return Napi::Number::New(info.Env(), LoadWord(base_ + 4 * i));
  }

  Napi::Value SetWord(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env());
    int i = ArgInt(info, 0, "index", 0, kWords - 1);
    int64_t v = ArgLong(info, 1, "value", 0, 0xffffffffLL);
    StoreWord(base_ + 4 * i, static_cast<uint32_t>(v));
    return info.Env().Undefined();
  }

  // setPeerDoorbell(fd): the write end of the peer's doorbell (owned from then on).
  Napi::Value SetPeerDoorbell(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    int fd = ArgFd(info, 0);
    if (peer_doorbell_ >= 0) state()->CloseTrackedFd(peer_doorbell_);
    peer_doorbell_ = fd;
    return env.Undefined();
  }

  Napi::Value RingPeer(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env());
    RingDoorbell();
    return info.Env().Undefined();
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (poll_ && !poll_->closed()) {
      int rc = poll_->Start(UV_READABLE);
      if (rc != 0) ThrowErrno(env, "uv_poll_start", -rc);
      pin_.Hold(this);
    }
    return env.Undefined();
  }

  Napi::Value Capacity(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), capacity_); }

  // Stops watching, unmaps, closes its descriptors. Idempotent.
  void Finish() {
    pin_.Release();
    if (poll_) poll_->Close();
    if (base_ != nullptr) {
      munmap(base_, size_);
      base_ = nullptr;
    }
    for (int* fd : {&fd_, &doorbell_, &peer_doorbell_}) {
      if (*fd >= 0) {
        state()->CloseTrackedFd(*fd);
        *fd = -1;
      }
    }
  }

  void Release() override { Finish(); }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Finish();
    callback_.Reset();
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (poll_) poll_->SetRef(true);
    return info.This();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (poll_) poll_->SetRef(false);
    return info.This();
  }

  uint8_t* base_ = nullptr;
  size_t size_ = 0;
  uint32_t capacity_ = 0;
  uint32_t mask_ = 0;
  int fd_ = -1;
  int doorbell_ = -1;
  int peer_doorbell_ = -1;
  RingView out_;
  RingView in_;
  uint32_t head_ = 0;  // our copy of the outbound head (we are its only writer)
  uint32_t tail_ = 0;  // our copy of the inbound tail
  std::unique_ptr<PollHandle> poll_;
  Napi::FunctionReference callback_;
  Pin pin_;
};

// new ShmSegment(fd, size): maps a sealed memfd (seals and size checked) and shows it as one
// external ArrayBuffer (`buffer`), owning `fd`. close() detaches the buffer (every view of it
// becomes empty) before unmapping, so no view outlives the mapping. ENOTSUP where the runtime
// refuses external buffers. Released with its environment (Node detaches external buffers then).
class ShmSegment : public Napi::ObjectWrap<ShmSegment>, public Resource {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ShmSegment",
                       {
                           InstanceAccessor<&ShmSegment::Buffer>("buffer"),
                           InstanceMethod<&ShmSegment::Close>("close"),
                       });
  }

  ShmSegment(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ShmSegment>(info), Resource(EnvState::Of(info.Env())) {
    Napi::Env env = info.Env();
    int fd = ArgFd(info, 0);
    int64_t size = ArgLong(info, 1, "size", 1, int64_t(1) << 40);
    BufferMapping m = MapAsBuffer(env, fd, size);
    mapping_ = m.mapping;
    buffer_ = Napi::Persistent(m.buffer);
    fd_ = fd;
  }

  ~ShmSegment() override { Finish(); }

 private:
  Napi::Value Buffer(const Napi::CallbackInfo& info) {
    if (buffer_.IsEmpty()) return info.Env().Undefined();
    return buffer_.Value();
  }

  // Detaches the buffer, unmaps, closes the fd. Idempotent.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!buffer_.IsEmpty()) {
      Napi::ArrayBuffer ab = buffer_.Value();
      if (!ab.IsDetached()) ab.Detach();
      buffer_.Reset();
    }
    if (mapping_) mapping_->Unmap();
    Finish();
    return info.Env().Undefined();
  }

  // What is ours besides the mapping (which the buffer's finalizer may still share).
  void Finish() {
    mapping_.reset();
    if (fd_ >= 0) {
      state()->CloseTrackedFd(fd_);
      fd_ = -1;
    }
  }

  void Release() override { Finish(); }

  std::shared_ptr<Mapping> mapping_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
  int fd_ = -1;
};

void InitShm(Napi::Env env, Napi::Object exports) {
  SetFunctions(env, exports, {{"memfdCreate", MemfdCreate}, {"openPeerFd", OpenPeerFd}, {"fdInfo", FdInfo}, {"doorbellPipe", DoorbellPipe}});
  exports.Set("ShmChannel", ShmChannel::Define(env));
  exports.Set("ShmSegment", ShmSegment::Define(env));
  exports.Set("shmConstants", Constants(env, {{"HEADER_BYTES", static_cast<int>(kHeaderBytes)},
                                              {"WORDS", static_cast<int>(kWords)},
                                              {"F_SEAL_SHRINK", F_SEAL_SHRINK},
                                              {"F_SEAL_GROW", F_SEAL_GROW},
                                              {"F_SEAL_SEAL", F_SEAL_SEAL}}));
}

}  // namespace ipc
