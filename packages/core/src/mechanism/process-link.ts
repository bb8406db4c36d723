import type { Socket } from 'node:net'
import type { Link } from '../link.js'
import type { processBound } from '../process-end.js'
import { streamLink } from '../stream-link.js'

/** What {@link processStreamLink} needs. */
export interface ProcessStreamLinkOptions {
  /** The peer's bytes. */
  readable: Socket
  /** Our bytes. */
  writable: Socket
  /** The binding to the peer process, from `processBound(pid, openWatcher)`. */
  bound: ReturnType<typeof processBound>
}

/**
 * A stream link bound to one peer process (pipes, FIFOs): the peer's exit is watched, what it
 * wrote before dying is still read, and the link ends with `'peer-exited'` even when another
 * process keeps the peer's descriptors open.
 */
export function processStreamLink({ readable, writable, bound }: ProcessStreamLinkOptions): Link {
  const { watch, ...linkOptions } = bound
  watch.onExit(() => readable.resume()) // drain what the peer wrote before it died
  return streamLink({ readable, writable, ...linkOptions })
}
