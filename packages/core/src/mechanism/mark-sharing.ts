/**
 * Liveness marks shared within one environment, for mechanisms that name marks in their
 * handshakes (mq, signal): the environment's own mark, made once, and one watcher per distinct
 * peer mark, shared by every connection that watches it. The native constructors are passed in
 * (core does not load the addon).
 */
import { type MarkRef, type MarkWatch, formatMarkRef, watchMark } from './liveness.js'

/** What {@link markSharing} needs from `@ipc/native`. */
export interface MarkNatives {
  LivenessMark: new () => { pid: number; fd: number; ino: number }
  MarkWatcher: new (pid: number, fd: number, ino: number, onGone: () => void) => MarkWatch
}

/** The shared marks of one environment (call once per package; module state is per environment). */
export interface MarkSharing {
  /**
   * This environment's own mark: one per process or Worker, made on first use and shared by every
   * connection and listener of the environment. It ends when the environment does (the addon
   * closes it), which is exactly what peers must notice.
   */
  ownMark(): MarkRef
  /**
   * Watches a peer's mark: `onGone` runs once, on the event loop, when the peer's owner ends.
   * Returns `undefined` when the mark has ended already (the peer is gone: refuse it). Throws
   * `ERR_IPC_PERMISSION` when the mark cannot be watched (another user, a non-dumpable process,
   * another pid namespace). Connections to one environment share one watcher (one descriptor).
   */
  watchPeer(ref: MarkRef, onGone: () => void, what: string): MarkWatch | undefined
}

export function markSharing(natives: MarkNatives): MarkSharing {
  let own: { pid: number; fd: number; ino: number } | undefined

  /** One native watcher per distinct mark, shared by every connection that watches it. */
  interface SharedWatch {
    watch: MarkWatch
    listeners: Set<() => void>
  }

  const watched = new Map<string, SharedWatch>()

  return {
    ownMark() {
      own ??= new natives.LivenessMark()
      return { pid: own.pid, fd: own.fd, ino: own.ino }
    },
    watchPeer(ref, onGone, what) {
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
            const watcher = new natives.MarkWatcher(r.pid, r.fd, r.ino, gone)
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
    },
  }
}
