/**
 * Moving units through POSIX queue descriptors on the event loop: a queue descriptor is an fd on
 * Linux, so readiness comes from `uv_poll` (`native.FdWatcher`), never from a thread.
 */
import { getSystemErrorName } from 'node:util'
import { native } from '@ipc/native'
import { RECORD_HEADER_BYTES, TAG_BYTES, forEachRecord } from './wire.js' // a unit is [u32 tag][body] (wire.ts: tagged/untag)

/** An errno error for a negative `FdWatcher` event (a poll failure). */
export function pollError(events: number): Error {
  const code = getSystemErrorName(events)
  return Object.assign(new Error(`polling a queue descriptor failed: ${code}`), { code, syscall: 'uv_poll' })
}

/** One unit waiting for room in a full queue. */
interface PendingUnit {
  bytes: Uint8Array
  lane: number
}

/**
 * Sends units into one POSIX queue fd without blocking: `mq_send` on a non-blocking descriptor;
 * when the queue is full, the rest waits (in order) for the fd to become writable. `tag` ≥ 0 is
 * prepended to every unit by `mqSend`.
 */
export class UnitSender {
  private readonly pending: PendingUnit[] = []
  private watcher: InstanceType<typeof native.FdWatcher> | undefined
  private onDrain: (() => void) | undefined
  private closed = false

  constructor(
    private readonly fd: number,
    private readonly tag: number,
    private readonly onError: (err: Error) => void,
  ) {}

  /** `true` while units wait for room. */
  get busy(): boolean {
    return this.pending.length > 0
  }

  /** Sends what fits now; returns `false` if some units wait (then `drain` runs once they are all sent). */
  send(units: Uint8Array[], lane: number, drain: () => void): boolean {
    if (this.closed) return true
    for (const bytes of units) {
      if (this.pending.length > 0 || !this.sendOne(bytes, lane)) this.pending.push({ bytes, lane })
      if (this.closed) return true
    }
    if (this.pending.length === 0) return true
    this.onDrain = drain
    this.watch()
    return false
  }

  /** Calls `done` once nothing waits any more (at once if nothing does). */
  whenDrained(done: () => void): void {
    if (this.closed || this.pending.length === 0) {
      done()
      return
    }
    this.onDrain = done
  }

  private sendOne(bytes: Uint8Array, lane: number): boolean {
    try {
      return native.mqSend(this.fd, this.tag, bytes, lane)
    } catch (err) {
      this.fail(err as Error)
      return true
    }
  }

  private watch(): void {
    this.watcher ??= new native.FdWatcher(this.fd, (events) => (events < 0 ? this.fail(pollError(events)) : this.retry()))
    this.watcher.start(native.WRITABLE)
  }

  private retry(): void {
    while (this.pending.length > 0) {
      const next = this.pending[0]!
      if (!this.sendOne(next.bytes, next.lane)) return // still full: keep watching
      if (this.closed) return
      this.pending.shift()
    }
    this.watcher?.start(0)
    const drain = this.onDrain
    this.onDrain = undefined
    drain?.()
  }

  private fail(err: Error): void {
    if (this.closed) return
    this.close()
    this.onError(err)
  }

  /** Stops sending; what waits is dropped. The fd stays open (it belongs to the caller). */
  close(): void {
    this.closed = true
    this.pending.length = 0
    this.onDrain = undefined
    this.watcher?.close()
    this.watcher = undefined
  }
}

/** Size of one receive buffer: room for a wake-up's worth of queue messages. */
export function receiveBufferSize(maxmsg: number, msgsize: number): number {
  return Math.max(4, Math.min(maxmsg, 64)) * (msgsize + RECORD_HEADER_BYTES)
}

/**
 * Drains a POSIX queue fd: every message it holds now, each passed to `onUnit(bytes, priority)`.
 * The syscall reads into `scratch` (reused: sized for a wake-up's worth of queue messages); the
 * bytes it read are then copied into a buffer of their exact size, because decoded binary values
 * may be views of it. A fresh scratch-sized buffer per read would make every wake-up allocate
 * `maxmsg × msgsize` bytes of external memory however little arrived, and that churn drives V8 into
 * back-to-back full collections. Throws errno errors.
 */
export function drainQueue(fd: number, scratch: Buffer, msgsize: number, onUnit: (bytes: Buffer, priority: number) => void): number {
  let total = 0
  for (;;) {
    const used = native.mqReceiveMany(fd, scratch, msgsize)
    if (used > 0) {
      const bytes = Buffer.allocUnsafe(used) // every byte is written by the copy
      scratch.copy(bytes, 0, 0, used)
      total += forEachRecord(bytes, used, onUnit)
    }
    if (used + msgsize + RECORD_HEADER_BYTES <= scratch.length) return total // the queue ran dry before the buffer filled
  }
}

/** Bytes a reader's connections may hold (paused by core) before it stops reading its shared queue. */
export const HELD_LIMIT = 4 * 1024 * 1024

/** What a {@link TaggedReader} is told. */
export interface TaggedReaderEvents {
  /** A unit `[u32 tag][body]` arrived at `priority`. */
  unit(tag: number, body: Buffer, priority: number): void
  /** A message too short to carry a tag arrived (it is dropped). */
  junk(bytes: number): void
  /** Reading failed (the reader has stopped). */
  error(err: Error): void
  /** Bytes its connections hold now (read, not yet taken by core). */
  heldBytes(): number
}

/**
 * Reads one queue that carries the units of many connections, each tagged (the listener's server
 * queue, a client environment's reply queue): it reads whenever the queue is readable, and stops
 * (leaving the rest in the kernel, so senders wait) while its connections hold more than
 * {@link HELD_LIMIT} bytes — head-of-line blocking is the price of one queue for many conversations.
 */
export class TaggedReader {
  private readonly watcher: InstanceType<typeof native.FdWatcher>
  private readonly scratch: Buffer
  private reading = false
  private draining = false
  private again = false
  private closed = false

  constructor(
    private readonly fd: number,
    private readonly msgsize: number,
    maxmsg: number,
    private readonly events: TaggedReaderEvents,
  ) {
    this.scratch = Buffer.allocUnsafeSlow(receiveBufferSize(maxmsg, msgsize))
    this.watcher = new native.FdWatcher(fd, (ev) => (ev < 0 ? this.fail(pollError(ev)) : this.drain()))
  }

  /**
   * Reads everything the queue holds now, then decides whether to keep reading. A call made while
   * a drain is delivering (from a connection's handler) is folded into it, so units are never
   * passed on out of order.
   */
  drain(): void {
    if (this.closed) return
    if (this.draining) {
      this.again = true
      return
    }
    this.draining = true
    try {
      do {
        this.again = false
        drainQueue(this.fd, this.scratch, this.msgsize, (unit, priority) => {
          if (unit.length < TAG_BYTES) this.events.junk(unit.length)
          else this.events.unit(unit.readUInt32LE(0), unit.subarray(TAG_BYTES), priority)
        })
      } while (this.again && !this.closed)
    } catch (err) {
      this.fail(err as Error)
      return
    } finally {
      this.draining = false
    }
    this.update()
  }

  /** Reads while the connections hold little, stops while they hold much. */
  update(): void {
    if (this.closed) return
    const on = this.events.heldBytes() <= HELD_LIMIT
    if (on === this.reading) return
    this.reading = on
    this.watcher.start(on ? native.READABLE : 0)
    if (on) this.drain()
  }

  private fail(err: Error): void {
    if (this.closed) return
    this.close()
    this.events.error(err)
  }

  /** Stops reading for good (the fd stays open: it belongs to the caller). */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.watcher.close()
  }
}
