import type { LinkEvents } from '@ipc/core'
import { native } from '@ipc/native'

/** One queued unit waiting for room in a full queue. */
interface PendingUnit {
  bytes: Uint8Array
  lane: number
}

/**
 * Sends units into one POSIX queue fd without blocking: `mq_send` on a non-blocking descriptor,
 * and when the queue is full, the rest waits for the fd to become writable (event loop, no
 * thread). `tag` ≥ 0 is prepended to every unit (the connection id on a shared server queue).
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

  /** Sends what fits now; returns `false` if some units wait (then `drain` is called once they are all sent). */
  send(units: Uint8Array[], lane: number, drain: () => void): boolean {
    if (this.closed) return true
    for (const bytes of units) {
      if (this.pending.length > 0) this.pending.push({ bytes, lane })
      else if (!this.sendOne(bytes, lane)) this.pending.push({ bytes, lane })
    }
    if (this.pending.length === 0) return true
    this.onDrain = drain
    this.watch()
    return false
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
    this.watcher ??= new native.FdWatcher(this.fd, (events) => {
      if (events < 0) return this.fail(Object.assign(new Error('poll failed'), { code: 'EIO' }))
      this.retry()
    })
    this.watcher.start(native.WRITABLE)
  }

  private retry(): void {
    while (this.pending.length > 0) {
      const next = this.pending[0]!
      if (!this.sendOne(next.bytes, next.lane)) return // still full: keep watching
      this.pending.shift()
    }
    this.watcher?.start(0)
    const drain = this.onDrain
    this.onDrain = undefined
    drain?.()
  }

  private fail(err: Error): void {
    this.close()
    this.onError(err)
  }

  close(): void {
    this.closed = true
    this.pending.length = 0
    this.watcher?.close()
    this.watcher = undefined
  }
}

/** Size of one receive buffer: room for a wake-up's worth of queue messages. */
export function receiveBufferSize(maxmsg: number, msgsize: number): number {
  return Math.max(4, Math.min(maxmsg, 64)) * (msgsize + 8)
}

/**
 * Drains a POSIX queue fd: every message it holds now, each passed to `onUnit(bytes, priority)`.
 * A fresh buffer per drain, because decoded binary values may be views of it.
 */
export function drainQueue(fd: number, bufferSize: number, msgsize: number, onUnit: (bytes: Buffer, priority: number) => void): number {
  let total = 0
  for (;;) {
    const buffer = Buffer.allocUnsafeSlow(bufferSize)
    const used = native.mqReceiveMany(fd, buffer, msgsize)
    let at = 0
    while (at < used) {
      const length = buffer.readUInt32LE(at)
      const priority = buffer.readUInt32LE(at + 4)
      onUnit(buffer.subarray(at + 8, at + 8 + length), priority)
      at += 8 + length
      total++
    }
    if (used + msgsize + 8 <= bufferSize) return total // the queue ran dry before the buffer filled
  }
}

/** Forwards units to link events once started; keeps them (bounded by the caller) while paused. */
export class UnitInbox {
  events: LinkEvents | undefined
  paused = false
  private readonly held: [Buffer, number][] = []
  heldBytes = 0

  deliver(bytes: Buffer, lane: number): void {
    if (this.paused || this.events === undefined) {
      this.held.push([bytes, lane])
      this.heldBytes += bytes.length
      return
    }
    this.events.data(bytes, lane)
  }

  /** Passes on what was held while paused (until paused again). */
  flush(): void {
    while (this.held.length > 0 && !this.paused && this.events !== undefined) {
      const [bytes, lane] = this.held.shift()!
      this.heldBytes -= bytes.length
      this.events.data(bytes, lane)
    }
  }
}
