/**
 * `ShmLink`: core's byte stream over one connection segment's two rings. Writes copy into the
 * outbound ring (one commit per batch); reads copy what the inbound ring holds into a receive slab
 * and pass views of it on (decoded binary values may be views, so ring memory never reaches the
 * application). Nothing here makes a syscall while both sides keep up: the doorbell rings only
 * for a side that went to sleep.
 */
import type { Link, LinkEnd, LinkEvents, PeerInfo } from '@ipc/core/mechanism'
import { IpcError, debug, reportEnd } from '@ipc/core/mechanism'
import type { ShmChannel } from '@ipc/native'

/** Receive slab size: views of one slab are handed out until it is nearly used up. */
const SLAB_BYTES = 256 * 1024
/** A slab with less room than this is replaced before the next read. */
const SLAB_MIN = 16 * 1024
/** Bytes delivered per event-loop turn before the rest waits for the next turn (others get to run). */
const TURN_BYTES = 4 * 1024 * 1024

/** What the link needs from its connection besides the channel. */
export interface ShmLinkOptions {
  peer: PeerInfo
  /** How an end of the peer (its doorbell's last write end closed) is reported. */
  classifyEnd(): LinkEnd | Promise<LinkEnd>
  /** Releases what the connection holds besides the channel (its exit watcher). */
  release(): void
  /**
   * Microseconds to keep polling an empty inbound ring, once per event-loop turn (other callbacks
   * and promises run in between), before sleeping on the doorbell. 0: sleep at once.
   */
  spin?: number
}

export class ShmLink implements Link {
  readonly peer: PeerInfo
  private events: LinkEvents | undefined
  private slab: Buffer = Buffer.allocUnsafeSlow(SLAB_BYTES)
  private slabUsed = 0
  private paused = false
  private closed = false
  private peerGone = false
  private ended = false
  private again: NodeJS.Immediate | undefined
  // chunks the outbound ring could not take yet (views of core's outbox, never rewritten), from pendingOffset in the first
  private pending: Uint8Array[] | undefined
  private pendingOffset = 0
  private flushed: (() => void) | undefined
  private readonly spinMs: number
  private idleSince = -1

  constructor(
    private readonly channel: ShmChannel,
    private readonly options: ShmLinkOptions,
  ) {
    this.peer = options.peer
    this.spinMs = (options.spin ?? 0) / 1000
  }

  /** The channel's doorbell rang (1), or its peer is gone (0), or polling failed (< 0). */
  wake(status: number): void {
    if (this.closed) return
    if (status < 0) {
      this.fail(new Error(`polling the shm doorbell failed (errno ${-status})`))
      return
    }
    if (status === 0) this.peerGone = true
    this.retryWrite()
    this.pump()
  }

  start(events: LinkEvents): void {
    this.events = events
    this.pump() // also arms the sleeping flag: the producer rings from now on
  }

  write(chunks: Uint8Array[]): boolean {
    if (this.closed) return true
    if (this.ended) return false // its end is being reported (reportEnd): take nothing more
    if (this.pending !== undefined) {
      this.pending.push(...chunks)
      return false
    }
    let total = 0
    for (const c of chunks) total += c.length
    let taken: number
    try {
      taken = this.channel.write(chunks, 0)
    } catch (err) {
      this.fail(err as Error)
      return true
    }
    if (taken === total) return true
    this.keep(chunks, 0, taken)
    return false
  }

  /** Keeps what of `chunks` (from `offset` in the first) is past the `taken` bytes. */
  private keep(chunks: Uint8Array[], offset: number, taken: number): void {
    let i = 0
    let at = offset + taken
    while (i < chunks.length && at >= chunks[i]!.length) {
      at -= chunks[i]!.length
      i++
    }
    this.pending = chunks.slice(i)
    this.pendingOffset = at
  }

  private retryWrite(): void {
    const pending = this.pending
    if (pending === undefined) return
    let total = -this.pendingOffset
    for (const c of pending) total += c.length
    let taken: number
    try {
      taken = this.channel.write(pending, this.pendingOffset)
    } catch (err) {
      this.fail(err as Error)
      return
    }
    if (taken < total) {
      this.keep(pending, this.pendingOffset, taken)
      return
    }
    this.pending = undefined
    this.pendingOffset = 0
    const flushed = this.flushed
    this.flushed = undefined
    flushed?.()
    this.events?.drain()
  }

  /** Delivers what the inbound ring holds (this turn's share), until it is empty (asleep) or paused. */
  private pump(): void {
    if (this.again !== undefined || this.events === undefined) return
    let delivered = 0
    while (!this.paused && !this.closed) {
      if (delivered >= TURN_BYTES) {
        this.again = setImmediate(() => {
          this.again = undefined
          this.pump()
        })
        return
      }
      if (this.slab.length - this.slabUsed < SLAB_MIN) {
        this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES)
        this.slabUsed = 0
      }
      let n: number
      try {
        n = this.channel.read(this.slab, this.slabUsed, !this.spinning())
      } catch (err) {
        this.fail(err as Error)
        return
      }
      if (n === 0) {
        if (this.peerGone) this.endByPeer()
        else if (this.idleSince >= 0) this.again = setImmediate(this.poll) // still within the spin budget
        return
      }
      this.idleSince = -1
      const chunk = this.slab.subarray(this.slabUsed, this.slabUsed + n)
      this.slabUsed += n
      delivered += n
      this.events.data(chunk)
    }
  }

  private readonly poll = (): void => {
    this.again = undefined
    this.pump()
  }

  /** Within the spin budget (started now if the ring just ran empty): read without arming the doorbell. */
  private spinning(): boolean {
    if (this.spinMs === 0 || this.peerGone) return false
    const now = performance.now()
    if (this.idleSince < 0) this.idleSince = now
    if (now - this.idleSince < this.spinMs) return true
    this.idleSince = -1
    return false
  }

  private endByPeer(): void {
    if (this.ended) return
    this.ended = true
    const report = (end: LinkEnd): void => {
      if (this.closed) return
      this.release()
      this.events?.end(end)
    }
    reportEnd(() => this.options.classifyEnd(), report)
  }

  private fail(error: Error): void {
    if (this.closed || this.ended) return
    this.ended = true
    const broken = (error as NodeJS.ErrnoException).code === 'EBADMSG'
    const end: LinkEnd = {
      reason: 'error',
      error: broken ? new IpcError('ERR_IPC_DECODE', 'the peer broke the shm ring protocol (an index beyond the ring)', { cause: error }) : error,
    }
    this.release()
    this.events?.end(end)
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    this.pump()
  }

  /** Waits until the outbound ring took everything written (or the peer is gone), then releases. */
  async close(): Promise<void> {
    if (this.closed) return
    if (this.pending !== undefined && !this.peerGone && !this.ended) {
      await new Promise<void>((resolve) => {
        this.flushed = resolve
        this.onGone = resolve
      })
    }
    this.release()
  }

  private onGone: (() => void) | undefined

  destroy(): void {
    this.release()
  }

  private release(): void {
    if (this.closed) return
    this.closed = true
    if (this.again !== undefined) clearImmediate(this.again)
    this.pending = undefined
    const resolve = this.onGone ?? this.flushed
    this.onGone = undefined
    this.flushed = undefined
    try {
      this.channel.close()
    } catch (err) {
      debug(`shm: closing a channel failed: ${(err as Error)?.message}`)
    }
    this.options.release()
    resolve?.()
  }
}
