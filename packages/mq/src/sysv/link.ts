import type { PeerInfo } from '@ipc/core'
import { EXIT_EOF_GRACE_MS, HeldUnits, type Link, type LinkEnd, type LinkEvents } from '@ipc/core/mechanism'
import { CLOSED_UNIT, KIND_CLOSED, KIND_CREDIT, creditUnit, dataUnit } from './wire.js'

/**
 * Data bytes a side may have sent and not yet had credited. Both directions share one small
 * kernel pool (`kernel.msgmnb`, 16 KiB by default), so the receive threads always drain the queue
 * — a paused reader must never leave it full, which would deadlock both directions — and this
 * window is what bounds a slow reader's memory instead.
 */
export const WINDOW = 512 * 1024

/** What a {@link SysvLink} asks of the side that owns the queue. */
export interface SysvLinkHooks {
  /** Sends units to the peer, in order; `false` when some wait for room (then `drain` runs once all are queued). */
  send(units: Uint8Array[], drain: () => void): boolean
  /** `true` while sent units wait for room. */
  busy(): boolean
  /** Calls `done` once nothing waits for room. */
  whenDrained(done: () => void): void
  /**
   * Called once, after this side has sent its closed unit; resolves when its kernel objects are
   * released. `flushed` is `true` when this side closed gracefully (`close()`) while the peer may
   * still be reading what it flushed: the queue must outlive that reading.
   */
  release(flushed: boolean): Promise<void> | void
}

/**
 * One side of an `mq+sysv:` conversation, with credit-based flow control per direction and the
 * closed-unit handshake: each side sends one closed unit, last, and answers the peer's with its own
 * (unless it has sent it already). So each side knows when the other will send nothing more to
 * it, and a client's receiver lives exactly until then: nothing is ever sent to a receiver that
 * has gone, and nothing stays unread in the queue.
 */
export class SysvLink implements Link {
  private events: LinkEvents | undefined
  /** Data units held while core has the link paused (or not started); they reach `pass()` in order. */
  private readonly held = new HeldUnits()
  private ended = false
  private pendingEnd: LinkEnd | undefined
  private released = false
  private releasing: Promise<void> | undefined
  /** Data bytes sent and not yet credited by the peer. */
  private inFlight = 0
  /** Data bytes passed on to core and not yet credited back to the peer. */
  private consumed = 0
  private wantDrain = false
  private drainArmed = false
  private sentClosed = false
  private closing = false
  private gone = false
  private markPeerDone!: () => void
  private markPeerGone!: () => void
  /** Resolves once the peer sends nothing more to this side: its closed unit came, or its owner ended. */
  readonly peerDone: Promise<void> = new Promise((resolve) => (this.markPeerDone = resolve))
  /** Resolves if the peer's owner ends or the queue goes away (nothing sent reaches the peer any more). */
  readonly peerGone: Promise<void> = new Promise((resolve) => (this.markPeerGone = resolve))
  /** `true` once the peer's closed unit came (it reads nothing more and sends nothing more). */
  gotClosed = false

  constructor(
    readonly maxUnit: number,
    readonly peer: PeerInfo,
    private readonly hooks: SysvLinkHooks,
  ) {}

  /** A unit from the peer: data (to core, or held while paused), credit, or closed. */
  deliver(unit: Buffer): void {
    if (unit.length === 0 || this.gotClosed) return
    if (unit[0] !== KIND_CLOSED && this.released) return // in flight when we closed: nobody reads it
    if (unit[0] === KIND_CREDIT) {
      if (unit.length === 5) this.credit(unit.readUInt32LE(1))
      return
    }
    if (unit[0] === KIND_CLOSED) {
      this.gotClosed = true
      this.sendClosed() // the answer the peer waits for before it stops reading
      this.markPeerDone()
      this.flushHeld()
      this.end({ reason: 'peer' })
      return
    }
    this.held.deliver(unit.subarray(1))
  }

  /** Bytes held while core has the link paused (or not started). */
  get heldBytes(): number {
    return this.held.bytes
  }

  private pass(bytes: Buffer): void {
    const events = this.events
    if (events === undefined) return // the link has ended: nobody reads it
    events.data(bytes)
    this.consumed += bytes.length
    if (this.consumed >= WINDOW / 4 && !this.sentClosed) {
      const grant = creditUnit(this.consumed)
      this.consumed = 0
      this.hooks.send([grant], () => {})
    }
  }

  private credit(bytes: number): void {
    this.inFlight = Math.max(0, this.inFlight - bytes)
    this.maybeDrain()
  }

  /**
   * Tells core it may write again once the window has room and nothing waits for room in the
   * queue. The queue may be busy with units other than this link's data (its own credits, or on
   * the listener's side other connections' units), so a busy queue arms a drain check of its own.
   */
  private maybeDrain(): void {
    if (!this.wantDrain || this.inFlight >= WINDOW) return
    if (this.hooks.busy()) {
      if (!this.drainArmed) {
        this.drainArmed = true
        this.hooks.whenDrained(() => {
          this.drainArmed = false
          this.maybeDrain()
        })
      }
      return
    }
    this.wantDrain = false
    this.events?.drain()
  }

  /** Passes on what was held (no longer paused). */
  private flushHeld(): void {
    this.held.paused = false
    this.held.flush()
  }

  start(events: LinkEvents): void {
    this.events = events
    this.held.events = { data: (bytes) => this.pass(bytes as Buffer), drain: () => {}, end: () => {} }
    this.flushHeld()
    if (this.pendingEnd) {
      const end = this.pendingEnd
      this.pendingEnd = undefined
      this.ended = false
      this.end(end)
    }
  }

  write(chunks: Uint8Array[]): boolean {
    if (this.sentClosed || this.gotClosed) return true // the peer reads nothing more
    const units = chunks.map((c) => {
      this.inFlight += c.length
      return dataUnit(c)
    })
    const queued = this.hooks.send(units, () => this.maybeDrain())
    if (queued && this.inFlight < WINDOW) return true
    this.wantDrain = true
    return false
  }

  pause(): void {
    this.held.paused = true
  }

  resume(): void {
    this.flushHeld()
  }

  /** The peer's owner ended: let the receive thread hand over what it sent, then end. */
  peerExited(): void {
    this.gone = true
    this.markPeerDone()
    this.markPeerGone()
    if (this.ended) return
    setTimeout(() => {
      this.flushHeld()
      this.end({ reason: 'peer-exited' })
    }, EXIT_EOF_GRACE_MS).unref() // the peer's last units may still be coming through the receive thread
  }

  /** The queue is gone (removed by its listener, or by a reclaiming one): nothing more comes or goes. */
  queueGone(): void {
    this.gone = true
    this.markPeerDone()
    this.markPeerGone()
    this.flushHeld()
    this.end({ reason: 'peer' })
  }

  /** Reports an end (kept until `start()` if core has not started the link yet). */
  end(info: LinkEnd): void {
    if (this.ended) return
    this.ended = true
    if (this.events === undefined) {
      if (!this.released) this.pendingEnd = info
      return
    }
    const ev = this.events
    this.events = undefined
    ev.end(info)
  }

  /** A failure of this side's queue I/O. */
  fail(error: Error): void {
    this.end({ reason: 'error', error })
  }

  close(): Promise<void> {
    this.events = undefined
    this.closing = true
    return new Promise((done) => this.hooks.whenDrained(() => void this.destroy().then(done)))
  }

  /** Sends the closed unit (once), unless the peer is gone. */
  private sendClosed(): void {
    if (this.sentClosed) return
    this.sentClosed = true
    if (!this.gone) this.hooks.send([CLOSED_UNIT], () => {})
  }

  /** Releases this side; resolves once its kernel objects are released (which may wait for the peer's closed unit). */
  destroy(): Promise<void> {
    this.ended = true
    this.pendingEnd = undefined
    this.events = undefined
    this.held.events = undefined
    this.held.clear()
    if (this.releasing) return this.releasing
    this.released = true
    this.sendClosed()
    this.releasing = Promise.resolve(this.hooks.release(this.closing && !this.gotClosed && !this.gone))
    return this.releasing
  }
}
