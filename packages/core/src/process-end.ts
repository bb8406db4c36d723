import type { LinkEnd } from './link.js'
import { classifyStreamEnd } from './stream-link.js'

/** A watch on the peer process (a pidfd in `@ipc/native`). */
export interface ProcessWatch {
  /** `true` once the process has exited. */
  exited(): boolean
  /** Calls `listener` once when the process exits (at once if it has). */
  onExit(listener: () => void): void
}

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
      const timer = setTimeout(() => resolve(base), graceMs)
      watch.onExit(() => {
        clearTimeout(timer)
        resolve(exited())
      })
    })
  }
}
