/**
 * `SemLink`: core's framed stream over the bounded buffers of one `sem:` connection (see
 * `wire.ts`). Each write fills slots with the stream's bytes, as full as they go (many small frames
 * share one slot and one pair of semaphore operations; a large one spans slots), copying each piece
 * of core's chunks straight into slot memory: core's own cutting into units (`maxUnit`) would
 * first copy every unit that straddles two chunks into a fresh buffer. Both ends run on the event loop with
 * non-blocking `sem_trywait`; when there is nothing to take (no `full` slot to read, no `empty`
 * one to fill), the semaphore's own waiter thread waits and hands over the unit it took. The shm:
 * doorbell of the connection is used only for the peer's end (end-of-file when it is gone).
 */
import type { Link, LinkEnd, LinkEvents, PeerInfo } from '@ipc/core/mechanism'
import type { SegmentLinkContext } from '@ipc/shm/handshake'
import { IpcError, debug, reportEnd } from '@ipc/core/mechanism'
import { type Semaphore as NativeSemaphore, type SemRing, type ShmChannel, native } from '@ipc/native'
import { SLOT_HEADER, Sem, semSegmentSize, semaphoreOffset, slotOffset } from './wire.js'

/** Receive slab size: views of one slab are handed out until it is nearly used up. */
const SLAB_BYTES = 256 * 1024
/** Bytes delivered per event-loop turn before the rest waits for the next turn (others get to run). */
const TURN_BYTES = 4 * 1024 * 1024
/**
 * The consumer's standing demand on its `full` semaphore: its waiter thread takes every unit that
 * comes, at once (no re-arming on the way of a message; at most `slots` units are ever held, as
 * `empty` is posted only when a slot is read).
 */
const ALWAYS = 2 ** 40

/** One direction's semaphores, as this side uses them. */
interface Direction {
  empty: NativeSemaphore
  full: NativeSemaphore
  mutex: NativeSemaphore
}

export class SemLink implements Link {
  /** Stream bytes one slot carries. */
  readonly slotBytes: number
  readonly peer: PeerInfo
  private readonly ring: SemRing
  private readonly bytes: Uint8Array
  private readonly view: DataView
  private readonly out: Direction
  private readonly in: Direction
  private readonly outSide: 0 | 1
  private readonly inSide: 0 | 1
  private events: LinkEvents | undefined
  private slab: Buffer = Buffer.allocUnsafeSlow(SLAB_BYTES)
  private slabUsed = 0
  private outIndex = 0
  private outSeq = 0
  private inIndex = 0
  private inSeq = 0
  /** `empty` units the waiter thread took for us (free slots to fill). */
  private room = 0
  /** `full` units the waiter thread took for us (slots to read). */
  private ready = 0
  private waitingData = false
  // chunks no slot could take yet (views of core's outbox, never rewritten), from pendingOffset in the first
  private pending: Uint8Array[] | undefined
  private pendingOffset = 0
  private flushed: (() => void) | undefined
  private paused = false
  private closed = false
  private peerGone = false
  private ended = false
  private again: NodeJS.Immediate | undefined

  constructor(
    private readonly channel: ShmChannel,
    fd: number,
    side: 0 | 1,
    private readonly slots: number,
    private readonly slotSize: number,
    private readonly context: SegmentLinkContext,
  ) {
    this.peer = context.peer
    this.slotBytes = slotSize - SLOT_HEADER
    this.outSide = side
    this.inSide = side === 0 ? 1 : 0
    this.ring = new native.SemRing(fd, semSegmentSize(slots, slotSize))
    const buffer = this.ring.buffer!
    this.bytes = new Uint8Array(buffer)
    this.view = new DataView(buffer)
    const at = (d: 0 | 1, which: number, onUnits?: (e: Error | null, n: number) => void): NativeSemaphore =>
      new native.Semaphore(2, this.ring, semaphoreOffset(d, which), undefined, onUnits ?? unexpectedUnits)
    this.out = {
      empty: at(this.outSide, Sem.EMPTY, (e, n) => this.onRoom(e, n)),
      full: at(this.outSide, Sem.FULL),
      mutex: at(this.outSide, Sem.MUTEX),
    }
    this.in = {
      empty: at(this.inSide, Sem.EMPTY),
      full: at(this.inSide, Sem.FULL, (e, n) => this.onData(e, n)),
      mutex: at(this.inSide, Sem.MUTEX),
    }
  }

  /** The shm: doorbell rang (the handshake's; nothing to do), the peer is gone (0), or polling failed (< 0). */
  wake(status: number): void {
    if (this.closed) return
    if (status < 0) {
      this.fail(new Error(`polling the sem doorbell failed (errno ${-status})`))
      return
    }
    if (status === 0) {
      this.peerGone = true
      this.pump() // what its slots still hold is delivered, then the end
    }
  }

  start(events: LinkEvents): void {
    this.events = events
    this.pump()
  }

  write(chunks: Uint8Array[]): boolean {
    if (this.closed) return true
    // ended, its end not reported yet (classifying it may take a moment): take nothing more, and say
    // full, so core's sends wait for the end instead of resolving at once (a sender looping on
    // send() would never let the event loop run)
    if (this.ended) return false
    if (this.pending !== undefined) {
      this.pending.push(...chunks)
      return false
    }
    try {
      return this.put(chunks, 0)
    } catch (err) {
      this.fail(err as Error)
      return true
    }
  }

  /**
   * Copies `chunks` (from `offset` in the first) into slots while there are free ones, committing
   * each slot once it is full and the last one at the end; keeps the rest (and waits for room).
   */
  private put(chunks: Uint8Array[], offset: number): boolean {
    const { empty, mutex } = this.out
    const cap = this.slotBytes
    let at = -1 // the open slot's offset
    let fill = 0
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i]!
      let pos = i === 0 ? offset : 0
      while (pos < chunk.length) {
        if (at < 0) {
          if (this.room > 0) this.room--
          else if (!empty.tryWait()) {
            this.keep(chunks, i, pos)
            return false
          }
          if (!mutex.tryWait()) throw protocolError('its mutex semaphore is held (only this side takes it)')
          at = slotOffset(this.outSide, this.outIndex, this.slots, this.slotSize)
          fill = 0
        }
        const n = Math.min(cap - fill, chunk.length - pos)
        this.bytes.set(n === chunk.length ? chunk : chunk.subarray(pos, pos + n), at + SLOT_HEADER + fill)
        fill += n
        pos += n
        if (fill === cap) {
          this.commit(at, fill)
          at = -1
        }
      }
    }
    if (at >= 0) this.commit(at, fill)
    return true
  }

  /** Publishes the open slot at `at` holding `fill` bytes: header, `mutex`, then `full` (last). */
  private commit(at: number, fill: number): void {
    this.view.setUint32(at, this.outSeq, true)
    this.view.setUint32(at + 4, fill, true)
    this.out.mutex.post(1)
    this.out.full.post(1) // the slot is the consumer's only now
    this.outIndex = this.outIndex + 1 === this.slots ? 0 : this.outIndex + 1
    this.outSeq = (this.outSeq + 1) >>> 0
  }

  /** Keeps what is left of `chunks` (from chunk `i`, byte `pos`), and has the waiter thread take free slots for it as they come. */
  private keep(chunks: Uint8Array[], i: number, pos: number): void {
    this.pending = i === 0 ? chunks : chunks.slice(i)
    this.pendingOffset = pos
    let bytes = -pos
    for (const c of this.pending) bytes += c.length
    const want = Math.ceil(bytes / this.slotBytes) - this.out.empty.want(0)
    if (want > 0) this.out.empty.want(want)
  }

  private onRoom(error: Error | null, count: number): void {
    if (this.closed) return
    if (error !== null) {
      this.fail(error)
      return
    }
    this.room += count
    const pending = this.pending
    if (pending === undefined) return
    this.pending = undefined
    let done: boolean
    try {
      done = this.put(pending, this.pendingOffset)
    } catch (err) {
      this.fail(err as Error)
      return
    }
    if (!done) return
    this.pendingOffset = 0
    const flushed = this.flushed
    this.flushed = undefined
    flushed?.()
    this.events?.drain()
  }

  private onData(error: Error | null, count: number): void {
    if (this.closed) return
    if (error !== null) {
      this.fail(error)
      return
    }
    this.ready += count
    this.pump()
  }

  /** Delivers full slots (this turn's share) until none is left (then waits for one) or paused. */
  private pump(): void {
    if (this.again !== undefined || this.events === undefined) return
    const { empty, full } = this.in
    let delivered = 0
    while (!this.paused && !this.closed) {
      if (delivered >= TURN_BYTES) {
        this.again = setImmediate(() => {
          this.again = undefined
          this.pump()
        })
        return
      }
      let have = this.ready > 0
      if (have) this.ready--
      else {
        try {
          have = full.tryWait()
        } catch (err) {
          this.fail(err as Error)
          return
        }
      }
      if (!have) {
        if (this.peerGone) this.endByPeer()
        else if (!this.waitingData) {
          this.waitingData = true
          full.want(ALWAYS)
        }
        return
      }
      const at = slotOffset(this.inSide, this.inIndex, this.slots, this.slotSize)
      const seq = this.view.getUint32(at, true)
      const len = this.view.getUint32(at + 4, true)
      const problem =
        seq !== this.inSeq
          ? `slot ${this.inIndex} holds number ${seq}, expected ${this.inSeq}`
          : len === 0 || len > this.slotBytes
            ? `slot ${this.inIndex} claims ${len} bytes (at most ${this.slotBytes})`
            : undefined
      if (problem !== undefined) {
        this.fail(protocolError(problem))
        return
      }
      if (SLAB_BYTES - this.slabUsed < len) {
        this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, len))
        this.slabUsed = 0
      }
      const start = at + SLOT_HEADER
      this.slab.set(this.bytes.subarray(start, start + len), this.slabUsed)
      const chunk = this.slab.subarray(this.slabUsed, this.slabUsed + len)
      this.slabUsed += len
      empty.post(1) // the slot is the producer's again
      this.inIndex = this.inIndex + 1 === this.slots ? 0 : this.inIndex + 1
      this.inSeq = (this.inSeq + 1) >>> 0
      delivered += len
      this.events.data(chunk)
    }
  }

  private endByPeer(): void {
    if (this.ended) return
    this.ended = true
    const report = (end: LinkEnd): void => {
      if (this.closed) return
      this.release()
      this.events?.end(end)
    }
    reportEnd(() => this.context.classifyEnd(), report)
  }

  private fail(error: Error): void {
    if (this.closed || this.ended) return
    this.ended = true
    this.release()
    this.events?.end({ reason: 'error', error })
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    this.pump()
  }

  /** Waits until every unit written has a slot (or the peer is gone), then releases. */
  async close(): Promise<void> {
    if (this.closed) return
    if (this.pending !== undefined && !this.peerGone && !this.ended) {
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
    this.closed = true
    if (this.again !== undefined) clearImmediate(this.again)
    this.pending = undefined
    const flushed = this.flushed
    this.flushed = undefined
    for (const s of [this.out.empty, this.out.full, this.out.mutex, this.in.empty, this.in.full, this.in.mutex]) s.close()
    this.ring.close()
    try {
      this.channel.close()
    } catch (err) {
      debug(`sem: closing a channel failed: ${(err as Error)?.message}`)
    }
    this.context.release()
    flushed?.()
  }
}

function protocolError(what: string): IpcError {
  return new IpcError('ERR_IPC_DECODE', `the peer broke the sem slot protocol: ${what}`)
}

function unexpectedUnits(): void {
  debug('sem: units reported for a semaphore nobody waits on')
}
