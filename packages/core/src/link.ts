/**
 * The contract a mechanism package implements: a `Link` moves bytes between two processes and
 * reports what happens to it. Everything above it (codec, framing, batching, backpressure, errors,
 * timeouts) is core's. A link never sees a message, only byte chunks.
 */

/** Who is at the other end, where the mechanism can know it. */
export interface PeerInfo {
  /** The peer's process id. */
  pid: number
  /** The peer's effective user id. */
  uid?: number
  /** The peer's effective group id. */
  gid?: number
}

/** Why a link (and so its transport) ended. */
export type CloseReason =
  /** This side called `close()`. */
  | 'local'
  /** The peer closed the connection (or it broke, for connection-based mechanisms). */
  | 'peer'
  /** The peer process exited or was killed. */
  | 'peer-exited'
  /** A protocol or system error ended it; see `error`. */
  | 'error'

/** How a link ended, as the link reports it. */
export interface LinkEnd {
  reason: Exclude<CloseReason, 'local'>
  /** The error behind `reason: 'error'` (and, when known, behind the others). */
  error?: Error
}

/** What core gives a link to report into. Each is called on the event loop. */
export interface LinkEvents {
  /**
   * Bytes arrived. Byte-stream links pass any chunking; unit links pass one unit per call. `lane`
   * is the priority the bytes were sent with (links with {@link Link.lanes} > 1), else 0.
   */
  data(chunk: Uint8Array, lane?: number): void
  /** After `write()` returned `false`: the link can take more now. */
  drain(): void
  /** The link ended by itself (not through `close()`). Called at most once; nothing follows it. */
  end(info: LinkEnd): void
}

/** A mechanism's half of a connection. */
export interface Link {
  /**
   * For mechanisms that carry bounded units (a queue message, a ring slot): the largest unit.
   * Core cuts its framed byte stream into units of at most this size, and the link must deliver
   * them whole and in order. `undefined` for byte streams.
   */
  readonly maxUnit?: number
  /**
   * Priority levels the link carries (a message queue's priorities), default 1. Core keeps one
   * framed stream per lane: order holds within a lane, and the link may deliver a higher lane first.
   */
  readonly lanes?: number
  /** The peer's identity, where the mechanism can know it. */
  readonly peer?: PeerInfo
  /** Starts reading; events go to `events` from now on. Called once. */
  start(events: LinkEvents): void
  /**
   * Writes these chunks, in order, as one batch, on `lane` (0 unless the link has lanes). Returns
   * `false` when the link is full: core writes nothing more until `events.drain()`. A link whose
   * peer has ended returns `false` from then on, also while it is still classifying the end
   * (`reportEnd`): a link that kept taking writes would let a sender loop on `send()` without
   * ever yielding to the event loop.
   */
  write(chunks: Uint8Array[], lane?: number): boolean
  /** Stop reading from the kernel (the receiver is behind); data stays in the kernel. */
  pause(): void
  /** Read again after `pause()`. */
  resume(): void
  /**
   * Flushes what was written (as far as the peer takes it) and releases every kernel object this
   * side created. After it resolves, no event is reported.
   */
  close(): Promise<void>
  /** Releases everything at once, without flushing (used on errors). */
  destroy(): void
}
