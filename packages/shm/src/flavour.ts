/**
 * What differs between the mechanisms built on this package's handshake: `shm:` (one byte ring per
 * direction) and `@ipc/sem`'s `sem:` (slots guarded by semaphores, after small unused rings). Both
 * share everything else — the rendezvous file, the sealed memfd the client makes, the hello, the
 * doorbells (the handshake's wake-ups, and each side's end seen as end-of-file), the checks.
 *
 * For sibling mechanism packages (`@ipc/shm/handshake`), not for applications.
 */
import type { Link, LinkEnd, PeerInfo } from '@ipc/core/mechanism'
import type { ShmChannel } from '@ipc/native'

/** What a flavour's link gets from the handshake. */
export interface SegmentLinkContext {
  peer: PeerInfo
  /** How an end of the peer (its doorbell's last write end closed) is reported. */
  classifyEnd(): LinkEnd | Promise<LinkEnd>
  /** Releases what the connection holds besides the channel (its exit watcher). */
  release(): void
  /** The `spin` option, in microseconds (0 when not given). */
  spin: number
}

/** One connection's segment, as a flavour lays it out. */
export interface SegmentPlan {
  /** Bytes of the memfd. */
  size: number
  /** Ring capacity of the `ShmChannel` over it (a power of two; the rings come first, after the header). */
  capacity: number
  /** The flavour's own handshake words (indices 16 to 63), `[index, value]`: the client writes them before its offer. */
  words: [number, number][]
  /** Client, before the offer: fills the segment (sem: makes its semaphores). */
  prepare?(fd: number): void
  /** Listener, once the words are readable: throws (with a reason) when the segment does not fit them. */
  check?(word: (index: number) => number): void
  /** The link of the established connection; `fd` is the memfd, owned by `channel` (map it, do not close it). */
  link(channel: ShmChannel, fd: number, side: 0 | 1, context: SegmentLinkContext): Link
  /** Releases what `prepare`/`check` made, when the handshake fails before `link()`. */
  dispose?(): void
}

/** A mechanism on this handshake. */
export interface SegmentFlavour<Options> {
  /** The scheme: memfds are named `ipc-<scheme>:<name>`, rendezvous files `ipc-<scheme>.<name>`. */
  readonly scheme: string
  /** Handshake word MAGIC of its segments. */
  readonly magic: number
  /** Client: the segment these options ask for (throws `ERR_IPC_INVALID_ARGUMENT` for bad ones). */
  plan(options: Options): SegmentPlan
  /** Listener: the plan for a client's memfd of `size` bytes, or why such a segment is refused. */
  planFor(size: number): SegmentPlan | string
}

/** The first handshake word a flavour may use for itself. */
export const FLAVOUR_WORDS = 16
