/**
 * Liveness marks: how one side of a connection (or a client of a listener) learns that the other
 * side's owner — a process, or a `worker_threads` Worker — has ended, without polling and without
 * trusting a pid that may have been reused. The kernel object behind a mark is the mechanism's
 * business (see the table in `docs/architecture.md`); this module is the part every mechanism
 * shares: the reference a peer sends, its wire encoding, and the error rules when it is watched.
 *
 * The mark of `@ipc/native` is a pipe whose write end the owner holds and nobody writes: the
 * owner's process or Worker ending closes it, and the observer — who opened the read end through
 * `/proc/<pid>/fd/<fd>` — sees the hang-up on the event loop.
 */
import { IpcError } from '../errors.js'

/** What a peer sends so the other side can watch its mark: the owner pid, the fd, the inode. */
export interface MarkRef {
  /** The owner's process id. */
  pid: number
  /** The descriptor number, in the owner process, that the observer opens. */
  fd: number
  /** The inode of the mark, checked after opening (a later file with the same fd number is not the mark). */
  ino: number
}

/** Bytes of an encoded {@link MarkRef}: u32 pid, u32 fd, u64 inode, little-endian. */
export const MARK_REF_BYTES = 16

/** Writes `ref` at `offset` of `target` ({@link MARK_REF_BYTES} bytes). */
export function writeMarkRef(ref: MarkRef, target: Uint8Array, offset: number): void {
  const view = new DataView(target.buffer, target.byteOffset + offset, MARK_REF_BYTES)
  view.setUint32(0, ref.pid, true)
  view.setUint32(4, ref.fd, true)
  view.setBigUint64(8, BigInt(ref.ino), true)
}

/** Reads a {@link MarkRef} at `offset`; `undefined` if the bytes cannot be one. */
export function readMarkRef(source: Uint8Array, offset: number): MarkRef | undefined {
  if (source.length - offset < MARK_REF_BYTES) return undefined
  const view = new DataView(source.buffer, source.byteOffset + offset, MARK_REF_BYTES)
  const pid = view.getUint32(0, true)
  const fd = view.getUint32(4, true)
  const ino = view.getBigUint64(8, true)
  if (pid === 0 || fd > 0x7fffffff || ino > BigInt(Number.MAX_SAFE_INTEGER)) return undefined
  return { pid, fd, ino: Number(ino) }
}

/** The text form, `pid.fd.ino`, for text hellos. */
export function formatMarkRef(ref: MarkRef): string {
  return `${ref.pid}.${ref.fd}.${ref.ino}`
}

/** Parses the text form; `undefined` if `text` is not one. */
export function parseMarkRef(text: string): MarkRef | undefined {
  const m = /^([1-9]\d{0,9})\.(\d{1,10})\.(\d{1,16})$/.exec(text)
  if (!m) return undefined
  const [pid, fd, ino] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (pid > 0xffffffff || fd > 0x7fffffff || !Number.isSafeInteger(ino)) return undefined
  return { pid, fd, ino }
}

/** A watch on a peer's mark. */
export interface MarkWatch {
  /** Stops watching. Idempotent. */
  close(): void
}

/** Opens a watch on `ref` that calls `onGone` once when the mark ends (e.g. `native.MarkWatcher`); throws an errno error. */
export type OpenMarkWatcher = (ref: MarkRef, onGone: () => void) => MarkWatch

const GONE = new Set(['ENOENT', 'ESRCH', 'ESTALE'])
const DENIED = new Set(['EACCES', 'EPERM'])

/**
 * Watches a peer's mark: `onGone` runs once, on the event loop, when the owner ends (at once, on
 * a later tick, if it has ended already). Throws `ERR_IPC_PERMISSION` when the mark cannot be
 * opened because the peer is another user, a non-dumpable process or in another pid namespace —
 * a coded error naming the cause, never a silent "alive" or "dead".
 */
export function watchMark(ref: MarkRef, open: OpenMarkWatcher, onGone: () => void, what: string): MarkWatch {
  try {
    return open(ref, onGone)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? ''
    if (GONE.has(code)) {
      const timer = setImmediate(onGone)
      return { close: () => clearImmediate(timer) }
    }
    if (DENIED.has(code)) {
      throw new IpcError(
        'ERR_IPC_PERMISSION',
        `${what}: cannot watch the peer's liveness mark (/proc/${ref.pid}/fd/${ref.fd}: ${code}): the peer runs as another user, ` +
          'is not dumpable (prctl PR_SET_DUMPABLE), or lives in another pid namespace',
        { cause: err },
      )
    }
    throw err
  }
}
