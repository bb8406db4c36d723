import type { PeerInfo } from '@ipc/core'
import { HeldUnits, type Link, type LinkEnd, type LinkEvents } from '@ipc/core/mechanism'
import type { UnitSender } from './queue-io.js'
import { PRIORITIES } from './wire.js'

/** What an {@link MqLink} asks of the side that owns its queues. */
export interface MqLinkHooks {
  /** Reads whatever is queued for us now (before an end is reported, so nothing is lost). */
  drainIncoming(): void
  /** Core paused (`false`) or resumed (`true`) this link: the owner decides whether to keep reading its queue. */
  setReading(on: boolean): void
  /** Releases this side's kernel objects (called once). */
  release(): void
}

/**
 * One side of an `mq:` conversation. Units go out through `sender` (into the peer's queue) and
 * come in through `inbox` (fed by whoever reads our queue, which other connections may share).
 * The peer's mark ending ends it with `'peer-exited'` once what the peer sent has been read; a
 * GOODBYE frame (core's) ends it with `'peer'`.
 */
export class MqLink implements Link {
  readonly lanes = PRIORITIES
  /** Units read for this connection, held while core has it paused (or before it starts). */
  readonly inbox = new HeldUnits()
  private ended = false
  private pendingEnd: LinkEnd | undefined
  private released = false

  constructor(
    readonly maxUnit: number,
    readonly peer: PeerInfo,
    private readonly sender: UnitSender,
    private readonly hooks: MqLinkHooks,
  ) {}

  start(events: LinkEvents): void {
    this.inbox.events = events
    this.inbox.flush()
    if (this.pendingEnd) {
      const end = this.pendingEnd
      this.pendingEnd = undefined
      this.ended = false
      this.end(end)
      return
    }
    this.hooks.setReading(true)
  }

  write(chunks: Uint8Array[], lane = 0): boolean {
    return this.sender.send(chunks, lane, () => this.inbox.events?.drain())
  }

  pause(): void {
    this.inbox.paused = true
    this.hooks.setReading(false)
  }

  resume(): void {
    this.inbox.paused = false
    this.inbox.flush()
    this.hooks.setReading(true)
  }

  /** The peer's owner ended: pass on what it sent, then end. */
  peerExited(): void {
    if (this.ended) return
    this.hooks.drainIncoming()
    this.inbox.paused = false
    this.inbox.flush()
    this.end({ reason: 'peer-exited' })
  }

  /** Reports an end (kept until `start()` if core has not started the link yet). */
  end(info: LinkEnd): void {
    if (this.ended) return
    this.ended = true
    const events = this.inbox.events
    if (events === undefined) {
      if (!this.released) this.pendingEnd = info
      return
    }
    this.inbox.events = undefined
    events.end(info)
  }

  /** A failure of this side's queue I/O. */
  fail(error: Error): void {
    this.end({ reason: 'error', error })
  }

  close(): Promise<void> {
    this.inbox.events = undefined
    // what is queued still goes out while the peer reads; core bounds the wait (closeTimeout)
    return new Promise((resolve) =>
      this.sender.whenDrained(() => {
        this.destroy()
        resolve()
      }),
    )
  }

  destroy(): void {
    this.ended = true
    this.pendingEnd = undefined
    this.inbox.events = undefined
    this.inbox.clear()
    this.sender.close()
    if (!this.released) {
      this.released = true
      this.hooks.release()
    }
  }
}
