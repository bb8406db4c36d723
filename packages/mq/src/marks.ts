/**
 * Liveness marks for both queue mechanisms. A queue has no end of stream: what tells one side
 * that the other's owner (a process, or a `worker_threads` Worker) has ended is the owner's
 * liveness mark of `@ipc/native`, named in the hello (client → listener) and the ack (listener →
 * client). Pids are never trusted for this: a Worker shares its process's pid, and pids are reused.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { type MarkRef, type MarkWatch, formatMarkRef, watchMark } from '@ipc/core/mechanism'
import { native } from '@ipc/native'

let own: InstanceType<typeof native.LivenessMark> | undefined

/**
 * This environment's own mark: one per process or Worker (module state is per environment),
 * made on first use and shared by every connection and listener of the environment. It ends
 * when the environment does (the addon closes it), which is exactly what peers must notice.
 */
export function ownMark(): MarkRef {
  own ??= new native.LivenessMark()
  return { pid: own.pid, fd: own.fd, ino: own.ino }
}

/** One native watcher per distinct mark, shared by every connection that watches it. */
interface SharedWatch {
  watch: MarkWatch
  listeners: Set<() => void>
}

const watched = new Map<string, SharedWatch>()

/**
 * Watches a peer's mark (through core's `watchMark`, with `native.MarkWatcher`): `onGone` runs
 * once, on the event loop, when the peer's owner ends. Returns `undefined` when the mark has
 * ended already (the peer is gone: refuse it). Throws `ERR_IPC_PERMISSION` when the mark cannot
 * be watched (another user, a non-dumpable process, another pid namespace).
 *
 * Connections from one environment to another share one watcher (one descriptor), so a burst
 * of connections between two processes costs one `/proc/<pid>/fd` open, not one per connection.
 */
export function watchPeer(ref: MarkRef, onGone: () => void, what: string): MarkWatch | undefined {
  const key = formatMarkRef(ref)
  let shared = watched.get(key)
  if (shared === undefined) {
    let live = false
    const listeners = new Set<() => void>()
    const fired = (): void => {
      if (watched.get(key) === entry) watched.delete(key)
      for (const listener of [...listeners]) listener()
      listeners.clear()
    }
    const watch = watchMark(
      ref,
      (r, gone) => {
        const watcher = new native.MarkWatcher(r.pid, r.fd, r.ino, gone)
        live = true
        return watcher
      },
      fired,
      what,
    )
    const entry: SharedWatch = { watch, listeners }
    if (!live) {
      watch.close() // ended already: watchMark would only report it on the next turn
      return undefined
    }
    watched.set(key, entry)
    shared = entry
  }
  const entry = shared
  entry.listeners.add(onGone)
  let closed = false
  return {
    close() {
      if (closed) return
      closed = true
      entry.listeners.delete(onGone)
      if (entry.listeners.size === 0 && watched.get(key) === entry) {
        watched.delete(key)
        entry.watch.close()
      }
    },
  }
}

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
