/**
 * `@ipc/native` — the syscalls behind the ipc SDK, declared in one place.
 *
 * This package is thin on purpose: each function is one syscall (or a readiness watcher on the
 * event loop), errno becomes an `Error` with `code` (the errno name, e.g. `ENOENT`), `errno` and
 * `syscall`, as Node's own fs errors do. A bad argument throws a `TypeError` (wrong type, code
 * `ERR_INVALID_ARG_TYPE`) or a `RangeError` (a number out of range or not an integer, code
 * `ERR_OUT_OF_RANGE`). There is no policy, framing or state machine here; the mechanism packages
 * (`@ipc/pipe`, `@ipc/socket`, …) build the friendly API on top.
 *
 * Everything native opens is released with its environment (the process, or the Worker that
 * made it): watchers stop, threads end, and descriptors native owns (from {@link PidfdCalls.pidfdOpen},
 * {@link FdCalls.openFd}, {@link MqCalls.mqOpen}, marks) are closed if JS has not closed them —
 * which it does with {@link FdCalls.closeFd}, never `fs.closeSync`.
 *
 * The declarations are grouped by the C++ file that implements them (`src/<file>.cc`).
 *
 * Linux only (x64, arm64). On other platforms, importing this module throws an error whose
 * `code` is `ERR_IPC_UNSUPPORTED`.
 *
 * @packageDocumentation
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Credentials of the process at the other end of a Unix socket (`SO_PEERCRED`). */
export interface PeerCredentials {
  /** Process id of the peer when it connected. */
  pid: number
  /** Effective user id of the peer. */
  uid: number
  /** Effective group id of the peer. */
  gid: number
}

/** Watches one fd for readiness on the event loop (`uv_poll`); see {@link PollCalls.FdWatcher}. */
export interface FdWatcher {
  /** Watch for these events (`READABLE`, `WRITABLE`, or both); 0 stops watching. */
  start(events: number): void
  /** Stops watching for good. The fd stays open: it belongs to the caller. */
  close(): void
  /** Keep the event loop alive while watching (the default). */
  ref(): this
  /** Let the event loop exit while watching. */
  unref(): this
}

/** The owner side of a liveness mark; see {@link MarkCalls.LivenessMark}. */
export interface LivenessMark {
  /** The owner's process id (`getpid()`; a Worker's is its process's). */
  readonly pid: number
  /** The mark pipe's read end in the owner process (what an observer opens through `/proc/<pid>/fd/<fd>`). */
  readonly fd: number
  /** The pipe's inode (`fstat`), which tells the mark from a later file with the same fd number. */
  readonly ino: number
  /** Ends the mark now (closes both ends): every observer's `onGone` runs. Idempotent. */
  release(): void
}

/** The observer side of a liveness mark; see {@link MarkCalls.MarkWatcher}. */
export interface MarkWatcher {
  /** Stops watching (`onGone` will not run) and closes the observer's descriptor. Idempotent. */
  close(): void
  /** Keep the event loop alive while watching. */
  ref(): this
  /** Let the event loop exit while watching (the default). */
  unref(): this
}

/** A System V receive thread; see {@link SysvCalls.SysvReceiver}. */
export interface SysvReceiver {
  /** Ends the thread (it is woken with a zero-length message of its type); no batch is delivered after this. */
  close(): void
}

/** A System V sender thread for sends that found the queue full; see {@link SysvCalls.SysvSender}. */
export interface SysvSender {
  /** Queues one message (copied) for a blocking `msgsnd` on the thread. */
  push(mtype: number, bytes: Uint8Array): void
  /** Ends the thread; what it still holds is dropped. */
  close(): void
}

/** Flags for {@link MqCalls.mqOpen}. */
export interface MqConstants {
  readonly O_RDONLY: number
  readonly O_WRONLY: number
  readonly O_RDWR: number
  readonly O_CREAT: number
  readonly O_EXCL: number
  readonly O_NONBLOCK: number
  readonly O_CLOEXEC: number
  /** Number of priorities (`sysconf(_SC_MQ_PRIO_MAX)`, 32768 on Linux). */
  readonly MQ_PRIO_MAX: number
}

/** Flags for {@link FdCalls.openFd}. */
export interface FdConstants {
  readonly O_RDONLY: number
  readonly O_WRONLY: number
  readonly O_RDWR: number
  readonly O_CREAT: number
  readonly O_EXCL: number
  readonly O_TRUNC: number
  readonly O_APPEND: number
  /** Fail with `ELOOP` if the last component of the path is a symlink. */
  readonly O_NOFOLLOW: number
  readonly O_NONBLOCK: number
  /** Always added by `openFd`. */
  readonly O_CLOEXEC: number
  readonly O_DIRECTORY: number
  readonly O_NOCTTY: number
}

/** `IPC_*` flags for {@link SysvCalls.msgGet}. */
export interface SysvConstants {
  readonly IPC_CREAT: number
  readonly IPC_EXCL: number
}

/** What `msgctl(IPC_STAT)` reports of a System V queue. */
export interface MsgQueueStat {
  /** Owner's user id. */
  uid: number
  /** Creator's user id. */
  cuid: number
  /** Permission bits (`& 0o777`). */
  mode: number
  /** Capacity in bytes (`msg_qbytes`). */
  qbytes: number
  /** Messages queued now. */
  qnum: number
  /** Pid of the last `msgsnd`. */
  lspid: number
  /** Pid of the last `msgrcv`. */
  lrpid: number
}

/** `src/pipe.cc`: anonymous pipes and pipe capacity. Its fds are not owned by native (they go to streams or children). */
export interface PipeCalls {
  /** `pipe2(O_CLOEXEC | flags)` → `[readFd, writeFd]`. */
  pipe2(flags?: number): [number, number]
  /** `fcntl(fd, F_GETPIPE_SZ)`: the pipe's capacity in bytes. */
  getPipeSize(fd: number): number
  /** `fcntl(fd, F_SETPIPE_SZ, size)`: returns the capacity granted (rounded up by the kernel). */
  setPipeSize(fd: number, size: number): number
  /** `fcntl(fd, F_SETFD)`: sets (or clears, with `on = false`) `FD_CLOEXEC` on `fd`. */
  setCloexec(fd: number, on?: boolean): void
  /** `O_NONBLOCK`, for {@link PipeCalls.pipe2}. */
  readonly O_NONBLOCK: number
  /** `PIPE_BUF`: writes up to this size to a pipe or FIFO are atomic. */
  readonly PIPE_BUF: number
}

/** `src/pidfd.cc`: process-exit notification. */
export interface PidfdCalls {
  /** `pidfd_open(pid, 0)` → an fd that becomes readable when the process exits. Owned by native: close it with {@link FdCalls.closeFd}. */
  pidfdOpen(pid: number): number
  /** `poll(fd, POLLIN, 0)`: is `fd` readable right now? */
  readableNow(fd: number): boolean
}

/** `src/socket.cc`: Unix domain sockets. */
export interface SocketCalls {
  /** `getsockopt(fd, SOL_SOCKET, SO_PEERCRED)` on a connected Unix socket. */
  peerCred(fd: number): PeerCredentials
}

/** `src/fifo.cc`: named pipes. */
export interface FifoCalls {
  /** `mkfifo(path, mode)`: fails with `EEXIST` if anything, a symlink included, is at `path`. */
  mkfifo(path: string, mode: number): void
}

/** `src/poll.cc`: readiness of any fd on the event loop. */
export interface PollCalls {
  /**
   * `uv_poll_init` + `uv_poll_start`: `new FdWatcher(fd, onReady)`; `onReady(events)` gets a mask of
   * READABLE/WRITABLE, or a negative errno on a poll error. Nothing is watched until `start()`.
   * Stopped with its environment.
   */
  FdWatcher: new (
    fd: number,
    onReady: (events: number) => void,
  ) => FdWatcher
  /** Event bit of {@link FdWatcher}. */
  readonly READABLE: number
  /** Event bit of {@link FdWatcher}. */
  readonly WRITABLE: number
}

/** `src/fd.cc`: descriptors native owns, and `flock`. */
export interface FdCalls {
  /** `close(fd)`, and native forgets it: how JS closes every descriptor native opened. `EBADF` if it is not open. */
  closeFd(fd: number): void
  /** `open(path, flags | O_CLOEXEC, mode)` → an fd owned by native: closed with its environment unless closed before with {@link FdCalls.closeFd}. */
  openFd(path: string, flags: number, mode: number): number
  /**
   * Native forgets `fd` (from {@link FdCalls.openFd}) without closing it, because its ownership
   * passes to a libuv stream (`new net.Socket({ fd })`), which closes it. Returns `fd`.
   */
  disownFd(fd: number): number
  /** `flock(fd, LOCK_EX | LOCK_NB)`: `true` if now held through this open file, `false` if another holds it. */
  lockExclusive(fd: number): boolean
  /** Flags for {@link FdCalls.openFd}. */
  readonly fdConstants: FdConstants
}

/** `src/mark.cc`: liveness marks (a pipe nobody writes to; it ends when its last write end closes). */
export interface MarkCalls {
  /**
   * `pipe2(O_CLOEXEC | O_NONBLOCK)` + `fstat`: `new LivenessMark()` makes an owner mark, which ends on
   * `release()` or with its environment (the Worker or process that made it) — not when the
   * object is collected.
   */
  LivenessMark: new () => LivenessMark
  /**
   * `open("/proc/<pid>/fd/<fd>")` + `uv_poll`: `new MarkWatcher(pid, fd, ino, onGone)` watches a mark
   * (from this or another process); `onGone()` runs once, on the event loop, when it ends (also
   * if polling it fails). Unref'd by default; stopped with its environment. Throws errno errors
   * with `syscall` `'open'`: `ENOENT` when the owner process or its mark is gone already,
   * `EACCES`/`EPERM` when `/proc/<pid>/fd` cannot be opened (another user, a non-dumpable process,
   * no shared pid namespace), `ESTALE` when that fd is not the mark's pipe (its number was reused).
   */
  MarkWatcher: new (
    pid: number,
    fd: number,
    ino: number,
    onGone: () => void,
  ) => MarkWatcher
}

/** `src/mq.cc`: POSIX message queues (an mqd_t is an fd: wait on it with {@link PollCalls.FdWatcher}). */
export interface MqCalls {
  /**
   * `mq_open(name, oflag | O_CLOEXEC, mode, {maxmsg, msgsize})` → the queue's fd (attributes apply with
   * O_CREAT; 0 = defaults). Owned by native: close it with {@link FdCalls.closeFd}.
   */
  mqOpen(name: string, oflag: number, mode: number, maxmsg: number, msgsize: number): number
  /** `mq_unlink(name)`. */
  mqUnlink(name: string): void
  /** `mq_getattr(fd)`. */
  mqGetattr(fd: number): { maxmsg: number; msgsize: number; curmsgs: number }
  /**
   * `mq_send` on a non-blocking queue: `true` when queued, `false` when full (EAGAIN). A `tag` in
   * 0..2³²-1 is prepended as a little-endian u32; -1 sends `bytes` alone.
   */
  mqSend(fd: number, tag: number, bytes: Uint8Array, priority: number): boolean
  /**
   * `mq_receive`, repeated: every message the queue holds now (while `out` has room for one more of
   * `msgsize`) into `out` as records `[u32 length][u32 priority][bytes]` (little-endian); returns the bytes used.
   */
  mqReceiveMany(fd: number, out: Uint8Array, msgsize: number): number
  /** Flags for `mqOpen`. */
  readonly mqConstants: MqConstants
}

/** `src/sysv.cc`: System V message queues (no fd: blocking waits run on dedicated native threads). */
export interface SysvCalls {
  /** `ftok(path, projId)`. */
  ftokKey(path: string, projId: number): number
  /** `msgget(key, flags)` → msqid. */
  msgGet(key: number, flags: number): number
  /** `msgctl(IPC_STAT)`. */
  msgStat(msqid: number): MsgQueueStat
  /** `msgctl(IPC_RMID)`: removes the queue and wakes its receivers and senders (EIDRM). */
  msgRemove(msqid: number): void
  /** `msgsnd(IPC_NOWAIT)` with `mtype` in 1..2⁵³-1: `true` when queued, `false` when the queue is full. */
  msgSend(msqid: number, mtype: number, bytes: Uint8Array): boolean
  /** `msgrcv(IPC_NOWAIT)` of the first message `mtype` selects (0: any; < 0: the lowest type ≤ -mtype), or `null` if there is none. */
  msgReceiveNow(msqid: number, mtype: number, maxBytes: number): Buffer | null
  /**
   * `msgrcv(mtype)` on a dedicated thread (mtype ≥ 1); each wake-up's messages reach
   * `onBatch(null, batch)` on the event loop as records `[u32 length][bytes]` (little-endian);
   * `onBatch(error, null)` once when receiving failed — an errno error of syscall `'msgrcv'`,
   * code `EIDRM` when the queue was removed — and the thread ends. Zero-length messages only wake
   * it. Keeps the event loop alive until `close()`; stopped with its environment.
   */
  SysvReceiver: new (
    msqid: number,
    mtype: number,
    maxBytes: number,
    onBatch: (error: Error | null, batch: Buffer | null) => void,
  ) => SysvReceiver
  /**
   * `msgsnd` (blocking) on a dedicated thread, finishing sends into a full queue in order.
   * `onProgress(null, sent)` reports the cumulative number of messages it has queued each time its
   * own queue runs empty; `onProgress(error, sent)` on failure (an errno error of syscall
   * `'msgsnd'`), after which it stops. Does not keep the event loop alive; stopped with its environment.
   */
  SysvSender: new (
    msqid: number,
    onProgress: (error: Error | null, sent: number) => void,
  ) => SysvSender
  /** `IPC_CREAT`, `IPC_EXCL`. */
  readonly sysvConstants: SysvConstants
}

/** One side of a shared-memory connection segment (`src/shm.cc`; the layout is in `@ipc/shm`'s wire.ts and README). */
export interface ShmChannel {
  /** Ring capacity in bytes (per direction). */
  readonly capacity: number
  /** Handshake word `index` (0..63) of the segment header (a seq-cst load). */
  word(index: number): number
  /** Stores handshake word `index` (a seq-cst store of a u32). */
  setWord(index: number, value: number): void
  /** The write end of the peer's doorbell (owned by the channel from then on). */
  setPeerDoorbell(fd: number): void
  /** Rings the peer's doorbell once (a full doorbell holds a ring already). */
  ring(): void
  /**
   * Copies `chunks` (from `chunks[0][offset]` on) into the outbound ring as far as they fit, commits
   * them with one store, and rings the consumer if it sleeps. Returns the bytes taken: fewer than
   * given means the ring is full and this side now waits for the consumer's ring (an `onWake(1)`).
   * Throws `EBADMSG` when the peer's tail is impossible.
   */
  write(chunks: Uint8Array[], offset: number): number
  /**
   * Copies what the inbound ring holds (as far as it fits) into `out[offset…]`, frees it with one
   * store, and rings the producer if it waits. Returns the bytes copied; 0 means the ring is empty,
   * and, with `arm` (the default), that this side now sleeps until the producer rings; without,
   * nobody rings (the caller polls again). Throws `EBADMSG` when the peer's head is impossible.
   */
  read(out: Uint8Array, offset: number, arm?: boolean): number
  /** Starts watching the own doorbell. */
  start(): void
  /** Stops watching, unmaps the segment, closes its descriptors. Idempotent. */
  close(): void
  /** Keep the event loop alive while watching (the default once started). */
  ref(): this
  /** Let the event loop exit while watching. */
  unref(): this
}

/** A mapped memfd shown to JS as one ArrayBuffer (`src/shm.cc`). */
export interface ShmSegment {
  /** The mapping as an external ArrayBuffer; `undefined` after `close()`. */
  readonly buffer: ArrayBuffer | undefined
  /** Detaches the buffer (its views become empty), unmaps, closes the descriptor. Idempotent. */
  close(): void
}

/** Facts about a descriptor, from {@link ShmCalls.fdInfo}. */
export interface FdInfo {
  /** `F_GET_SEALS` (-1 where the file cannot be sealed). */
  seals: number
  size: number
  ino: number
  uid: number
  /** Permission bits. */
  mode: number
  /** `readlink("/proc/self/fd/<fd>")`: `/memfd:<name> (deleted)` for a memfd, `pipe:[ino]` for a pipe. */
  link: string
}

/** Constants of `src/shm.cc`. */
export interface ShmConstants {
  /** Bytes before the first ring's data (the handshake words and the rings' control lines). */
  readonly HEADER_BYTES: number
  /** Handshake words in the header. */
  readonly WORDS: number
  readonly F_SEAL_SHRINK: number
  readonly F_SEAL_GROW: number
  readonly F_SEAL_SEAL: number
}

/** `src/shm.cc`: sealed memfds, a peer's descriptors through `/proc`, doorbells, ring channels. Every fd it returns is owned by native: close it with {@link FdCalls.closeFd}. */
export interface ShmCalls {
  /** `memfd_create` + `ftruncate` + `fallocate` (ENOSPC now, never SIGBUS later) + seals against shrinking, growing and sealing. */
  memfdCreate(name: string, size: number): number
  /** `open("/proc/<pid>/fd/<fd>", flags | O_CLOEXEC)`: ENOENT (gone), EACCES/EPERM (another user, non-dumpable), ENXIO (not reopenable). */
  openPeerFd(pid: number, fd: number, flags: number): number
  /** `F_GET_SEALS`, `fstat` and the `/proc/self/fd` link of `fd`. */
  fdInfo(fd: number): FdInfo
  /** `pipe2(O_CLOEXEC | O_NONBLOCK)`: a doorbell (or hello) pipe, both ends owned by native. */
  doorbellPipe(): { read: number; write: number; ino: number }
  /**
   * `new ShmChannel(fd, size, side, doorbellFd, onWake)`: maps the sealed segment (seals and size
   * checked again; `EPERM` if unsealed) as side 0 (its creator) or 1, owning `fd` and `doorbellFd`.
   * `onWake(1)`: the doorbell rang; `onWake(0)`: every write end of it closed (the peer is gone);
   * `onWake(-errno)`: polling failed. With `capacity`, the rings are that large and the segment may
   * hold more bytes after them (sem's slots). Released with its environment.
   */
  ShmChannel: new (
    fd: number,
    size: number,
    side: 0 | 1,
    doorbellFd: number,
    onWake: (status: number) => void,
    capacity?: number,
  ) => ShmChannel
  /**
   * `new ShmSegment(fd, size)`: maps a sealed memfd (seals and size checked; `EPERM` if unsealed)
   * as one external ArrayBuffer, owning `fd`. `ENOTSUP` (syscall `napi_create_external_arraybuffer`)
   * where the runtime refuses external buffers.
   */
  ShmSegment: new (
    fd: number,
    size: number,
  ) => ShmSegment
  readonly shmConstants: ShmConstants
}

/** A sealed memfd mapped for the semaphores and slots inside it (`src/sem.cc`). */
export interface SemRing {
  /** The mapping as an external ArrayBuffer; `undefined` after `close()`. */
  readonly buffer: ArrayBuffer | undefined
  /** `sem_init(pshared = 1)` of a semaphore at `offset` (a multiple of 8) with `value`. Only before any peer uses it. */
  init(offset: number, value: number): void
  /** Detaches the buffer; the mapping goes once no semaphore on it (or its waiter thread) uses it. Idempotent. */
  close(): void
}

/** One semaphore handle (`src/sem.cc`). */
export interface Semaphore {
  /** Takes a unit if one is free (never blocks): `true`, else `false`. */
  tryWait(): boolean
  /** Adds `n` units (1 to 32767): `EOVERFLOW` past `SEM_VALUE_MAX` (nothing posted), `ERANGE` past System V's `SEMVMX`. */
  post(n: number): void
  /** The current value (`sem_getvalue`, `GETVAL`). */
  value(): number
  /**
   * Adds `delta` to the units the waiter thread is to take (never below 0) and returns the demand
   * now. Above 0 a thread waits and hands units to `onUnits`, keeping the event loop alive.
   */
  want(delta: number): number
  /** Ends the waiter thread (units it holds are posted back) and closes the handle. Idempotent. */
  close(): void
}

/** System V semaphore set facts, from {@link SemCalls.semStat}. */
export interface SemSetStat {
  uid: number
  cuid: number
  mode: number
  nsems: number
  /** Time of the last `semop` (seconds; 0: none yet, the set may not be initialised). */
  otime: number
  ctime: number
}

/** Constants of `src/sem.cc`. */
export interface SemConstants {
  readonly SEM_VALUE_MAX: number
  /** `sizeof(sem_t)`. */
  readonly SEM_T_BYTES: number
  readonly IPC_PRIVATE: number
  readonly IPC_CREAT: number
  readonly IPC_EXCL: number
}

/** `src/sem.cc`: POSIX named, POSIX in-segment and System V semaphores, each with its own waiter thread. */
export interface SemCalls {
  /**
   * `new Semaphore(kind, a, b, c, onUnits)`: kind 0, POSIX named (a name, b 1 to create with
   * `O_CREAT | O_EXCL`, 0600 and value c, 0 to open); kind 1, System V (a semid, b the number in
   * the set, c `true` for `SEM_UNDO`); kind 2, in a segment (a a {@link SemRing}, b the offset).
   * `onUnits(null, n)` hands over units the waiter thread took; `onUnits(error, 0)` once if
   * waiting failed (`EIDRM`: the set was removed).
   */
  Semaphore: new (
    kind: 0 | 1 | 2,
    a: string | number | SemRing,
    b: number,
    c: number | boolean | undefined,
    onUnits: (error: (Error & { code: string }) | null, count: number) => void,
  ) => Semaphore
  /** `new SemRing(fd, size)`: maps a sealed memfd (`fd` stays the caller's). */
  SemRing: new (
    fd: number,
    size: number,
  ) => SemRing
  semUnlink(name: string): void
  semGet(key: number, nsems: number, flags: number): number
  semSetVal(semid: number, num: number, value: number): void
  semStat(semid: number): SemSetStat
  /** `IPC_RMID`: every waiter wakes with `EIDRM`. */
  semRemove(semid: number): void
  /** An atomic +1/-1 on `num`: sets `sem_otime` (a new set is initialised), never blocks. */
  semTouch(semid: number, num: number): void
  /** The System V limits (`IPC_INFO`). */
  semInfo(): { semmsl: number; semmns: number; semopm: number; semmni: number; semvmx: number }
  readonly semConstants: SemConstants
}

/** A subscription to real-time signals (`src/signal.cc`). */
export interface SignalReceiver {
  /** Ends it; the last receiver of a signal in the process restores its previous disposition. Idempotent. */
  close(): void
  /** Keep the event loop alive while it is open (default). */
  ref(): this
  /** Let the event loop exit while it is open. */
  unref(): this
  /** Threads that still did not block the signals after claiming them (their signals take the slower, unordered stray path); 0 normally. */
  readonly unblocked: number
}

/** The fast lane's reader of signals directed at one thread (`src/signal.cc`). */
export interface SignalPoller {
  /** Ends it (the claims go back). Idempotent. */
  close(): void
  ref(): this
  unref(): this
}

/** `src/signal.cc`: real-time signals with their siginfo, in order, and queueing them with a value. */
export interface SignalCalls {
  /**
   * `new SignalReceiver(signos, onBatch)`: claims each real-time signal for the SDK (`EBUSY`,
   * syscall `sigaction`, when another handler owns one) and hands `onBatch` Buffers of records of
   * six little-endian i32 — signo, si_code, si_pid, si_uid, value low 32 bits, value high 32 bits —
   * in the order the process received them. With `exclusive`, `EADDRINUSE` if another exclusive
   * receiver of one of them exists in the process (a listener's claim). Released with its environment.
   */
  SignalReceiver: new (
    signos: number[],
    onBatch: (records: Buffer) => void,
    exclusive?: boolean,
  ) => SignalReceiver
  /**
   * `new SignalPoller(signos, onBatch)`: the fast lane — claims the signals (as SignalReceiver,
   * but the reader thread does not read them) and reads those directed at this thread
   * (`threadId()`) from a signalfd polled on this event loop; records as SignalReceiver's.
   */
  SignalPoller: new (
    signos: number[],
    onBatch: (records: Buffer) => void,
  ) => SignalPoller
  /** The calling thread's id (`gettid`). */
  threadId(): number
  /** As {@link SignalCalls.sigqueueBatch}, directed at thread `tid` of process `pid` (`rt_tgsigqueueinfo`). */
  sigqueueThreadBatch(pid: number, tid: number, signo: number, values: Uint32Array, from: number, count: number): number
  /** `rt_sigqueueinfo(pid, signo)`, SI_QUEUE, value `(high << 32) | low`: `true` if queued, `false` on EAGAIN. */
  sigqueueValue(pid: number, signo: number, low: number, high: number): boolean
  /** `pidfd_send_signal` of `count` signals whose values are `values[2i]` (low) and `values[2i + 1]` (high) from `from`: how many were queued (stops at EAGAIN). */
  sigqueueBatch(pidfd: number, signo: number, values: Uint32Array, from: number, count: number): number
  /** SIGRTMIN and SIGRTMAX of this C library. */
  signalRange(): { min: number; max: number }
  /** Signals the handler could not keep (its ring of strays was full); 0 normally. */
  signalStraysLost(): number
}

/** The addon's exports: one group per C++ source file. */
export type NativeAddon = PipeCalls &
  PidfdCalls &
  SocketCalls &
  FifoCalls &
  PollCalls &
  FdCalls &
  MarkCalls &
  MqCalls &
  SysvCalls &
  ShmCalls &
  SemCalls &
  SignalCalls

function load(): NativeAddon {
  if (process.platform !== 'linux') {
    const err = new Error(`@ipc/native supports Linux only, not ${process.platform}`) as Error & { code: string }
    err.code = 'ERR_IPC_UNSUPPORTED'
    throw err
  }
  const here = dirname(fileURLToPath(import.meta.url))
  const require = createRequire(import.meta.url)
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeAddon
  return nodeGypBuild(join(here, '..'))
}

const addon = load()

/**
 * Watches one process for exit: a pidfd (`pidfd_open`) opened at once, so a later reuse of the
 * pid cannot fool it, and an {@link FdWatcher} on the event loop. `onExit` runs once, on the
 * event loop, when the process exits. It does not keep the event loop alive unless
 * {@link PidWatcher.ref} is called. Throws `ESRCH` (as `code`) if the process is gone already.
 * Ends with its environment if not closed before.
 */
export class PidWatcher {
  private fd: number | undefined
  private readonly watcher: FdWatcher

  constructor(pid: number, onExit: () => void) {
    const fd = addon.pidfdOpen(pid)
    this.fd = fd
    try {
      this.watcher = new addon.FdWatcher(fd, () => {
        this.close()
        onExit()
      })
      this.watcher.start(addon.READABLE)
      this.watcher.unref()
    } catch (err) {
      addon.closeFd(fd)
      throw err
    }
  }

  /** `true` if the process has exited already (a non-blocking check of the pidfd). */
  exited(): boolean {
    return this.fd === undefined || addon.readableNow(this.fd)
  }

  /** Stops watching and closes the pidfd. Idempotent. */
  close(): void {
    if (this.fd === undefined) return
    this.watcher.close()
    addon.closeFd(this.fd)
    this.fd = undefined
  }

  /** Keep the event loop alive while watching. */
  ref(): this {
    this.watcher.ref()
    return this
  }

  /** Let the event loop exit while watching (the default). */
  unref(): this {
    this.watcher.unref()
    return this
  }
}

/**
 * Asks for a pipe or FIFO capacity of `bytes` (default 1 MiB, the unprivileged maximum) on either
 * end's fd; the kernel may refuse (pipe-user-pages limits), in which case the capacity stays as it
 * was. Returns the capacity in effect. Never throws.
 */
export function growPipe(fd: number, bytes = 1024 * 1024): number {
  try {
    return addon.setPipeSize(fd, bytes)
  } catch {
    try {
      return addon.getPipeSize(fd)
    } catch {
      return 0
    }
  }
}

/** The loaded addon, plus {@link PidWatcher}. Importing this module loads it (and throws `ERR_IPC_UNSUPPORTED` off Linux). */
export const native: NativeAddon & { PidWatcher: typeof PidWatcher } = Object.assign(addon, { PidWatcher })
