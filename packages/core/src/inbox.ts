import type { Codec } from './codec.js'
import { IpcError } from './errors.js'
import { FrameDecoder } from './framing.js'
import type { Link } from './link.js'
import { Queue } from './queue.js'
import type { StandardSchemaV1 } from './schema.js'
import { type WaitOptions, Waiters } from './waits.js'

const RESOLVED: Promise<void> = Promise.resolve()

/** What the inbox tells its transport. */
export interface InboxHost {
  /** A received frame or message is bad: the transport fails with `err`. */
  fail(err: IpcError): void
  /** The peer's GOODBYE arrived: a graceful close follows. */
  goodbye(): void
}

/**
 * The receive half of a transport: one frame decoder per lane, decoding, the optional schema
 * (asynchronous validators keep arrival order), and the messages waiting for `receive()`. Holds
 * at most `highWaterMark` bytes of decoded messages: past it the link is paused, so the kernel
 * buffer fills and the sender's `send()` waits.
 */
export class Inbox<In> {
  private readonly decoders: FrameDecoder[] = []
  private readonly messages = new Queue<In>()
  private readonly sizes = new Queue<number>()
  private bytes = 0
  private readonly receivers = new Waiters<In>()
  private paused = false
  private closed = false
  /** The tail of the validation chain while an asynchronous validator runs. */
  validating: Promise<void> | undefined
  /** Messages and bytes received (decoded). */
  count = 0
  bytesIn = 0

  constructor(
    private readonly link: Link,
    private readonly codec: Codec<any>,
    private readonly maxMessageSize: number,
    private readonly hwm: number,
    private readonly schema: StandardSchemaV1<unknown, In> | undefined,
    private readonly host: InboxHost,
  ) {
    this.decoders.push(this.newDecoder())
  }

  /** Received messages waiting for `receive()`. */
  get buffered(): number {
    return this.messages.length
  }

  /** `true` while a frame has begun on some lane but not ended (a truncated stream). */
  get midFrame(): boolean {
    return this.decoders.some((d) => d.midFrame)
  }

  /** Bytes from the link, on `lane`. */
  data(chunk: Uint8Array, lane: number): void {
    if (this.closed) return
    try {
      if (lane !== 0 && !(lane > 0 && lane < (this.link.lanes ?? 1) && Number.isInteger(lane))) {
        throw new IpcError('ERR_IPC_DECODE', `data arrived on lane ${lane}, which this link does not have`)
      }
      let decoder = this.decoders[lane]
      if (decoder === undefined) {
        for (let l = this.decoders.length; l <= lane; l++) this.decoders.push(this.newDecoder())
        decoder = this.decoders[lane]!
      }
      decoder.push(chunk)
    } catch (err) {
      this.host.fail(err instanceof IpcError ? err : new IpcError('ERR_IPC_DECODE', `bad frame: ${(err as Error)?.message}`, { cause: err }))
    }
  }

  /** A buffered message, if there is one (check {@link Inbox.buffered} first). */
  take(): In {
    const value = this.messages.shift()!
    this.bytes -= this.sizes.shift()!
    if (this.paused && this.bytes < this.hwm / 2 && !this.closed) {
      this.paused = false
      this.link.resume()
    }
    return value
  }

  /** Waits for the next message (nothing is buffered); as `{ value, done }` when `iterator`. */
  wait(options: WaitOptions | undefined, iterator: boolean): Promise<any> {
    return this.receivers.wait(options, 'receive', iterator)
  }

  /**
   * The transport has ended: no more frames are decoded, and every waiting receiver gets `err`,
   * or `done` for iterators when the end was clean. Buffered messages stay readable.
   */
  close(err: IpcError, clean: boolean): void {
    this.stop()
    this.receivers.settleAll(err, clean)
  }

  /** Stops decoding (the transport failed or closed); buffered messages stay readable. */
  stop(): void {
    this.closed = true
    for (const d of this.decoders) d.stop()
  }

  private newDecoder(): FrameDecoder {
    return new FrameDecoder(
      this.maxMessageSize,
      (buffer, start, end) => this.onFrame(buffer, start, end),
      () => this.host.goodbye(), // a graceful close: whatever ends the stream next is not a crash
    )
  }

  private onFrame(buffer: Uint8Array, start: number, end: number): void {
    if (this.closed) return
    const size = end - start
    const codec = this.codec
    let value: unknown
    try {
      value = codec.decodeRange !== undefined ? codec.decodeRange(buffer, start, end) : codec.decode(buffer.subarray(start, end))
    } catch (err) {
      this.stop()
      this.host.fail(new IpcError('ERR_IPC_DECODE', `cannot decode a ${size}-byte message: ${(err as Error)?.message}`, { cause: err }))
      return
    }
    this.count++
    this.bytesIn += size
    if (this.schema === undefined) this.deliver(value as In, size)
    else if (this.validating !== undefined) this.chainValidation(() => this.validate(value, size))
    else {
      const pending = this.validate(value, size)
      if (pending !== undefined) this.chainValidation(() => pending)
    }
  }

  /** Validates against the schema; returns a promise only when the validator is asynchronous. */
  private validate(value: unknown, size: number): Promise<void> | undefined {
    const result = this.schema!['~standard'].validate(value)
    if (result instanceof Promise) {
      return result.then(
        (r) => this.applyValidation(r, size),
        (err) => this.host.fail(new IpcError('ERR_IPC_DECODE', `schema validation threw: ${(err as Error)?.message}`, { cause: err })),
      )
    }
    this.applyValidation(result, size)
    return undefined
  }

  private chainValidation(step: () => Promise<void> | undefined): void {
    const tail = (this.validating ?? RESOLVED).then(step).then(() => {
      if (this.validating === tail) this.validating = undefined
    })
    this.validating = tail
  }

  private applyValidation(result: StandardSchemaV1.Result<In>, size: number): void {
    if (this.closed) return
    if (result.issues) {
      const first = result.issues[0]
      const where = first?.path?.length ? ` at ${first.path.map((p) => (typeof p === 'object' ? String(p.key) : String(p))).join('.')}` : ''
      this.stop()
      this.host.fail(
        new IpcError('ERR_IPC_DECODE', `received message failed schema validation${where}: ${first?.message ?? 'invalid'}`, {
          details: { issues: result.issues },
        }),
      )
      return
    }
    this.deliver(result.value, size)
  }

  private deliver(value: In, size: number): void {
    if (this.closed) return
    if (this.receivers.resolveNext(value)) return
    this.messages.push(value)
    this.sizes.push(size)
    this.bytes += size
    if (!this.paused && this.bytes >= this.hwm) {
      this.paused = true
      this.link.pause()
    }
  }
}
