/**
 * `SignalLink`: core's framed stream as real-time signals, four bytes each (see `wire.ts`).
 * Writes pack the stream into 64-bit signal values and queue them with one native call per batch,
 * directed at the peer's thread (`rt_tgsigqueueinfo`: the kernel checks the thread belongs to the
 * pid, so a reused pid is not signalled by mistake), as far as the peer's credit goes;
 * a full signal queue (EAGAIN: the user's RLIMIT_SIGPENDING) is backpressure, retried on a short
 * backoff, never a loss. Reads unpack the data signals the router hands over and give credit back
 * as core takes them.
 */
import type { Link, LinkEnd, LinkEvents, PeerInfo } from '@ipc/core/mechanism'
import { IpcError, debug, reportEnd } from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import type { Routed, Router } from './router.js'
import { FROM_LISTENER, Kind, controlHigh, dataHigh } from './wire.js'

/** Backoff after EAGAIN, in ms: doubling from the first to the last. */
const RETRY_FIRST_MS = 0.1
const RETRY_LAST_MS = 5

/** What the link needs from its connection. */
export interface SignalLinkOptions {
  router: Router
  pid: number
  /** The peer's thread: where its signals go. */
  tid: number
  conn: number
  /** This end's side bit: 0 for a client, FROM_LISTENER for a listener's end. */
  side: number
  /** Data signals the peer lets us have in flight (its window). */
  window: number
  /** Data signals we let the peer have in flight (our window): credit goes back at half of it. */
  ownWindow: number
  /** How the peer's end (its mark ended, or it is gone) is reported. */
  classifyEnd(): LinkEnd | Promise<LinkEnd>
  /** Releases what the connection holds besides the link (the mark watch). */
  release(): void
}

export class SignalLink implements Link, Routed {
  readonly peer: PeerInfo
  private events: LinkEvents | undefined
  // outbound: (low, high) pairs from outStart to outEnd
  private out = new Uint32Array(2 * 1024)
  private outStart = 0
  private outEnd = 0
  private credit: number
  private blocked = false
  private retryMs = RETRY_FIRST_MS
  private retry: NodeJS.Timeout | undefined
  private flushed: (() => void) | undefined
  // inbound
  private held: Buffer[] = []
  private heldUnits: number[] = []
  private outstanding = 0 // data signals received and not yet credited back
  private toCredit = 0
  private creditRetry: NodeJS.Timeout | undefined
  private readonly creditEvery: number
  private readonly creditPair = new Uint32Array(2)
  private paused = false
  private closed = false
  private ended = false

  constructor(private readonly o: SignalLinkOptions) {
    this.peer = { pid: o.pid }
    this.credit = o.window
    this.creditEvery = Math.max(1, o.ownWindow >> 1)
  }

  start(events: LinkEvents): void {
    this.events = events
    this.deliverHeld()
  }

  // ---- writing

  write(chunks: Uint8Array[]): boolean {
    if (this.closed) return true
    // ended, its end not reported yet (classifying it may take a moment): take nothing more, and say
    // full, so core's sends wait for the end instead of resolving at once (a sender looping on
    // send() would never let the event loop run)
    if (this.ended) return false
    this.pack(chunks)
    this.send()
    return this.outStart === this.outEnd
  }

  /** Appends the bytes of `chunks` as (low, high) pairs, four bytes per pair (fewer in the last). */
  private pack(chunks: Uint8Array[]): void {
    let bytes = 0
    for (const c of chunks) bytes += c.length
    const pairs = Math.ceil(bytes / 4)
    if (this.outStart === this.outEnd) this.outStart = this.outEnd = 0
    if ((this.outEnd + pairs) * 2 > this.out.length) {
      const live = this.outEnd - this.outStart
      const grown = new Uint32Array(Math.max(this.out.length, 2 * (live + pairs) * 2))
      grown.set(this.out.subarray(this.outStart * 2, this.outEnd * 2))
      this.out = grown
      this.outStart = 0
      this.outEnd = live
    }
    const out = this.out
    const high4 = dataHigh(this.o.side, this.o.conn, 4)
    let at = this.outEnd * 2
    let word = 0
    let fill = 0
    for (const c of chunks) {
      for (let i = 0; i < c.length; i++) {
        word |= c[i]! << (fill * 8)
        if (++fill === 4) {
          out[at++] = word >>> 0
          out[at++] = high4
          word = 0
          fill = 0
        }
      }
    }
    if (fill > 0) {
      out[at++] = word >>> 0
      out[at++] = dataHigh(this.o.side, this.o.conn, fill)
    }
    this.outEnd = at >> 1
  }

  /** Queues what the credit allows; on EAGAIN retries after a backoff. */
  private send(): void {
    if (this.closed || this.ended || this.retry !== undefined) return
    while (this.credit > 0 && this.outStart < this.outEnd) {
      const n = Math.min(this.credit, this.outEnd - this.outStart)
      let sent: number
      try {
        sent = native.sigqueueThreadBatch(this.o.pid, this.o.tid, this.o.router.data, this.out, this.outStart, n)
      } catch (err) {
        this.sendFailed(err as NodeJS.ErrnoException)
        return
      }
      this.outStart += sent
      this.credit -= sent
      if (sent < n) {
        this.backoff(() => this.send())
        return
      }
    }
    this.retryMs = RETRY_FIRST_MS
    if (this.outStart === this.outEnd && this.blocked) {
      this.blocked = false
      const flushed = this.flushed
      this.flushed = undefined
      flushed?.()
      this.events?.drain()
    } else if (this.outStart < this.outEnd) {
      this.blocked = true
    }
  }

  private backoff(again: () => void): void {
    this.blocked = this.outStart < this.outEnd || this.blocked
    this.retry = setTimeout(() => {
      this.retry = undefined
      again()
    }, this.retryMs)
    this.retryMs = Math.min(RETRY_LAST_MS, this.retryMs * 2)
  }

  private sendFailed(err: NodeJS.ErrnoException): void {
    if (err.code === 'ESRCH') {
      // the thread or process is gone: its mark says so too, moments later
      this.endByPeer()
      return
    }
    this.fail(new IpcError('ERR_IPC_SYSTEM', `signal: queueing signals for pid ${this.o.pid} failed: ${err.message}`, { cause: err }))
  }

  // ---- reading (from the router)

  data(records: Int32Array, at: number[]): void {
    if (this.closed || this.ended) return
    this.outstanding += at.length
    if (this.outstanding > this.o.ownWindow) {
      this.fail(new IpcError('ERR_IPC_DECODE', `signal: pid ${this.o.pid} sent more than its credit (${this.o.ownWindow} signals)`))
      return
    }
    const chunk = Buffer.allocUnsafe(at.length * 4)
    let n = 0
    for (const i of at) {
      const low = records[i + 4]!
      const len = records[i + 5]! & 0xff
      if (len < 1 || len > 4) {
        this.fail(new IpcError('ERR_IPC_DECODE', `signal: a data signal of pid ${this.o.pid} claims ${len} bytes`))
        return
      }
      chunk[n++] = low & 0xff
      if (len > 1) chunk[n++] = (low >>> 8) & 0xff
      if (len > 2) chunk[n++] = (low >>> 16) & 0xff
      if (len > 3) chunk[n++] = (low >>> 24) & 0xff
    }
    this.held.push(chunk.subarray(0, n))
    this.heldUnits.push(at.length)
    this.deliverHeld()
  }

  control(kind: number, low: number): void {
    if (this.closed || this.ended) return
    if (kind === Kind.CLOSE) {
      this.endByPeer()
      return
    }
    if (kind === Kind.CREDIT) {
      this.credit += low
      if (this.credit > this.o.window) {
        this.fail(new IpcError('ERR_IPC_DECODE', `signal: pid ${this.o.pid} gave more credit than its window`))
        return
      }
      this.send()
    } else {
      debug('signal: control kind %d on an established connection (pid %d, conn %d) ignored', kind, this.o.pid, this.o.conn)
    }
  }

  private deliverHeld(): void {
    while (!this.paused && !this.closed && this.events !== undefined && this.held.length > 0) {
      const chunk = this.held.shift()!
      this.toCredit += this.heldUnits.shift()!
      this.events.data(chunk)
    }
    this.giveCredit()
  }

  private giveCredit(): void {
    if (this.toCredit < this.creditEvery || this.creditRetry !== undefined || this.closed || this.ended) return
    this.creditPair[0] = this.toCredit
    this.creditPair[1] = controlHigh(this.o.side, this.o.conn, Kind.CREDIT)
    let sent: number
    try {
      sent = native.sigqueueThreadBatch(this.o.pid, this.o.tid, this.o.router.control, this.creditPair, 0, 1)
    } catch (err) {
      this.sendFailed(err as NodeJS.ErrnoException)
      return
    }
    if (sent === 1) {
      this.outstanding -= this.toCredit
      this.toCredit = 0
      return
    }
    this.creditRetry = setTimeout(() => {
      this.creditRetry = undefined
      this.giveCredit()
    }, RETRY_LAST_MS)
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    this.deliverHeld()
  }

  // ---- ending

  /** The peer's mark ended (its process or Worker is gone). */
  peerGone(): void {
    this.endByPeer()
  }

  private endByPeer(): void {
    if (this.ended || this.closed) return
    this.ended = true
    const report = (end: LinkEnd): void => {
      if (this.closed) return
      this.deliverHeld()
      this.release()
      this.events?.end(end)
    }
    reportEnd(() => this.o.classifyEnd(), report)
  }

  private fail(error: Error): void {
    if (this.closed || this.ended) return
    this.ended = true
    this.release()
    this.events?.end({ reason: 'error', error })
  }

  /** Waits until every data signal written is queued (or the peer is gone), then releases. */
  async close(): Promise<void> {
    if (this.closed) return
    if (this.outStart < this.outEnd && !this.ended) {
      await new Promise<void>((resolve) => {
        this.flushed = resolve
      })
    }
    this.release()
  }

  destroy(): void {
    this.release()
  }

  private release(): void {
    if (this.closed) return
    if (!this.ended) {
      // our end closes: tell the peer, after our last data (best effort: it may be gone already)
      this.creditPair[0] = 0
      this.creditPair[1] = controlHigh(this.o.side, this.o.conn, Kind.CLOSE)
      try {
        native.sigqueueThreadBatch(this.o.pid, this.o.tid, this.o.router.control, this.creditPair, 0, 1)
      } catch {
        // gone
      }
    }
    this.closed = true
    if (this.retry !== undefined) clearTimeout(this.retry)
    if (this.creditRetry !== undefined) clearTimeout(this.creditRetry)
    this.o.router.detach(this.o.pid, this.o.conn, this.o.side === 0 ? FROM_LISTENER : 0, this)
    this.o.router.release()
    this.o.release()
    const flushed = this.flushed
    this.flushed = undefined
    flushed?.()
  }
}
