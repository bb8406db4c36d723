/**
 * Shared segments for applications: a fixed-size `ArrayBuffer` over a sealed memfd (it cannot be
 * shrunk, so no peer can make this process die of SIGBUS), for large data shared without copies
 * (a frame buffer, a table). The creator passes the segment's {@link SegmentHandle} to another
 * process of the same user (over any transport); that process opens it through `/proc/<pid>/fd`.
 * Synchronise access with a transport's messages (or `Atomics` on an `Int32Array` view).
 */
import { IpcError, fromErrno } from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { peerFdError } from './errors.js'

const { O_RDWR } = native.fdConstants
const { F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_SEAL } = native.shmConstants
const REQUIRED_SEALS = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL
const NAME = 'ipc-segment'
/** The largest segment: 1 TiB. */
const MAX_SEGMENT = 2 ** 40

/** What another process needs to open a segment (plain data: send it in a message). */
export interface SegmentHandle {
  /** The creator's process id. */
  pid: number
  /** The memfd's descriptor number in the creator. */
  fd: number
  /** Bytes. */
  size: number
}

/** A mapped segment. */
export interface Segment {
  /** The memory, shared with every process that opened the segment; length 0 after `close()`. */
  readonly buffer: ArrayBuffer
  readonly size: number
  /** What `openSegment()` in another process takes (valid while the creator keeps it open). */
  readonly handle: SegmentHandle
  /** Unmaps it here: `buffer` is detached (every view of it becomes empty). Idempotent. */
  close(): void
}

function wrap(mapped: InstanceType<typeof native.ShmSegment>, handle: SegmentHandle): Segment {
  const buffer = mapped.buffer!
  let closed = false
  return {
    buffer,
    size: handle.size,
    handle,
    close() {
      if (closed) return
      closed = true
      mapped.close()
    },
  }
}

function mapError(err: unknown, what: string): IpcError {
  if ((err as NodeJS.ErrnoException)?.code === 'ENOTSUP') {
    return new IpcError('ERR_IPC_UNSUPPORTED', `${what}: this runtime refuses external ArrayBuffers (as Electron does); use a shm: transport instead`, {
      cause: err,
    })
  }
  return fromErrno(err, what)
}

function checkSize(size: unknown): number {
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1 || size > MAX_SEGMENT) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `a segment size must be an integer from 1 to 2^40 bytes, got ${String(size)}`)
  }
  return size
}

/** Creates a segment of `size` bytes (reserved now: no room is an error here, never a SIGBUS later), zero-filled, owner-only. */
export function createSegment(size: number): Segment {
  const bytes = checkSize(size)
  let fd: number | undefined
  try {
    fd = native.memfdCreate(NAME, bytes)
    const mapped = new native.ShmSegment(fd, bytes)
    return wrap(mapped, { pid: process.pid, fd, size: bytes })
  } catch (err) {
    if (fd !== undefined) native.closeFd(fd)
    throw mapError(err, `createSegment(${bytes})`)
  }
}

/** Opens a segment another process (of this user, in this pid namespace) created, from its handle. */
export function openSegment(handle: SegmentHandle): Segment {
  const what = 'openSegment'
  if (
    typeof handle !== 'object' ||
    handle === null ||
    !Number.isSafeInteger(handle.pid) ||
    handle.pid < 1 ||
    !Number.isSafeInteger(handle.fd) ||
    handle.fd < 0
  ) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${what}: a handle is { pid, fd, size } as createSegment() gave it`)
  }
  const size = checkSize(handle.size)
  let fd: number
  try {
    fd = native.openPeerFd(handle.pid, handle.fd, O_RDWR)
  } catch (err) {
    if ((err as NodeJS.ErrnoException)?.code === 'ENOENT') {
      throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${what}: pid ${handle.pid} has no fd ${handle.fd} (the segment was closed, or its creator is gone)`, {
        cause: err,
      })
    }
    throw peerFdError(err, what, handle.pid, 'the segment')
  }
  try {
    const info = native.fdInfo(fd)
    if (!info.link.startsWith(`/memfd:${NAME}`))
      throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${what}: pid ${handle.pid}'s fd ${handle.fd} is not a segment (${info.link})`)
    if (info.seals < 0 || (info.seals & REQUIRED_SEALS) !== REQUIRED_SEALS) throw new IpcError('ERR_IPC_PERMISSION', `${what}: the segment is not sealed`)
    if (info.uid !== process.geteuid!()) throw new IpcError('ERR_IPC_PERMISSION', `${what}: the segment belongs to uid ${info.uid}`)
    if (info.size !== size) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${what}: the segment has ${info.size} bytes, not ${size}`)
    return wrap(new native.ShmSegment(fd, size), { ...handle, size })
  } catch (err) {
    native.closeFd(fd)
    throw mapError(err, what)
  }
}
