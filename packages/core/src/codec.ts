import { Packr, REUSE_BUFFER_MODE, Unpackr } from 'msgpackr'
import { IpcError } from './errors.js'
import { decodeMsgpack } from './msgpack-decode.js'
import { MsgpackEncoder, Unencodable } from './msgpack-encode.js'
import { unencodableError } from './msgpack-encodable.js'
import { checkJsonDepth } from './msgpack-guard.js'

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
  /**
   * Optional fast path: encodes straight into `target` from `start` on (the transport's send
   * slab) and returns where the message ends, or -1 when it does not fit there (the transport then
   * uses `encodeShared` or `encode`). Throws as `encode` does.
   */
  encodeInto?(value: T, target: Uint8Array, start: number): number
}

/** Scratch memory holding one encoded message at `[start, end)` (see {@link Codec.encodeShared}). */
export type SharedEncoding = Uint8Array & { start: number; end: number }

/** Options of the msgpack codec. */
export interface MsgpackCodecOptions {
  /**
   * Deepest nesting of arrays and maps accepted on decode.
   * @defaultValue `64`
   */
  maxDepth?: number
  /**
   * Accept msgpackr's extension and record types (Set, Error, RegExp, typed arrays, records,
   * bundled strings, …) on decode and produce them on encode. Off by default: a hostile peer
   * should not choose which constructors run in your process. Turned on, msgpackr decodes, with
   * none of the codec's checks (extension payloads are not plain msgpack) and by its own rules: a
   * `__proto__` key arrives renamed `__proto_`, invalid UTF-8 arrives as U+FFFD, non-string keys
   * are turned into strings and a repeated key keeps its last value. Use it with trusted peers
   * only. Dates and `undefined` always work.
   * @defaultValue `false`
   */
  extensions?: boolean
}

/**
 * The default codec: msgpack, encoded by msgpackr and decoded by a decoder of its own that checks
 * hostile input as it reads and never changes a message. It refuses nesting deeper than
 * `maxDepth`, lengths claiming more than the message holds, extension types other than Date and
 * `undefined`, strings that are not UTF-8 and maps holding a key twice. Maps whose keys are all
 * strings decode as plain objects (a `__proto__` key is an own property, never the prototype),
 * maps with any other key as `Map`s, binary values as `Uint8Array` views. Every container and
 * string size msgpack has round-trips (objects of 65,536 keys and more are written as map32).
 * Values msgpack cannot hold throw `ERR_IPC_INVALID_ARGUMENT` on encode. See
 * {@link MsgpackCodecOptions} for `extensions`, which trades these rules for msgpackr's.
 */
export function msgpack(options: MsgpackCodecOptions = {}): Codec {
  const maxDepth = options.maxDepth ?? 64
  const extensions = options.extensions ?? false
  const packrOptions = { useRecords: extensions, moreTypes: extensions, structuredClone: false, bundleStrings: false }
  // without extensions the codec's own encoder and decoder; with, msgpackr both ways (its
  // extension types are its own)
  const encoder = extensions ? undefined : new MsgpackEncoder(maxDepth)
  const packr = extensions ? new Packr({ ...packrOptions, variableMapSize: true }) : undefined
  const unpackr = extensions ? new Unpackr({ useRecords: true, mapsAsObjects: true, structuredClone: false, bundleStrings: false }) : undefined

  const encodeShared = (value: unknown): SharedEncoding => {
    try {
      if (encoder !== undefined) return encoder.encode(value)
      return packr!.pack(value, REUSE_BUFFER_MODE) as unknown as SharedEncoding
    } catch (err) {
      if (err instanceof Unencodable) throw unencodableError(value, maxDepth, err)
      throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `msgpack cannot encode this message: ${(err as Error)?.message ?? String(err)}`, { cause: err })
    }
  }
  const decodeRange = (buffer: Uint8Array, start: number, end: number): unknown => {
    try {
      if (unpackr === undefined) return decodeMsgpack(buffer, start, end, maxDepth)
      if (start === end) throw new Error('invalid msgpack: an empty message')
      return unpackr.unpack(buffer, { start, end })
    } catch (err) {
      throw decodeError(err)
    }
  }
  return {
    name: 'msgpack',
    encode(value) {
      const shared = encodeShared(value)
      const out = Buffer.allocUnsafe(shared.end - shared.start) // every byte is copied into it
      out.set(shared.subarray(shared.start, shared.end))
      return out
    },
    // the encoder (and msgpackr in REUSE_BUFFER_MODE) leaves the range intact until its next call
    encodeShared,
    encodeInto:
      encoder === undefined
        ? undefined
        : (value, target, start) => {
            try {
              return encoder.encodeInto(value, target, start)
            } catch (err) {
              if (err instanceof Unencodable) throw unencodableError(value, maxDepth, err)
              throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `msgpack cannot encode this message: ${(err as Error)?.message ?? String(err)}`, { cause: err })
            }
          },
    decode: (bytes) => decodeRange(bytes, 0, bytes.length),
    decodeRange,
  }
}

/** A decoding failure as the codec reports it: an `Error` whose message starts "invalid msgpack: ". */
function decodeError(err: unknown): Error {
  const message = (err as Error)?.message ?? String(err)
  if (err instanceof Error && message.startsWith('invalid msgpack: ')) return err
  // msgpackr's own errors, and a stack overflow from nesting deeper than this process allows
  return new Error(`invalid msgpack: ${message}`, { cause: err })
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
