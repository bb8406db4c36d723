import type { LinkEnd } from './link.js'
import { type StreamLinkOptions, classifyStreamEnd } from './stream-link.js'

/** `true` while a process with this pid exists (`kill(pid, 0)`; EPERM means it exists as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A watch on the peer process. */
export interface ProcessWatch {
  /** `true` once the process has exited. */
  exited(): boolean
  /** Calls `listener` once when the process exits (at once if it has). */
  onExit(listener: () => void): void
}

/** What a mechanism's exit watcher (e.g. `@ipc/native`'s pidfd `PidWatcher`) offers. */
export interface ExitWatcher {
  exited(): boolean
  close(): void
}

/** Opens an exit watcher on `pid` that calls `onExit` once; throws (ESRCH) if the process is gone. */
export type OpenExitWatcher = (pid: number, onExit: () => void) => ExitWatcher

/**
 * End classification for links bound to one peer process (pipes, FIFOs): an end of stream or a
 * broken pipe means `'peer-exited'` when the process is gone, else `'peer'` (it closed its end and
 * lives on). A process that is dying closes its descriptors a moment before its exit is visible,
 * so an end is given up to `graceMs` for the exit to show.
 */
export function classifyProcessEnd(watch: ProcessWatch, graceMs = 50): (error: Error | undefined) => LinkEnd | Promise<LinkEnd> {
  return (error) => {
    const base = classifyStreamEnd(error)
    if (base.reason === 'error') return base
    const exited = (): LinkEnd => (error === undefined ? { reason: 'peer-exited' } : { reason: 'peer-exited', error })
    if (watch.exited()) return exited()
    return new Promise<LinkEnd>((resolve) => {
      // the exit is checked again when the grace ends: an event loop busier than graceMs runs this
      // timer before the exit watcher's callback, though the exit is visible by then
      const timer = setTimeout(() => resolve(watch.exited() ? exited() : base), graceMs)
      watch.onExit(() => {
        clearTimeout(timer)
        resolve(exited())
      })
    })
  }
}

/** After the peer exits, how long its end of stream may take before the link is ended anyway. */
export const EXIT_EOF_GRACE_MS = 40

/**
 * The {@link StreamLinkOptions} that bind a stream link to one peer process: ends are classified
 * with {@link classifyProcessEnd}, and the link ends with `'peer-exited'` shortly after the process
 * exits even if the stream's end never comes (a grandchild may still hold the peer's descriptor).
 * `pid` undefined means the peer is known to be gone already.
 */
export function processBound(
  pid: number | undefined,
  open: OpenExitWatcher,
): Pick<StreamLinkOptions, 'classifyEnd' | 'externalEnd' | 'release' | 'peer'> & { watch: ProcessWatch } {
  const listeners: (() => void)[] = []
  let exited = pid === undefined
  let watcher: ExitWatcher | undefined
  if (pid !== undefined) {
    try {
      watcher = open(pid, () => {
        exited = true
        for (const l of listeners.splice(0)) l()
      })
    } catch {
      exited = true // the process is gone already
    }
  }
  const watch: ProcessWatch = {
    exited: () => exited || (watcher?.exited() ?? true),
    onExit(listener) {
      if (watch.exited()) listener()
      else listeners.push(listener)
    },
  }
  const bound: ReturnType<typeof processBound> = {
    watch,
    classifyEnd: classifyProcessEnd(watch),
    release: () => watcher?.close(),
    externalEnd(end) {
      watch.onExit(() => setTimeout(() => end({ reason: 'peer-exited' }), EXIT_EOF_GRACE_MS).unref())
    },
  }
  if (pid !== undefined) bound.peer = { pid }
  return bound
}
