/** What both ends of the `signal:` handshake share: windows, control signals, marks. */
import { type MarkRef, markSharing, softLimit } from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { Kind, MAX_WINDOW_LOG2, controlHigh } from './wire.js'

const marks = markSharing(native)
export const { ownMark, watchPeer } = marks

/**
 * log2 of the window this end announces: data signals the peer may have in flight to us. The
 * kernel counts queued signals per user against the receiver's RLIMIT_SIGPENDING, so an eighth of
 * it (at least 8, at most 1024) leaves room for the other direction, credits and other programs.
 */
export function ownWindowLog2(): number {
  const soft = softLimit('Max pending signals')
  const limit = soft === undefined || soft === Infinity ? 1 << 16 : soft // no /proc: the usual limits
  const window = Math.max(8, Math.min(1 << MAX_WINDOW_LOG2, Math.floor(limit / 8)))
  return Math.floor(Math.log2(window))
}

/** Data signals a peer may have in flight to this process on one `signal:` connection: an eighth of RLIMIT_SIGPENDING, 8 to 1024. */
export function signalWindow(): number {
  return 2 ** ownWindowLog2()
}

/** The control signals naming `mark`. */
export function markControls(mark: MarkRef): [number, number][] {
  return [
    [Kind.MARK_FD, mark.fd],
    [Kind.MARK_INO_LO, mark.ino % 2 ** 32],
    [Kind.MARK_INO_HI, Math.floor(mark.ino / 2 ** 32)],
  ]
}

/** A peer's mark as its three MARK control signals name it (undefined until all three came). */
export class MarkParts {
  private fd: number | undefined
  private lo: number | undefined
  private hi: number | undefined

  /** Takes a MARK_* control; false for any other kind. */
  take(kind: number, low: number): boolean {
    if (kind === Kind.MARK_FD) this.fd = low
    else if (kind === Kind.MARK_INO_LO) this.lo = low
    else if (kind === Kind.MARK_INO_HI) this.hi = low
    else return false
    return true
  }

  ref(pid: number): MarkRef | undefined {
    if (this.fd === undefined || this.lo === undefined || this.hi === undefined) return undefined
    return { pid, fd: this.fd, ino: this.hi * 2 ** 32 + this.lo }
  }
}

/** Where signals go: a process (through its pidfd), or one thread of it. */
export type Target = { pidfd: number } | { pid: number; tid: number }

/** Queues `count` signals `signo` with values `pairs[from…]` for `target`: how many were queued (stops at EAGAIN). */
export function queue(target: Target, signo: number, pairs: Uint32Array, from: number, count: number): number {
  return 'pidfd' in target
    ? native.sigqueueBatch(target.pidfd, signo, pairs, from, count)
    : native.sigqueueThreadBatch(target.pid, target.tid, signo, pairs, from, count)
}

/**
 * Queues control signals `[kind, low]` of connection `conn` in order; resolves once all are queued
 * (EAGAIN: the queue is full for now — retried on a short backoff until `deadline`).
 */
export async function sendControls(target: Target, signo: number, side: number, conn: number, items: [number, number][], deadline: number): Promise<void> {
  const pairs = new Uint32Array(items.length * 2)
  items.forEach(([kind, low], i) => {
    pairs[2 * i] = low >>> 0
    pairs[2 * i + 1] = controlHigh(side, conn, kind)
  })
  let from = 0
  let wait = 0.1
  for (;;) {
    from += queue(target, signo, pairs, from, items.length - from)
    if (from === items.length) return
    if (performance.now() > deadline) {
      const err = new Error('the signal queue stayed full (EAGAIN)') as NodeJS.ErrnoException
      err.code = 'EAGAIN'
      throw err
    }
    await new Promise((r) => setTimeout(r, wait))
    wait = Math.min(5, wait * 2)
  }
}
