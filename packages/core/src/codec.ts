import { Packr, REUSE_BUFFER_MODE, Unpackr } from 'msgpackr'
import { IpcError } from './errors.js'
import { checkJsonDepth, checkMsgpack } from './msgpack-guard.js'

/**
 * Turns messages into bytes and back. A custom codec is any object with these members; `decode`
 * may throw on bad input (the transport turns that into `ERR_IPC_DECODE` and closes the connection).
 */
export interface Codec<T = unknown> {
  /** A short name for error messages and stats. */
  readonly name: string
  /** Encodes one message. The returned bytes must not be modified afterwards. */
  encode(value: T): Uint8Array
  /** Decodes one message from exactly these bytes. */
  decode(bytes: Uint8Array): T
  /**
   * Optional fast path: encodes into the codec's own scratch memory and returns it with the
   * message at `[start, end)`, allocating nothing per message. The bytes stay valid until the
   * next call; the transport copies them (or takes `subarray(start, end)` of large ones at once).
   */
  encodeShared?(value: T): SharedEncoding
  /**
   * Optional fast path: decodes the message at `buffer[start, end)` without a view of it being
   * made first (the buffer may hold other messages).
   */
  decodeRange?(buffer: Uint8Array, start: number, end: number): T
}

/** Scratch memory holding one encoded message at `[start, end)` (see {@link Codec.encodeShared}). */
export type SharedEncoding = Uint8Array & { start: number; end: number }

/** Options of the msgpack codec. */
export interface MsgpackCodecOptions {
  /** Deepest nesting of arrays and maps accepted on decode. Default 64. */
  maxDepth?: number
  /**
   * Accept msgpackr's extension and record types (Set, Error, RegExp, typed arrays, records,
   * bundled strings, …) on decode and produce them on encode. Off by default: a hostile peer
   * should not choose which constructors run in your process. Turning it on also turns off the
   * structural guard (extension payloads are not plain msgpack), so use it with trusted peers only.
   * Dates and `undefined` always work.
   */
  extensions?: boolean
}

/**
 * The default codec: msgpack through msgpackr, with hostile-input guards. Maps decode as plain
 * objects (a `__proto__` key never reaches the prototype), binary values decode as `Uint8Array`
 * views, and every message is checked for depth, claimed lengths and extension types before
 * decoding (see {@link MsgpackCodecOptions}).
 */
export function msgpack(options: MsgpackCodecOptions = {}): Codec {
  const maxDepth = options.maxDepth ?? 64
  const extensions = options.extensions ?? false
  const packr = new Packr({ useRecords: extensions, moreTypes: extensions, structuredClone: false, bundleStrings: false })
  const unpackr = new Unpackr({ useRecords: extensions, mapsAsObjects: true, structuredClone: false, bundleStrings: false })
  return {
    name: 'msgpack',
    encode: (value) => packr.pack(value),
    // msgpackr writes each message after the previous one in its buffer and never back over it,
    // so a range stays intact until the buffer is replaced
    encodeShared: (value) => packr.pack(value, REUSE_BUFFER_MODE) as unknown as SharedEncoding,
    decode(bytes) {
      return this.decodeRange!(bytes, 0, bytes.length)
    },
    decodeRange(buffer, start, end) {
      if (!extensions) {
        const problem = checkMsgpack(buffer, start, end, maxDepth, false)
        if (problem !== undefined) throw new Error(`invalid msgpack: ${problem}`)
      }
      if (start === end) throw new Error('invalid msgpack: an empty message')
      return unpackr.unpack(buffer, { start, end })
    },
  }
}

/** JSON text in UTF-8. Nesting deeper than `maxDepth` (default 64) is rejected before parsing. */
export function json(options: { maxDepth?: number } = {}): Codec {
  const maxDepth = options.maxDepth ?? 64
  const encoder = new TextEncoder()
  const decoder = new TextDecoder('utf-8', { fatal: true })
  return {
    name: 'json',
    encode(value) {
      const text = JSON.stringify(value)
      if (text === undefined) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `json cannot encode ${typeof value}`)
      return encoder.encode(text)
    },
    decode(bytes) {
      const text = decoder.decode(bytes)
      const problem = checkJsonDepth(text, maxDepth)
      if (problem !== undefined) throw new Error(`invalid json: ${problem}`)
      return JSON.parse(text)
    },
  }
}

/**
 * Raw bytes, no serialization: `send()` takes a `Uint8Array` (copied when sent), `receive()` gives
 * a `Uint8Array` view of the received frame.
 */
export const raw: Codec<Uint8Array> = {
  name: 'raw',
  encode(value) {
    if (!(value instanceof Uint8Array)) {
      throw new IpcError('ERR_IPC_INVALID_ARGUMENT', 'the raw codec sends Uint8Array values only')
    }
    return value.slice()
  },
  decode: (bytes) => bytes,
}

/** A codec by name (`'msgpack'`, `'json'`, `'raw'`) or a custom {@link Codec}. */
export type CodecOption = 'msgpack' | 'json' | 'raw' | Codec<any>

let defaultMsgpack: Codec | undefined

/** Resolves a {@link CodecOption}; `undefined` gives the shared default msgpack codec. */
export function resolveCodec(option: CodecOption | undefined): Codec<any> {
  if (option === undefined || option === 'msgpack') return (defaultMsgpack ??= msgpack())
  if (option === 'json') return json()
  if (option === 'raw') return raw
  if (option && typeof option.encode === 'function' && typeof option.decode === 'function') return option
  throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `codec must be 'msgpack', 'json', 'raw' or an object with encode/decode`)
}
