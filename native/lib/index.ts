/**
 * `@ipc/native` — the syscalls behind the ipc SDK, declared in one place.
 *
 * This package is thin on purpose: each function is one syscall (or a readiness watcher on the
 * event loop), errno becomes an `Error` with `code` (the errno name, e.g. `ENOENT`) and `syscall`,
 * as Node's own fs errors do. There is no policy, framing or state machine here; the mechanism
 * packages (`@ipc/pipe`, `@ipc/socket`, …) build the friendly API on top.
 *
 * Linux only (x64, arm64). On other platforms, importing this module throws an error whose
 * `code` is `ERR_IPC_UNSUPPORTED`.
 *
 * @packageDocumentation
 */
import { closeSync } from 'node:fs'
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

/** Watches one fd for readiness on the event loop (`uv_poll`); see {@link NativeAddon.FdWatcher}. */
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

/** A System V receive thread; see {@link NativeAddon.SysvReceiver}. */
export interface SysvReceiver {
  /** The thread stops receiving after the current batch (messages stay in the kernel). */
  pause(): void
  /** Receives again. */
  resume(): void
  /** Ends the thread (it is woken with a zero-length message of its type). */
  close(): void
}

/** A System V sender thread for sends that found the queue full; see {@link NativeAddon.SysvSender}. */
export interface SysvSender {
  /** Queues one message (copied) for a blocking `msgsnd` on the thread. */
  push(mtype: number, bytes: Uint8Array): void
  /** Ends the thread; what it still holds is dropped. */
  close(): void
}

/** Flags for {@link NativeAddon.mqOpen}. */
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

/** The addon's exports. */
export interface NativeAddon {
  /** `pipe2(O_CLOEXEC | flags)` → `[readFd, writeFd]`. */
  pipe2(flags?: number): [number, number]
  /** `fcntl(fd, F_GETPIPE_SZ)`: the pipe's capacity in bytes. */
  getPipeSize(fd: number): number
  /** `fcntl(fd, F_SETPIPE_SZ, size)`: returns the capacity granted (rounded up by the kernel). */
  setPipeSize(fd: number, size: number): number
  /** Sets (or clears, with `on = false`) `FD_CLOEXEC` on `fd`. */
  setCloexec(fd: number, on?: boolean): void
  /** `getsockopt(fd, SOL_SOCKET, SO_PEERCRED)` on a connected Unix socket. */
  peerCred(fd: number): PeerCredentials
  /** `mkfifo(path, mode)`: fails with `EEXIST` if anything, a symlink included, is at `path`. */
  mkfifo(path: string, mode: number): void
  /** `new FdWatcher(fd, onReady)`: `onReady(events)` gets a mask of READABLE/WRITABLE, or a negative errno. */
  FdWatcher: new (fd: number, onReady: (events: number) => void) => FdWatcher
  /** Event bit of {@link FdWatcher}. */
  readonly READABLE: number
  /** Event bit of {@link FdWatcher}. */
  readonly WRITABLE: number
  /** `mq_open(name, oflag, mode, {maxmsg, msgsize})` → the queue's fd (attributes apply with O_CREAT; 0 = defaults). */
  mqOpen(name: string, oflag: number, mode: number, maxmsg: number, msgsize: number): number
  /** `mq_unlink(name)`. */
  mqUnlink(name: string): void
  /** `mq_getattr`. */
  mqGetattr(fd: number): { maxmsg: number; msgsize: number; curmsgs: number }
  /**
   * `mq_send` on a non-blocking queue: `true` when queued, `false` when full (EAGAIN). A `tag` ≥ 0
   * is prepended as a little-endian u32; -1 sends `bytes` alone.
   */
  mqSend(fd: number, tag: number, bytes: Uint8Array, priority: number): boolean
  /**
   * Receives every message the queue holds now (while `out` has room for one more of `msgsize`)
   * into `out` as records `[u32 length][u32 priority][bytes]`; returns the bytes used.
   */
  mqReceiveMany(fd: number, out: Uint8Array, msgsize: number): number
  /** `flock(fd, LOCK_EX | LOCK_NB)`: `true` if now held by this process, `false` if another holds it. */
  lockExclusive(fd: number): boolean
  /** Flags for `mqOpen`. */
  readonly mqConstants: MqConstants
  /** `ftok(path, projId)`. */
  ftokKey(path: string, projId: number): number
  /** `msgget(key, flags)` → msqid. */
  msgGet(key: number, flags: number): number
  /** `msgctl(IPC_STAT)`. */
  msgStat(msqid: number): { uid: number; cuid: number; mode: number; qbytes: number; qnum: number; lspid: number; lrpid: number }
  /** `msgctl(IPC_RMID)`: removes the queue and wakes its receivers. */
  msgRemove(msqid: number): void
  /** `msgsnd(IPC_NOWAIT)`: `true` when queued, `false` when the queue is full. */
  msgSend(msqid: number, mtype: number, bytes: Uint8Array): boolean
  /** `msgrcv(IPC_NOWAIT)` of the first message of `mtype`, or `null` if there is none. */
  msgReceiveNow(msqid: number, mtype: number, maxBytes: number): Buffer | null
  /**
   * A dedicated thread blocked in `msgrcv(mtype)`; each wake-up's messages reach `onBatch` on the
   * event loop as records `[u32 length][bytes]`, or `onBatch(null, errno)` when receiving failed
   * (EIDRM: the queue was removed). Zero-length messages only wake it.
   */
  SysvReceiver: new (msqid: number, mtype: number, maxBytes: number, onBatch: (batch: Buffer | null, errno: number) => void) => SysvReceiver
  /**
   * A dedicated thread finishing sends into a full queue, in order. `onProgress(0, sent)` reports the
   * cumulative number of messages it has queued each time its own queue runs empty;
   * `onProgress(errno, sent)` on failure.
   */
  SysvSender: new (msqid: number, onProgress: (errno: number, sent: number) => void) => SysvSender
  /** `IPC_CREAT`, `IPC_EXCL`. */
  readonly sysvConstants: { readonly IPC_CREAT: number; readonly IPC_EXCL: number }
  /** `pidfd_open(pid, 0)` → an fd that becomes readable when the process exits. */
  pidfdOpen(pid: number): number
  /** `poll(fd, POLLIN, 0)`: is `fd` readable right now? */
  readableNow(fd: number): boolean
  /** `O_NONBLOCK`, for {@link NativeAddon.pipe2}. */
  readonly O_NONBLOCK: number
  /** `PIPE_BUF`: writes up to this size to a pipe or FIFO are atomic. */
  readonly PIPE_BUF: number
}

type Addon = NativeAddon

function load(): Addon {
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
 */
export class PidWatcher {
  private fd: number | undefined
  private readonly watcher: FdWatcher

  constructor(pid: number, onExit: () => void) {
    const fd = addon.pidfdOpen(pid)
    this.fd = fd
    this.watcher = new addon.FdWatcher(fd, () => {
      this.close()
      onExit()
    })
    this.watcher.start(addon.READABLE)
    this.watcher.unref()
  }

  /** `true` if the process has exited already (a non-blocking check of the pidfd). */
  exited(): boolean {
    return this.fd === undefined || addon.readableNow(this.fd)
  }

  /** Stops watching and closes the pidfd. Idempotent. */
  close(): void {
    if (this.fd === undefined) return
    this.watcher.close()
    closeSync(this.fd)
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
