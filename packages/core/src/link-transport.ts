import type { Codec, SharedEncoding } from './codec.js'
import { debug } from './debug.js'
import { IpcError, fromErrno } from './errors.js'
import { GOODBYE } from './framing.js'
import { Inbox } from './inbox.js'
import type { Link, LinkEnd, PeerInfo } from './link.js'
import { SendQueue } from './send-queue.js'
import type { CloseInfo, ReceiveOptions, SendOptions, Transport, TransportOptions, TransportStats } from './transport.js'
import { resolveTransportOptions } from './transport.js'

const RESOLVED: Promise<void> = Promise.resolve()

/**
 * The engine behind every {@link Transport}: a {@link SendQueue} (encode → frame → batch →
 * `link.write`) and an {@link Inbox} (`link.data` → frames → decode → schema → `receive()`),
 * joined by the close state machine: `open` → `closing` (flush, GOODBYE, `link.close()`, bounded
 * by `closeTimeout`) → `closed`, or straight to `closed` when the link ends or input is bad.
 */
export class LinkTransport<Out, In> implements Transport<Out, In> {
  readonly closed: Promise<CloseInfo>
  private resolveClosed!: (info: CloseInfo) => void
  private state: 'open' | 'closing' | 'closed' = 'open'
  private closeInfo: CloseInfo | undefined
  private closing: Promise<void> | undefined

  private readonly codec: Codec<any>
  private readonly maxMessageSize: number
  private readonly closeTimeout: number
  private readonly sendQueue: SendQueue
  private readonly inbox: Inbox<In>

  constructor(
    private readonly link: Link,
    options: TransportOptions<In>,
  ) {
    const o = resolveTransportOptions(options)
    this.codec = o.codec
    this.maxMessageSize = o.maxMessageSize
    this.closeTimeout = o.closeTimeout
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve))
    this.sendQueue = new SendQueue(link, o.highWaterMark, (err) => this.fail(err))
    this.inbox = new Inbox<In>(link, o.codec, o.maxMessageSize, o.highWaterMark, o.schema, {
      fail: (err) => this.fail(err),
      goodbye: () => this.onLinkEnd({ reason: 'peer' }),
    })
    link.start({
      data: (chunk, lane) => this.inbox.data(chunk, lane ?? 0),
      drain: () => this.sendQueue.drained(),
      end: (info) => this.onLinkEnd(info),
    })
  }

  get isOpen(): boolean {
    return this.state === 'open'
  }

  get peer(): PeerInfo | undefined {
    return this.link.peer
  }

  get stats(): TransportStats {
    return {
      messagesIn: this.inbox.count,
      messagesOut: this.sendQueue.messages,
      bytesIn: this.inbox.bytesIn,
      bytesOut: this.sendQueue.bytes,
      queuedMessages: this.sendQueue.queuedMessages,
      queuedBytes: this.sendQueue.pendingBytes,
      bufferedMessages: this.inbox.buffered,
    }
  }

  // ---- sending ----

  send(message: Out, options?: SendOptions): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.sendClosedError())
    try {
      const lane = this.laneOf(options)
      if (this.codec.encodeInto !== undefined) {
        // the fast path: straight into the send slab, when there is room for it now
        const size = this.sendQueue.pushEncoded(this.codec.encodeInto, message, lane, this.maxMessageSize)
        if (size >= 0 && size <= this.maxMessageSize) return RESOLVED
        if (size > this.maxMessageSize) throw this.tooLarge(size)
      }
      const encoded = this.encode(message)
      return this.sendQueue.push(encoded.frame, encoded.shared, encoded.size, lane, options)
    } catch (err) {
      return Promise.reject(this.encodeError(err))
    }
  }

  trySend(message: Out, options?: Pick<SendOptions, 'priority'>): boolean {
    if (this.state !== 'open') return false
    try {
      const lane = this.laneOf(options)
      if (!this.sendQueue.acceptsNow) return false
      if (this.codec.encodeInto !== undefined) {
        const size = this.sendQueue.pushEncoded(this.codec.encodeInto, message, lane, this.maxMessageSize)
        if (size >= 0 && size <= this.maxMessageSize) return true
        if (size > this.maxMessageSize) throw this.tooLarge(size)
      }
      const encoded = this.encode(message)
      void this.sendQueue.push(encoded.frame, encoded.shared, encoded.size, lane, undefined) // resolved: there was room
      return true
    } catch (err) {
      throw this.encodeError(err)
    }
  }

  /** The lane `options.priority` asks for, checked against the link's lanes. */
  private laneOf(options: Pick<SendOptions, 'priority'> | undefined): number {
    const lane = options?.priority
    if (lane === undefined || lane === 0) return 0
    const lanes = this.link.lanes ?? 1
    if (!Number.isInteger(lane) || lane < 0 || lane >= lanes) {
      throw new IpcError(
        'ERR_IPC_INVALID_ARGUMENT',
        lanes === 1 ? 'this transport has no priorities (priority must be 0)' : `priority must be an integer from 0 to ${lanes - 1}, got ${lane}`,
      )
    }
    return lane
  }

  /** Encodes `message` the slow way (a frame of its own, or the codec's shared scratch); throws coded errors. */
  private encode(message: Out): { frame: Uint8Array | undefined; shared: SharedEncoding | undefined; size: number } {
    const codec = this.codec
    let frame: Uint8Array | undefined
    let shared: SharedEncoding | undefined
    let size: number
    if (codec.encodeShared !== undefined) {
      shared = codec.encodeShared(message)
      size = shared.end - shared.start
    } else {
      frame = codec.encode(message)
      size = frame.length
    }
    if (size > this.maxMessageSize) throw this.tooLarge(size)
    return { frame, shared, size }
  }

  /** A coded error for whatever encoding threw. */
  private encodeError(err: unknown): IpcError {
    if (err instanceof IpcError) return err
    return new IpcError('ERR_IPC_INVALID_ARGUMENT', `${this.codec.name} cannot encode this message: ${(err as Error)?.message}`, { cause: err })
  }

  private tooLarge(size: number): IpcError {
    return new IpcError('ERR_IPC_MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds maxMessageSize (${this.maxMessageSize})`, {
      details: { size, maxMessageSize: this.maxMessageSize },
    })
  }

  // ---- receiving ----

  receive(options?: ReceiveOptions): Promise<In> {
    if (this.inbox.buffered > 0) return Promise.resolve(this.inbox.take())
    if (this.state === 'closed') return Promise.reject(this.receiveClosedError())
    return this.inbox.wait(options, false)
  }

  [Symbol.asyncIterator](): AsyncIterator<In> {
    return {
      next: () => {
        if (this.inbox.buffered > 0) return Promise.resolve({ value: this.inbox.take(), done: false })
        if (this.state === 'closed') {
          if (this.closeInfo!.reason !== 'error') return Promise.resolve({ value: undefined, done: true })
          return Promise.reject(this.receiveClosedError())
        }
        return this.inbox.wait(undefined, true)
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
    const flushed = this.sendQueue.flushed()
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, this.closeTimeout, 'timeout')))
    const ended = this.closed.then(() => 'ended' as const)
    let outcome = await Promise.race([flushed.then(() => 'flushed' as const), timedOut, ended])
    if (outcome === 'flushed' && this.state !== 'closed') {
      try {
        this.sendQueue.writeControl(GOODBYE) // on the lowest lane: it arrives after everything else
      } catch (err) {
        debug('close: GOODBYE not written (%s); closing goes on', (err as Error)?.message) // the peer is gone
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
    if (this.inbox.validating !== undefined) {
      // let messages still being validated reach the inbox first
      this.inbox.validating.then(() => this.onLinkEnd(info))
      return
    }
    let error = info.error === undefined ? undefined : fromErrno(info.error, 'link')
    if (this.inbox.midFrame && error === undefined) {
      error = new IpcError('ERR_IPC_DECODE', 'the connection ended in the middle of a message (truncated frame)')
    }
    const closeInfo: CloseInfo = { reason: info.reason }
    if (error) closeInfo.error = error
    this.finish(closeInfo)
  }

  /** Ends the transport because of an error found on this side (bad input, a failed write). */
  private fail(error: IpcError): void {
    if (this.state === 'closed') return
    this.inbox.stop()
    this.link.destroy()
    this.finish({ reason: 'error', error })
  }

  private finish(info: CloseInfo): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.closeInfo = info
    this.sendQueue.stop(this.sendClosedError())
    this.inbox.close(this.receiveClosedError(), info.reason !== 'error')
    if (info.reason !== 'local') this.link.destroy()
    this.resolveClosed(info)
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
