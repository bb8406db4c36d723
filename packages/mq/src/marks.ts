/**
 * Liveness marks for both queue mechanisms. A queue has no end of stream: what tells one side
 * that the other's owner (a process, or a `worker_threads` Worker) has ended is the owner's
 * liveness mark of `@ipc/native`, named in the hello (client → listener) and the ack (listener →
 * client). Pids are never trusted for this: a Worker shares its process's pid, and pids are reused.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { markSharing } from '@ipc/core/mechanism'
import { native } from '@ipc/native'

const shared = markSharing(native)

/** This environment's own mark (see `markSharing` in `@ipc/core/mechanism`). */
export const ownMark = shared.ownMark
/** Watches a peer's mark, one watcher per distinct mark (see `markSharing`). */
export const watchPeer = shared.watchPeer

/**
 * Takes `flock(LOCK_EX)` on `fd` — a listener's owner mark on its rendezvous object (the server
 * queue, the key file) — allowing for a prober that holds it for a moment (a `connect()` checking
 * for a live listener locks and unlocks at once): `false` only if it stays taken.
 */
export async function lockSoon(fd: number): Promise<boolean> {
  for (const wait of [0, 1, 2, 4, 8, 16]) {
    if (wait > 0) await sleep(wait)
    if (native.lockExclusive(fd)) return true
  }
  return false
}
