import { type Codec, type CodecOption, type SharedEncoding, resolveCodec } from './codec.js'
import { IpcError, fromErrno } from './errors.js'
import { FrameDecoder, GOODBYE, MAX_FRAME } from './framing.js'
import type { CloseReason, Link, LinkEnd, PeerInfo } from './link.js'
import { BY_REFERENCE, Outbox } from './outbox.js'
import { Queue } from './queue.js'
import type { StandardSchemaV1 } from './schema.js'
import { type WaitOptions, abortError, armWait, checkTimeout } from './waits.js'

/** Options every transport accepts (also as address query parameters where they are plain values). */
export interface TransportOptions<In = unknown> {
  /** How messages become bytes: `'msgpack'` (default), `'json'`, `'raw'` or a custom `Codec`. */
  codec?: CodecOption
  /** Largest encoded message accepted, in either direction. Default 16 MiB. */
  maxMessageSize?: number
  /**
   * Bytes that may wait in this process to be sent (queued, or handed to the link and not yet taken
   * by the kernel) before `send()` waits, and bytes of received messages that may wait for
   * `receive()` before this side stops reading from the kernel. A message is never split, so each
   * bound may be passed by one message. Default 1 MiB.
   */
  highWaterMark?: number
  /** A Standard Schema validator checked on every received message; a failure closes the transport with `ERR_IPC_DECODE`. */
  schema?: StandardSchemaV1<unknown, In>
  /** Milliseconds `close()` waits for queued messages to reach the peer before it discards them. Default 10 000. */
  closeTimeout?: number
}

/** Options of {@link Transport.send}. */
export interface SendOptions extends WaitOptions {
  /**
   * For mechanisms with priorities (POSIX message queues): 0 (default, lowest) up to the
   * mechanism's highest. Higher-priority messages may overtake lower ones; order holds within a
   * priority. Other mechanisms accept only 0.
   */
  priority?: number
}
/** Options of {@link Transport.receive}. */
export interface ReceiveOptions extends WaitOptions {}

/** How a transport ended. */
export interface CloseInfo {
  /** Who or what ended it. */
  reason: CloseReason
  /** The error behind it: always for `'error'`; for the others when something was wrong too (e.g. a truncated frame). */
  error?: IpcError
}

/** Counters of one transport. */
export interface TransportStats {
  /** Messages received (decoded). */
  messagesIn: number
  /** Messages accepted by `send()`. */
  messagesOut: number
  /** Encoded bytes received (without framing). */
  bytesIn: number
  /** Encoded bytes accepted by `send()` (without framing). */
  bytesOut: number
  /** Messages waiting to be written (queued plus waiting in `send()`). */
  queuedMessages: number
  /** Bytes waiting to be written. */
  queuedBytes: number
  /** Received messages waiting for `receive()`. */
  bufferedMessages: number
}

/**
 * One end of a connection between two processes, whatever the mechanism. `Out` is what this side
 * sends, `In` what it receives.
 */
export interface Transport<Out = unknown, In = unknown> extends AsyncIterable<In>, AsyncDisposable {
  /**
   * Queues one message. Resolves once it is accepted: at once while the send queue is below
   * `highWaterMark`, later when the peer has caught up (backpressure). Rejects with
   * `ERR_IPC_CLOSED`/`ERR_IPC_PEER_EXITED` when the transport closes first, `ERR_IPC_MESSAGE_TOO_LARGE`
   * for an oversize message, `ERR_IPC_ABORTED`/`ERR_IPC_TIMEOUT` from `options`.
   */
  send(message: Out, options?: SendOptions): Promise<void>
  /**
   * The next message. Messages received before a close are still given out; after them it rejects
   * with the close's error (`ERR_IPC_CLOSED`, `ERR_IPC_PEER_EXITED`, or the error that ended it).
   */
  receive(options?: ReceiveOptions): Promise<In>
  /** Flushes queued messages (up to `closeTimeout`), then releases every kernel object this side made. */
  close(): Promise<void>
  /** Resolves once, when the transport has ended, with why. Never rejects. */
  readonly closed: Promise<CloseInfo>
  /** `true` until the transport starts closing. */
  readonly isOpen: boolean
  /** The peer process, where the mechanism can know it. */
  readonly peer: PeerInfo | undefined
  /** A snapshot of the counters. */
  readonly stats: TransportStats
}

const RESOLVED: Promise<void> = Promise.resolve()
const DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024
const DEFAULT_HIGH_WATER_MARK = 1024 * 1024
/** Queued bytes that make `send()` flush at once instead of at the end of the tick, so a sender
 * looping on `await send()` keeps the link busy rather than filling the whole queue first. */
const BATCH_BYTES = 64 * 1024

interface PendingSend {
  frame: Uint8Array
  lane: number
  resolve(): void
  reject(err: IpcError): void
  disarm(): void
}

interface PendingReceive {
  iterator: boolean
  resolve(value: unknown): void
  reject(err: IpcError): void
  disarm(): void
}

/** Checks and fills the common options. */
export function resolveTransportOptions(options: TransportOptions<any> = {}): Required<Omit<TransportOptions<any>, 'schema' | 'codec'>> & {
  codec: Codec<any>
  schema?: StandardSchemaV1<unknown, any>
} {
  const maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE
  const highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK
  const closeTimeout = options.closeTimeout ?? 10_000
  if (!Number.isSafeInteger(maxMessageSize) || maxMessageSize < 1 || maxMessageSize > MAX_FRAME) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `maxMessageSize must be an integer from 1 to ${MAX_FRAME}, got ${maxMessageSize}`)
  }
  if (!Number.isSafeInteger(highWaterMark) || highWaterMark < 1) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `highWaterMark must be a positive integer, got ${highWaterMark}`)
  }
  checkTimeout(closeTimeout)
  if (options.schema !== undefined && typeof options.schema?.['~standard']?.validate !== 'function') {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', 'schema must implement Standard Schema v1 (a ~standard.validate function)')
  }
  const out: ReturnType<typeof resolveTransportOptions> = { maxMessageSize, highWaterMark, closeTimeout, codec: resolveCodec(options.codec) }
  if (options.schema) out.schema = options.schema
  return out
}

/**
 * Wraps a mechanism's {@link Link} into a {@link Transport}: encoding, framing, batching (everything
 * queued in one tick leaves in one link write), backpressure in both directions, and closing.
 * Mechanism packages call this; applications get transports from `connect()`/`listen()`.
 */
export function createTransport<Out = unknown, In = unknown>(link: Link, options: TransportOptions<In> = {}): Transport<Out, In> {
  return new LinkTransport<Out, In>(link, options)
}

class LinkTransport<Out, In> implements Transport<Out, In> {
  readonly closed: Promise<CloseInfo>
  private resolveClosed!: (info: CloseInfo) => void
  private state: 'open' | 'closing' | 'closed' = 'open'
  private closeInfo: CloseInfo | undefined
  private closing: Promise<void> | undefined
  private flushedWaiter: (() => void) | undefined

  private readonly codec: Codec<any>
  private readonly maxMessageSize: number
  private readonly hwm: number
  private readonly closeTimeout: number
  private readonly schema: StandardSchemaV1<unknown, In> | undefined

  /** One outbox per lane (priority); lane 0 always exists. */
  private readonly outboxes: Outbox[] = [new Outbox()]
  /** Bytes and frames queued across every lane. */
  private queuedBytes = 0
  private queuedFrames = 0
  private readonly waitingSends = new Queue<PendingSend>()
  private linkFull = false
  /** Bytes of the last batch the link took but reported it could not yet pass on (until `drain`). */
  private linkHeld = 0
  private flushScheduled = false
  private readonly flushBound = (): void => this.flush()

  /** One frame decoder per lane; lane 0 always exists. */
  private readonly decoders: FrameDecoder[] = []
  private readonly inbox = new Queue<In>()
  private readonly inboxSizes = new Queue<number>()
  private inboxBytes = 0
  private readonly receivers = new Queue<PendingReceive>()
  private paused = false
  private validating: Promise<void> | undefined

  private messagesIn = 0
  private messagesOut = 0
  private bytesIn = 0
  private bytesOut = 0

  constructor(
    private readonly link: Link,
    options: TransportOptions<In>,
  ) {
    const o = resolveTransportOptions(options)
    this.codec = o.codec
    this.maxMessageSize = o.maxMessageSize
    this.hwm = o.highWaterMark
    this.closeTimeout = o.closeTimeout
    this.schema = o.schema
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve))
    this.decoders.push(this.newDecoder())
    link.start({
      data: (chunk, lane) => this.onData(chunk, lane ?? 0),
      drain: () => {
        this.linkFull = false
        this.linkHeld = 0
        this.flush()
      },
      end: (info) => this.onLinkEnd(info),
    })
  }

  private newDecoder(): FrameDecoder {
    return new FrameDecoder(
      this.maxMessageSize,
      (buffer, start, end) => this.onFrame(buffer, start, end),
      () => this.onLinkEnd({ reason: 'peer' }), // a graceful close: whatever ends the stream next is not a crash
    )
  }

  get isOpen(): boolean {
    return this.state === 'open'
  }

  get peer(): PeerInfo | undefined {
    return this.link.peer
  }

  get stats(): TransportStats {
    let waitingBytes = 0
    for (const s of this.waitingSends) waitingBytes += s.frame.length + 4
    return {
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      queuedMessages: this.queuedFrames + this.waitingSends.length,
      queuedBytes: this.queuedBytes + this.linkHeld + waitingBytes,
      bufferedMessages: this.inbox.length,
    }
  }

  // ---- sending ----

  send(message: Out, options?: SendOptions): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.sendClosedError())
    let lane = 0
    if (options?.priority !== undefined && options.priority !== 0) {
      lane = options.priority
      const lanes = this.link.lanes ?? 1
      if (!Number.isInteger(lane) || lane < 0 || lane >= lanes) {
        return Promise.reject(
          new IpcError('ERR_IPC_INVALID_ARGUMENT', lanes === 1 ? 'this transport has no priorities (priority must be 0)' : `priority must be an integer from 0 to ${lanes - 1}, got ${lane}`),
        )
      }
    }
    const codec = this.codec
    let frame: Uint8Array | undefined
    let shared: SharedEncoding | undefined
    let size: number
    try {
      if (codec.encodeShared !== undefined) {
        shared = codec.encodeShared(message)
        size = shared.end - shared.start
      } else {
        frame = codec.encode(message)
        size = frame.length
      }
    } catch (err) {
      return Promise.reject(
        err instanceof IpcError ? err : new IpcError('ERR_IPC_INVALID_ARGUMENT', `${codec.name} cannot encode this message: ${(err as Error)?.message}`, { cause: err }),
      )
    }
    if (size > this.maxMessageSize) {
      return Promise.reject(
        new IpcError('ERR_IPC_MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds maxMessageSize (${this.maxMessageSize})`, {
          details: { size, maxMessageSize: this.maxMessageSize },
        }),
      )
    }
    if (this.waitingSends.length === 0 && this.hasRoom()) {
      const outbox = this.outboxes[lane] ?? this.laneOutbox(lane)
      const before = outbox.bytes
      if (shared !== undefined && size < BY_REFERENCE) outbox.addCopy(shared, shared.start, shared.end)
      else outbox.add(frame ?? shared!.subarray(shared!.start, shared!.end))
      this.queuedBytes += outbox.bytes - before
      this.queuedFrames++
      this.messagesOut++
      this.bytesOut += size
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
        this.waitingSends.remove(pending)
        reject(err)
      })
      this.waitingSends.push(pending)
      this.scheduleFlush()
    })
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
    this.messagesOut++
    this.bytesOut += frame.length
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
    if (this.state === 'closed' || this.linkFull) return
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
        this.fail(fromErrno(err, 'write'))
        return
      }
      if (!more) {
        this.linkFull = true
        this.linkHeld += batchBytes
      }
    }
    // admit senders that waited for room, in order
    while (this.waitingSends.length > 0 && this.hasRoom()) {
      const pending = this.waitingSends.shift()!
      pending.disarm()
      this.enqueue(pending.frame, pending.lane)
      pending.resolve()
    }
    if (this.queuedFrames > 0) this.scheduleFlush()
    else if (!this.linkFull && this.waitingSends.length === 0 && this.flushedWaiter) {
      const done = this.flushedWaiter
      this.flushedWaiter = undefined
      done()
    }
  }

  // ---- receiving ----

  private onData(chunk: Uint8Array, lane: number): void {
    if (this.state === 'closed') return
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
      this.fail(err instanceof IpcError ? err : new IpcError('ERR_IPC_DECODE', `bad frame: ${(err as Error)?.message}`, { cause: err }))
    }
  }

  private onFrame(buffer: Uint8Array, start: number, end: number): void {
    if (this.state === 'closed') return
    const size = end - start
    const codec = this.codec
    let value: unknown
    try {
      value = codec.decodeRange !== undefined ? codec.decodeRange(buffer, start, end) : codec.decode(buffer.subarray(start, end))
    } catch (err) {
      this.stopDecoders()
      this.fail(new IpcError('ERR_IPC_DECODE', `cannot decode a ${size}-byte message: ${(err as Error)?.message}`, { cause: err }))
      return
    }
    this.messagesIn++
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
        (err) => this.fail(new IpcError('ERR_IPC_DECODE', `schema validation threw: ${(err as Error)?.message}`, { cause: err })),
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
    if (this.state === 'closed') return
    if (result.issues) {
      const first = result.issues[0]
      const where = first?.path?.length ? ` at ${first.path.map((p) => (typeof p === 'object' ? String(p.key) : String(p))).join('.')}` : ''
      this.stopDecoders()
      this.fail(new IpcError('ERR_IPC_DECODE', `received message failed schema validation${where}: ${first?.message ?? 'invalid'}`, {
        details: { issues: result.issues },
      }))
      return
    }
    this.deliver(result.value, size)
  }

  private deliver(value: In, size: number): void {
    if (this.state === 'closed') return
    const receiver = this.receivers.shift()
    if (receiver !== undefined) {
      receiver.disarm()
      receiver.resolve(receiver.iterator ? { value, done: false } : value)
      return
    }
    this.inbox.push(value)
    this.inboxSizes.push(size)
    this.inboxBytes += size
    if (!this.paused && this.inboxBytes >= this.hwm) {
      this.paused = true
      this.link.pause()
    }
  }

  private takeBuffered(): In {
    const value = this.inbox.shift()!
    this.inboxBytes -= this.inboxSizes.shift()!
    if (this.paused && this.inboxBytes < this.hwm / 2 && this.state !== 'closed') {
      this.paused = false
      this.link.resume()
    }
    return value
  }

  receive(options?: ReceiveOptions): Promise<In> {
    if (this.inbox.length > 0) return Promise.resolve(this.takeBuffered())
    return this.waitForMessage(false, options) as Promise<In>
  }

  private waitForMessage(iterator: boolean, options?: ReceiveOptions): Promise<unknown> {
    if (this.state === 'closed') {
      if (iterator && this.closeInfo!.reason !== 'error') return Promise.resolve({ value: undefined, done: true })
      return Promise.reject(this.receiveClosedError())
    }
    if (options !== undefined) {
      checkTimeout(options.timeout)
      if (options.signal?.aborted) return Promise.reject(abortError(options.signal, 'receive'))
    }
    return new Promise((resolve, reject) => {
      const pending: PendingReceive = { iterator, resolve, reject, disarm: noop }
      pending.disarm = armWait(options, 'receive', (err) => {
        this.receivers.remove(pending)
        reject(err)
      })
      this.receivers.push(pending)
    })
  }

  [Symbol.asyncIterator](): AsyncIterator<In> {
    return {
      next: () => {
        if (this.inbox.length > 0) return Promise.resolve({ value: this.takeBuffered(), done: false })
        return this.waitForMessage(true) as Promise<IteratorResult<In>>
      },
      return: () => Promise.resolve({ value: undefined, done: true }),
    }
  }

  // ---- closing ----

  close(): Promise<void> {
    if (this.state === 'closed') return RESOLVED
    if (this.closing) return this.closing
    this.state = 'closing'
    this.closing = this.closeGracefully()
    return this.closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  private async closeGracefully(): Promise<void> {
    const flushed = new Promise<void>((resolve) => (this.flushedWaiter = resolve))
    this.flush()
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, this.closeTimeout, 'timeout')))
    const ended = this.closed.then(() => 'ended' as const)
    let outcome = await Promise.race([flushed.then(() => 'flushed' as const), timedOut, ended])
    if (outcome === 'flushed' && this.state !== 'closed') {
      const outbox = this.outboxes[0]!
      outbox.addControl(GOODBYE) // on the lowest lane: it arrives after everything else
      try {
        this.link.write(outbox.take(this.link.maxUnit))
      } catch {
        // the peer is gone; closing goes on
      }
      outcome = await Promise.race([
        this.link.close().then(
          () => 'flushed' as const,
          () => 'timeout' as const,
        ),
        timedOut,
        ended,
      ])
    }
    clearTimeout(timer)
    if (this.state === 'closed') return // the peer ended it meanwhile
    if (outcome === 'timeout') this.link.destroy()
    this.finish({ reason: 'local' })
  }

  private onLinkEnd(info: LinkEnd): void {
    if (this.state === 'closed') return
    if (this.validating !== undefined) {
      // let messages still being validated reach the inbox first
      this.validating.then(() => this.onLinkEnd(info))
      return
    }
    let error = info.error === undefined ? undefined : fromErrno(info.error, 'link')
    if (this.decoders.some((d) => d.midFrame) && error === undefined) {
      error = new IpcError('ERR_IPC_DECODE', 'the connection ended in the middle of a message (truncated frame)')
    }
    const closeInfo: CloseInfo = { reason: info.reason }
    if (error) closeInfo.error = error
    this.finish(closeInfo)
  }

  /** Ends the transport because of an error found on this side (bad input, a failed write). */
  private fail(error: IpcError): void {
    if (this.state === 'closed') return
    this.link.destroy()
    this.finish({ reason: 'error', error })
  }

  private finish(info: CloseInfo): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.closeInfo = info
    this.stopDecoders()
    const sendError = this.sendClosedError()
    for (let s = this.waitingSends.shift(); s !== undefined; s = this.waitingSends.shift()) {
      s.disarm()
      s.reject(sendError)
    }
    for (const outbox of this.outboxes) outbox.take()
    this.queuedBytes = 0
    this.queuedFrames = 0
    const receiveError = this.receiveClosedError()
    for (let r = this.receivers.shift(); r !== undefined; r = this.receivers.shift()) {
      r.disarm()
      if (r.iterator && info.reason !== 'error') r.resolve({ value: undefined, done: true })
      else r.reject(receiveError)
    }
    if (info.reason !== 'local') this.link.destroy()
    if (this.flushedWaiter) {
      const done = this.flushedWaiter
      this.flushedWaiter = undefined
      done()
    }
    this.resolveClosed(info)
  }

  private stopDecoders(): void {
    for (const d of this.decoders) d.stop()
  }

  private sendClosedError(): IpcError {
    const info = this.closeInfo
    if (info === undefined) return new IpcError('ERR_IPC_CLOSED', 'the transport is closing')
    return closeError(info, 'send')
  }

  private receiveClosedError(): IpcError {
    return closeError(this.closeInfo!, 'receive')
  }
}

/** The error a pending or later call gets once a transport has ended with `info`. */
function closeError(info: CloseInfo, what: string): IpcError {
  switch (info.reason) {
    case 'local':
      return new IpcError('ERR_IPC_CLOSED', `${what}: the transport is closed`)
    case 'peer':
      return new IpcError('ERR_IPC_CLOSED', `${what}: the peer closed the connection`, { cause: info.error })
    case 'peer-exited':
      return new IpcError('ERR_IPC_PEER_EXITED', `${what}: the peer process exited`, { cause: info.error })
    case 'error':
      return info.error ?? new IpcError('ERR_IPC_CLOSED', `${what}: the transport failed`)
  }
}

function noop(): void {}
