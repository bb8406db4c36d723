import { type Codec, type CodecOption, resolveCodec } from './codec.js'
import { IpcError } from './errors.js'
import { MAX_FRAME } from './framing.js'
import type { CloseReason, Link, PeerInfo } from './link.js'
import { LinkTransport } from './link-transport.js'
import type { StandardSchemaV1 } from './schema.js'
import { type WaitOptions, checkTimeout } from './waits.js'

/** Options every transport accepts (also as address query parameters where they are plain values). */
export interface TransportOptions<In = unknown> {
  /**
   * How messages become bytes: `'msgpack'` (default), `'json'`, `'raw'` or a custom `Codec`.
   * @defaultValue `'msgpack'`
   */
  codec?: CodecOption
  /**
   * Largest encoded message accepted, in either direction.
   * @defaultValue 16 MiB
   */
  maxMessageSize?: number
  /**
   * Bytes that may wait in this process to be sent (queued, or handed to the link and not yet taken
   * by the kernel) before `send()` waits, and bytes of received messages that may wait for
   * `receive()` before this side stops reading from the kernel. A message is never split, so each
   * bound may be passed by one message.
   * @defaultValue 1 MiB
   */
  highWaterMark?: number
  /** A Standard Schema validator checked on every received message; a failure closes the transport with `ERR_IPC_DECODE`. */
  schema?: StandardSchemaV1<unknown, In>
  /**
   * Milliseconds `close()` waits for queued messages to reach the peer before it discards them.
   * @defaultValue `10_000`
   */
  closeTimeout?: number
}

/** Options of {@link Transport.send}. */
export interface SendOptions extends WaitOptions {
  /**
   * For mechanisms with priorities (POSIX message queues): 0 (default, lowest) up to the
   * mechanism's highest. Higher-priority messages may overtake lower ones; order holds within a
   * priority. Other mechanisms accept only 0.
   * @defaultValue `0`
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
   * Queues one message only if {@link Transport.send} would accept it at once (below
   * `highWaterMark`, nobody waiting in `send()`): `true` when queued, `false` when it would have
   * to wait or the transport is no longer open (nothing queued; see {@link Transport.isOpen}).
   * No promise is made, so fan-out to many transports costs no microtask per message. Throws
   * `ERR_IPC_MESSAGE_TOO_LARGE`, `ERR_IPC_INVALID_ARGUMENT` as `send()` rejects.
   */
  trySend(message: Out, options?: Pick<SendOptions, 'priority'>): boolean
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

/** Default {@link TransportOptions.maxMessageSize}: 16 MiB. */
export const DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024
/** Default {@link TransportOptions.highWaterMark}: 1 MiB. */
export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024

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
