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

/**
 * Watches one process for exit through a pidfd (`pidfd_open`) polled by the event loop.
 * The callback runs once, on the event loop, when the process exits. The watcher does not keep
 * the event loop alive unless {@link PidWatcher.ref} is called.
 */
export interface PidWatcher {
  /** Stops watching and closes the pidfd. Idempotent. */
  close(): void
  /** `true` if the process has exited already (non-blocking check of the pidfd). */
  exited(): boolean
  /** Keep the event loop alive while watching. */
  ref(): this
  /** Let the event loop exit while watching (the default). */
  unref(): this
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
  /** Opens a pidfd for `pid` now and calls `onExit` once when that process exits. */
  PidWatcher: new (pid: number, onExit: () => void) => PidWatcher
  /** `O_NONBLOCK`, for {@link NativeAddon.pipe2}. */
  readonly O_NONBLOCK: number
  /** `PIPE_BUF`: writes up to this size to a pipe or FIFO are atomic. */
  readonly PIPE_BUF: number
}

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

/** The loaded addon. Importing this module loads it (and throws `ERR_IPC_UNSUPPORTED` off Linux). */
export const native: NativeAddon = load()
