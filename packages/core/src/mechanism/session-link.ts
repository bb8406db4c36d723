/**
 * A {@link Link} over a message broker: the broker moves units between two subjects (channels),
 * at most once and with no backpressure; this layer makes the Transport's promises hold over it.
 *
 * - **Order, exactly once.** Every data unit has a number; the receiver delivers them in order,
 *   drops duplicates and asks for a gap to be sent again (NACK). Acknowledgements are cumulative,
 *   carried by every unit, and sent on their own after a quarter of the window or 5 ms.
 * - **Credit.** The receiver accepts `window` bytes beyond what it acknowledged; the sender's
 *   `write()` returns `false` when they are used up, so core holds senders in `send()`. The
 *   receiver acknowledges only what it delivered: while core has paused it, units wait here (at
 *   most a window and a batch), and the sender's window closes.
 * - **Reconnects.** While the carrier is down, `write()` returns `false`; when it is back, every
 *   unit not yet acknowledged is sent again (the broker may have dropped it). Down longer than
 *   `resume`: the link ends with `ERR_IPC_CLOSED`.
 * - **Liveness.** While nothing was sent for `probe` ms a PING goes out (a carrier can make the
 *   broker report at once that nobody receives them any more: `gone`). After `heartbeat` ms
 *   without a unit from the peer, PINGs ask for an answer; after three heartbeats of silence the
 *   link ends `'peer'` (a hung or cut-off peer). A process frozen itself (a long pause between
 *   timer ticks) asks first instead of concluding.
 *
 * The wire format is in `session-wire.ts`.
 */
import { debug } from '../debug.js'
import { IpcError } from '../errors.js'
import type { Link, LinkEnd, LinkEvents } from '../link.js'
import { ANSWER_WANTED, SESSION_HEADER, UNIT, decodeUnit, encodeUnit, seqDiff } from './session-wire.js'

/** What a broker package supplies: one end's way to the broker. */
export interface SessionCarrier {
  /** The largest unit the broker carries, header included. */
  readonly maxUnit: number
  /** `true` while connected to the broker. */
  readonly up: boolean
  /** Starts delivering units and events. Called once. */
  start(events: SessionCarrierEvents): void
  /** Sends one unit to the peer's subject (best effort: units sent while down may be lost). */
  send(unit: Uint8Array): void
  /** Stops receiving and releases this end's subscriptions. Idempotent. */
  close(): void
}

/** What a carrier reports to its session link. */
export interface SessionCarrierEvents {
  /** A unit arrived on this end's subject. */
  unit(bytes: Uint8Array): void
  /** The broker says nobody receives this end's units any more (the peer's subscription is gone). */
  gone(): void
  /** The broker connection is down: units sent now may be lost. */
  down(): void
  /** The broker connection is back. */
  up(): void
  /** The broker connection is closed for good. */
  failed(error: Error): void
}

/** Settings of one session. */
export interface SessionOptions {
  /** Bytes of data this end accepts beyond what it acknowledged. */
  window: number
  /** Bytes the peer accepts beyond its acknowledgement (from the handshake). */
  peerWindow: number
  /** Milliseconds of silence after which PINGs ask for an answer; three of them end the link. */
  heartbeat: number
  /** Milliseconds without sending after which a PING goes out. */
  probe: number
  /** Milliseconds the carrier may be down before the link ends. */
  resume: number
  /** Names the broker in errors (e.g. `nats://127.0.0.1:4222`). */
  broker: string
}

interface Retained {
  seq: number
  unit: Uint8Array
  size: number
}

/** Builds the {@link Link} of one session over `carrier`. */
export function sessionLink(carrier: SessionCarrier, options: SessionOptions): Link {
  return new SessionLink(carrier, options)
}

/** Units held for core while it is paused, beyond which the peer broke its window. */
const HELD_SLACK_UNITS = 64

class SessionLink implements Link {
  readonly maxUnit: number
  private events: LinkEvents | undefined
  // sending
  private nextSeq = 0
  private readonly retained: Retained[] = []
  private retainedHead = 0
  private unackedBytes = 0
  private peerWindow: number
  private blocked = false
  private lastSent = 0
  /** The next unit number the peer said it received (units from there on may be lost). */
  private peerReceived = 0
  /** When `peerReceived` last moved, or units were last sent again. */
  private lastProgress = 0
  // receiving
  private expected = 0
  private readonly held: Uint8Array[] = []
  private heldBytes = 0
  private paused = false
  private consumedSinceAck = 0
  private ackTimer: NodeJS.Timeout | undefined
  private lastReceived = 0
  private nackedFor = -1
  // life
  private timer: NodeJS.Timeout | undefined
  private lastTick = 0
  private downSince: number | undefined
  /** After a reconnect, until the peer is heard from: a "gone" means it has not resubscribed yet. */
  private rejoining = false
  private ended = false
  private closing: { resolve: () => void } | undefined
  private readonly opts: SessionOptions

  constructor(
    private readonly carrier: SessionCarrier,
    options: SessionOptions,
  ) {
    this.opts = options
    this.maxUnit = carrier.maxUnit - SESSION_HEADER
    this.peerWindow = options.peerWindow
  }

  start(events: LinkEvents): void {
    this.events = events
    const now = Date.now()
    this.lastReceived = now
    this.lastSent = now
    this.lastTick = now
    this.lastProgress = now
    this.carrier.start({
      unit: (bytes) => this.onUnit(bytes),
      gone: () => this.onGone(),
      down: () => this.onDown(),
      up: () => this.onUp(),
      failed: (error) =>
        this.end(
          {
            reason: 'error',
            error: new IpcError('ERR_IPC_CLOSED', `the connection to the broker ${this.opts.broker} closed`, {
              cause: error,
              details: { broker: this.opts.broker },
            }),
          },
          'carrier failed',
        ),
    })
    if (!this.carrier.up) this.onDown()
    this.timer = setInterval(() => this.tick(), this.opts.probe)
  }

  // ---- sending ----

  write(chunks: Uint8Array[]): boolean {
    if (this.ended) return false
    const up = this.carrier.up
    const ack = this.ackPoint()
    if (this.peerReceived === this.nextSeq) this.lastProgress = Date.now() // nothing was outstanding: the clock starts now
    for (const chunk of chunks) {
      const seq = this.nextSeq
      this.nextSeq = (seq + 1) >>> 0
      const unit = encodeUnit(UNIT.DATA, 0, seq, ack, this.opts.window, chunk)
      this.retained.push({ seq, unit, size: chunk.length })
      this.unackedBytes += chunk.length
      if (up) this.carrier.send(unit)
    }
    this.ackSent()
    this.lastSent = Date.now()
    if (up && this.unackedBytes < this.peerWindow) return true
    this.blocked = true
    return false
  }

  private onPeerAck(ack: number, window: number): void {
    this.peerWindow = window
    while (this.retainedHead < this.retained.length && seqDiff(this.retained[this.retainedHead]!.seq, ack) < 0) {
      this.unackedBytes -= this.retained[this.retainedHead]!.size
      this.retained[this.retainedHead++] = undefined as unknown as Retained
    }
    if (this.retainedHead > 256 && this.retainedHead * 2 > this.retained.length) {
      this.retained.splice(0, this.retainedHead)
      this.retainedHead = 0
    }
    if (this.blocked && this.carrier.up && this.unackedBytes < this.peerWindow) {
      this.blocked = false
      this.events?.drain()
    }
    if (this.closing !== undefined && this.unackedBytes === 0) this.finishClose()
  }

  /** Sends every retained unit from `seq` on again. */
  private resendFrom(seq: number): void {
    if (!this.carrier.up) return
    this.lastProgress = Date.now()
    for (let k = this.retainedHead; k < this.retained.length; k++) {
      const r = this.retained[k]!
      if (seqDiff(r.seq, seq) >= 0) this.carrier.send(r.unit)
    }
    this.lastSent = Date.now()
  }

  // ---- receiving ----

  private onUnit(bytes: Uint8Array): void {
    if (this.ended) return
    const h = decodeUnit(bytes)
    if (typeof h === 'string') {
      this.fail(`a malformed session unit: ${h}`)
      return
    }
    this.lastReceived = Date.now()
    this.rejoining = false
    if (seqDiff(h.ack, this.nextSeq) > 0) {
      this.fail(`the peer acknowledged unit ${h.ack}, which was never sent (next is ${this.nextSeq})`)
      return
    }
    const received = h.kind === UNIT.DATA ? h.ack : h.seq
    if (seqDiff(received, this.nextSeq) > 0) {
      this.fail(`the peer reported unit ${received} received, which was never sent (next is ${this.nextSeq})`)
      return
    }
    if (seqDiff(received, this.peerReceived) > 0) {
      this.peerReceived = received
      this.lastProgress = this.lastReceived
    }
    this.onPeerAck(h.ack, h.window)
    switch (h.kind) {
      case UNIT.DATA: {
        const d = seqDiff(h.seq, this.expected)
        if (d < 0) {
          this.scheduleAck() // a duplicate (a resend after a reconnect): acknowledge again
          return
        }
        if (d > 0) {
          // a gap: the broker dropped something; ask for it once per gap
          if (this.nackedFor !== this.expected) {
            this.nackedFor = this.expected
            this.sendControl(UNIT.NACK, 0)
          }
          return
        }
        this.expected = (this.expected + 1) >>> 0
        const payload = bytes.subarray(SESSION_HEADER)
        if (this.paused || this.held.length > 0) {
          this.held.push(payload)
          this.heldBytes += payload.length
          if (this.heldBytes > this.opts.window + HELD_SLACK_UNITS * this.maxUnit) {
            this.fail(`the peer sent ${this.heldBytes} bytes beyond the window of ${this.opts.window}`)
          }
          return
        }
        this.deliver(payload)
        return
      }
      case UNIT.NACK:
        this.resendFrom(h.seq)
        return
      case UNIT.PING:
        if (h.flags & ANSWER_WANTED) this.sendControl(UNIT.PONG, 0)
        return
      default:
        return // ACK, PONG: their acknowledgement is all they carry
    }
  }

  private deliver(payload: Uint8Array): void {
    this.consumedSinceAck += payload.length
    this.events!.data(payload)
    if (this.ended) return
    if (this.consumedSinceAck >= this.opts.window / 4) this.sendControl(UNIT.ACK, 0)
    else this.scheduleAck()
  }

  /** The unit number up to which everything was delivered to core. */
  private ackPoint(): number {
    return (this.expected - this.held.length) >>> 0
  }

  private scheduleAck(): void {
    if (this.ackTimer !== undefined) return
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined
      if (!this.ended) this.sendControl(UNIT.ACK, 0)
    }, 5)
  }

  /** An acknowledgement went out (on a unit of any kind): nothing is owed. */
  private ackSent(): void {
    this.consumedSinceAck = 0
    if (this.ackTimer !== undefined) {
      clearTimeout(this.ackTimer)
      this.ackTimer = undefined
    }
  }

  /** Sends a control unit: what this end received (`seq`), delivered (`ack`) and accepts (`window`). */
  private sendControl(kind: number, flags: number): void {
    if (!this.carrier.up) return
    this.carrier.send(encodeUnit(kind, flags, this.expected, this.ackPoint(), this.opts.window))
    this.ackSent()
    this.lastSent = Date.now()
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    while (!this.paused && !this.ended && this.held.length > 0) {
      const payload = this.held.shift()!
      this.heldBytes -= payload.length
      this.deliver(payload)
    }
  }

  // ---- the broker connection ----

  private onGone(): void {
    if (this.ended) return
    if (this.rejoining || this.downSince !== undefined) {
      // after a server restart the peer's client resubscribes when it reconnects, maybe after us:
      // until it is heard from, silence is judged by the heartbeats, not by the server
      debug('session %s: the peer has not resubscribed yet', this.opts.broker)
      return
    }
    this.end({ reason: 'peer' }, 'the peer no longer receives (its subscription is gone)')
  }

  private onDown(): void {
    if (this.downSince === undefined) this.downSince = Date.now()
    this.blocked = true
    debug('session %s: the broker connection is down; senders wait (resume %d ms)', this.opts.broker, this.opts.resume)
  }

  private onUp(): void {
    if (this.ended || this.downSince === undefined) return
    this.downSince = undefined
    this.lastReceived = Date.now() // the peer could not reach us meanwhile
    this.rejoining = true
    debug('session %s: the broker connection is back; %d unit(s) sent again', this.opts.broker, this.retained.length - this.retainedHead)
    this.resendFrom(this.retained[this.retainedHead]?.seq ?? this.nextSeq)
    this.sendControl(UNIT.ACK, 0)
    if (this.blocked && this.unackedBytes < this.peerWindow) {
      this.blocked = false
      this.events?.drain()
    }
  }

  private tick(): void {
    if (this.ended) return
    const now = Date.now()
    const frozen = now - this.lastTick > 3 * this.opts.probe + 100
    this.lastTick = now
    if (this.downSince !== undefined) {
      if (now - this.downSince > this.opts.resume) {
        this.end(
          {
            reason: 'error',
            error: new IpcError('ERR_IPC_CLOSED', `the broker ${this.opts.broker} was unreachable for more than resume (${this.opts.resume} ms)`, {
              details: { broker: this.opts.broker, resume: this.opts.resume },
            }),
          },
          'resume passed',
        )
      }
      return
    }
    if (frozen) {
      // this process did not run for a while: the peer's units may be waiting unread; ask, then judge
      this.lastReceived = Math.max(this.lastReceived, now - this.opts.heartbeat)
      this.sendControl(UNIT.PING, ANSWER_WANTED)
      return
    }
    const silence = now - this.lastReceived
    if (silence > 3 * this.opts.heartbeat) {
      this.end({ reason: 'peer' }, `no sign of life from the peer for ${silence} ms (3 heartbeats of ${this.opts.heartbeat} ms)`)
      return
    }
    if (seqDiff(this.nextSeq, this.peerReceived) > 0 && now - this.lastProgress > 2 * this.opts.probe) {
      // sent, and not reported received for two probe periods (the peer talks meanwhile): lost on the way
      this.resendFrom(this.peerReceived)
    }
    if (now - this.lastSent >= this.opts.probe || silence >= this.opts.heartbeat) {
      this.sendControl(UNIT.PING, silence >= this.opts.heartbeat ? ANSWER_WANTED : 0)
    }
  }

  // ---- ending ----

  close(): Promise<void> {
    if (this.ended) return Promise.resolve()
    if (this.unackedBytes === 0) {
      this.finishClose()
      return Promise.resolve()
    }
    return new Promise<void>((resolve) => (this.closing = { resolve }))
  }

  private finishClose(): void {
    const closing = this.closing
    this.closing = undefined
    this.release()
    closing?.resolve()
  }

  destroy(): void {
    const closing = this.closing
    this.closing = undefined
    this.release()
    closing?.resolve()
  }

  /** Owed acknowledgements go out first (the peer's close waits for them), then everything stops. */
  private release(): void {
    if (this.ended) return
    if (this.ackTimer !== undefined || this.consumedSinceAck > 0) this.sendControl(UNIT.ACK, 0)
    this.ended = true
    this.stopTimers()
    this.carrier.close()
  }

  private stopTimers(): void {
    clearInterval(this.timer)
    clearTimeout(this.ackTimer)
    this.ackTimer = undefined
  }

  private fail(why: string): void {
    this.end({ reason: 'error', error: new IpcError('ERR_IPC_DECODE', `session: ${why}`) }, why)
  }

  private end(info: LinkEnd, why: string): void {
    if (this.ended) return
    debug('session %s ended (%s): %s', this.opts.broker, info.reason, why)
    this.ended = true
    this.stopTimers()
    this.carrier.close()
    const closing = this.closing
    this.closing = undefined
    closing?.resolve()
    this.events?.end(info)
  }
}
