import type { SharedEncoding } from './codec.js'
import { type IpcError, fromErrno } from './errors.js'
import type { Link } from './link.js'
import { FRAME_HEADER_BYTES, writeFrameHeader } from './framing.js'
import { BY_REFERENCE, Outbox, cutIntoUnits } from './outbox.js'
import { Queue } from './queue.js'
import { type WaitOptions, armWait, checkTimeout, abortError } from './waits.js'

/**
 * Queued bytes that make `send()` flush at once instead of at the end of the tick, so a sender
 * looping on `await send()` keeps the link busy rather than filling the whole queue first.
 */
export const BATCH_BYTES = 64 * 1024

const RESOLVED: Promise<void> = Promise.resolve()

interface PendingSend {
  frame: Uint8Array
  lane: number
  resolve(): void
  reject(err: IpcError): void
  disarm(): void
}

/**
 * The send half of a transport: encoded messages wait here, framed into one outbox per lane
 * (priority), until one flush per tick hands everything to the link in one `write()` per lane.
 * Never holds more than `highWaterMark` bytes: past it, `push()` waits (in order, each with its
 * own signal/timeout) until the link has drained.
 */
export class SendQueue {
  /** One outbox per lane (priority); lane 0 always exists. */
  private readonly outboxes: Outbox[] = [new Outbox()]
  /** Bytes and frames queued across every lane. */
  private queuedBytes = 0
  private queuedFrames = 0
  private readonly waiting = new Queue<PendingSend>()
  private linkFull = false
  /** Bytes of the last batch the link took but reported it could not yet pass on (until `drain`). */
  private linkHeld = 0
  private flushScheduled = false
  private readonly flushBound = (): void => this.flush()
  private flushedWaiter: (() => void) | undefined
  private stopped = false
  /** Messages and bytes accepted so far. */
  messages = 0
  bytes = 0

  constructor(
    private readonly link: Link,
    private readonly hwm: number,
    /** Called when the link's `write()` throws; the transport fails with it. */
    private readonly onWriteError: (err: IpcError) => void,
  ) {}

  /** Messages waiting (queued plus waiting for room). */
  get queuedMessages(): number {
    return this.queuedFrames + this.waiting.length
  }

  /** Bytes waiting to be written, including what the link holds until its drain. */
  get pendingBytes(): number {
    let waitingBytes = 0
    for (const s of this.waiting) waitingBytes += s.frame.length + 4
    return this.queuedBytes + this.linkHeld + waitingBytes
  }

  /**
   * Queues one message encoded straight into the lane's slab (`encodeInto`, see
   * `Codec.encodeInto`) when there is room now. Returns the message's size once queued, -1 when it
   * was not (no room now, or the slab could not hold it: the caller encodes it the other way); a
   * size above `maxSize` is returned without queueing.
   */
  pushEncoded<T>(encodeInto: (value: T, target: Uint8Array, start: number) => number, value: T, lane: number, maxSize: number): number {
    if (this.waiting.length > 0 || !this.hasRoom()) return -1
    const outbox = this.outboxes[lane] ?? this.laneOutbox(lane)
    const size = outbox.addEncoded(encodeInto, value, maxSize)
    if (size < 0 || size > maxSize) return size
    this.queuedBytes += FRAME_HEADER_BYTES + size
    this.queuedFrames++
    this.messages++
    this.bytes += size
    if (this.queuedBytes >= BATCH_BYTES && !this.linkFull) this.flush()
    else this.scheduleFlush()
    return size
  }

  /**
   * Queues one encoded message: `frame`, or `shared[start, end)` (the codec's scratch memory,
   * copied before this returns). Resolves once accepted.
   */
  push(frame: Uint8Array | undefined, shared: SharedEncoding | undefined, size: number, lane: number, options: WaitOptions | undefined): Promise<void> {
    if (this.waiting.length === 0 && this.hasRoom()) {
      const outbox = this.outboxes[lane] ?? this.laneOutbox(lane)
      const before = outbox.bytes
      if (shared !== undefined && size < BY_REFERENCE) outbox.addCopy(shared, shared.start, shared.end)
      else outbox.add(frame ?? shared!.subarray(shared!.start, shared!.end))
      this.queuedBytes += outbox.bytes - before
      this.queuedFrames++
      this.messages++
      this.bytes += size
      if (this.queuedBytes >= BATCH_BYTES && !this.linkFull) this.flush()
      else this.scheduleFlush()
      return RESOLVED
    }
    // no room: keep a stable copy of the bytes and wait
    const waitingFrame = frame ?? shared!.slice(shared!.start, shared!.end)
    if (options !== undefined) {
      checkTimeout(options.timeout)
      if (options.signal?.aborted) return Promise.reject(abortError(options.signal, 'send'))
    }
    return new Promise<void>((resolve, reject) => {
      const pending: PendingSend = { frame: waitingFrame, lane, resolve, reject, disarm: noop }
      pending.disarm = armWait(options, 'send', (err) => {
        this.waiting.remove(pending)
        reject(err)
      })
      this.waiting.push(pending)
      this.scheduleFlush()
    })
  }

  /** Whether {@link SendQueue.push} would accept a message at once. */
  get acceptsNow(): boolean {
    return this.waiting.length === 0 && this.hasRoom()
  }

  /** The link can take more again. */
  drained(): void {
    this.linkFull = false
    this.linkHeld = 0
    this.flush()
  }

  /** Resolves once everything queued has been handed to the link and the link has taken it. */
  flushed(): Promise<void> {
    const done = new Promise<void>((resolve) => (this.flushedWaiter = resolve))
    this.flush()
    return done
  }

  /**
   * Writes a control frame (e.g. GOODBYE) after everything queued on lane 0, at once. The frame
   * gets 4 bytes of its own: closing an idle transport takes no send slab.
   */
  writeControl(code: number): void {
    const chunks = this.outboxes[0]!.take()
    const frame = new Uint8Array(FRAME_HEADER_BYTES)
    writeFrameHeader(frame, 0, code)
    chunks.push(frame)
    const maxUnit = this.link.maxUnit
    this.link.write(maxUnit === undefined ? chunks : cutIntoUnits(chunks, maxUnit))
  }

  /** Rejects every waiting send with `err`, drops what is queued and gives the memory back. */
  stop(err: IpcError): void {
    this.stopped = true
    for (let s = this.waiting.shift(); s !== undefined; s = this.waiting.shift()) {
      s.disarm()
      s.reject(err)
    }
    for (const outbox of this.outboxes) outbox.drop()
    this.queuedBytes = 0
    this.queuedFrames = 0
    if (this.flushedWaiter) {
      const done = this.flushedWaiter
      this.flushedWaiter = undefined
      done()
    }
  }

  /**
   * Whether a message may join the queue now. Never past `highWaterMark`; and while the link is
   * full, only one batch more: a sender then waits for the link's drain, which lets the event loop
   * turn and the kernel move data while the next batch is encoded (both processes stay busy).
   */
  private hasRoom(): boolean {
    const queued = this.queuedBytes
    if (queued + this.linkHeld >= this.hwm) return false
    return !this.linkFull || queued < BATCH_BYTES
  }

  private laneOutbox(lane: number): Outbox {
    for (let l = this.outboxes.length; l <= lane; l++) this.outboxes.push(new Outbox())
    return this.outboxes[lane]!
  }

  private enqueue(frame: Uint8Array, lane: number): void {
    const outbox = this.outboxes[lane] ?? this.laneOutbox(lane)
    const before = outbox.bytes
    outbox.add(frame)
    this.queuedBytes += outbox.bytes - before
    this.queuedFrames++
    this.messages++
    this.bytes += frame.length
    this.scheduleFlush()
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled && !this.linkFull) {
      this.flushScheduled = true
      process.nextTick(this.flushBound)
    }
  }

  private flush(): void {
    this.flushScheduled = false
    if (this.stopped || this.linkFull) return
    // highest lane first; a link that fills up stops the rest until its drain
    for (let lane = this.outboxes.length - 1; lane >= 0 && !this.linkFull; lane--) {
      const outbox = this.outboxes[lane]!
      if (outbox.frames === 0) continue
      const batchBytes = outbox.bytes
      this.queuedBytes -= batchBytes
      this.queuedFrames -= outbox.frames
      const chunks = outbox.take(this.link.maxUnit)
      let more: boolean
      try {
        more = lane === 0 ? this.link.write(chunks) : this.link.write(chunks, lane)
      } catch (err) {
        this.onWriteError(fromErrno(err, 'write'))
        return
      }
      if (!more) {
        this.linkFull = true
        this.linkHeld += batchBytes
      }
    }
    // admit senders that waited for room, in order
    while (this.waiting.length > 0 && this.hasRoom()) {
      const pending = this.waiting.shift()!
      pending.disarm()
      this.enqueue(pending.frame, pending.lane)
      pending.resolve()
    }
    if (this.queuedFrames > 0) this.scheduleFlush()
    else if (!this.linkFull && this.waiting.length === 0 && this.flushedWaiter) {
      const done = this.flushedWaiter
      this.flushedWaiter = undefined
      done()
    }
  }
}

function noop(): void {}
