/**
 * The msgpack encoder of the default codec: one pass over the value that writes it and refuses,
 * as it goes, what msgpack cannot carry exactly (so no second walk checks it first). Its output is
 * what msgpackr wrote for the same values (the peer's decoder is the same either way), except:
 *
 * - objects and maps get the smallest header (fixmap, map16, map32) — msgpackr's fast writer gave
 *   every object a map16 and could not write 65,536 keys or more;
 * - `-0` is a float64, not the integer 0;
 * - what msgpackr changed silently is refused with {@link Unencodable}: a function or symbol; a
 *   typed array other than `Uint8Array` (msgpackr wrote stale bytes of its buffer), `ArrayBuffer`,
 *   `DataView`; `Set`, `Error`, `RegExp`, `WeakMap`, `WeakSet`, `Promise`; a string holding a lone
 *   surrogate (it would not be UTF-8); a bigint outside 64 bits; nesting deeper than `maxDepth`
 *   (cycles included).
 *
 * Numbers: integers of 32 bits as the smallest int format, everything else as float64. Bigints as
 * int64 (uint64 above 2^63 - 1). Strings as UTF-8 str; `Uint8Array`s (and `Buffer`s) as bin;
 * `Date`s as timestamp extensions (32, 64 or 96 bit, as msgpackr chose them); `undefined` as
 * fixext 1 of type 0. Objects with a `toJSON()` of their own are written as what it returns; other
 * class instances as their own enumerable properties.
 */

import { refusedClass } from './msgpack-encodable.js'

/** Thrown when a value cannot be written; the codec then finds and names it (msgpack-encodable.ts). */
export class Unencodable extends Error {}

/** Thrown (not an Error: nothing to capture) when a message does not fit the caller's buffer. */
const NO_ROOM = { noRoom: true }

const OBJECT = Object.prototype
const ARRAY = Array.prototype
const INITIAL_BYTES = 8192
// a buffer grown past this for one message is replaced by a small one at the next message
const KEEP_BYTES = 1024 * 1024
const TWO_32 = 0x100000000
const MIN_INT64 = -(2n ** 63n)
const MAX_UINT64 = 2n ** 64n
const MAX_INT64 = 2n ** 63n

/** Scratch memory with the message at `[start, end)`, as `Codec.encodeShared` returns it. */
export type EncodedRange = Buffer & { start: number; end: number }

function scratch(size: number): EncodedRange {
  const b = Buffer.allocUnsafeSlow(size) as EncodedRange
  b.start = 0
  b.end = 0
  return b
}

/**
 * One encoder per codec. Like msgpackr in its REUSE_BUFFER_MODE, it writes each message after the
 * previous one in its scratch buffer and never back over bytes it has returned: when the buffer
 * runs out it takes a new one (copying only the message being written), so a returned range stays
 * intact for as long as anything refers to it — the send queue keeps large ones by reference.
 */
export class MsgpackEncoder {
  private buf: EncodedRange = scratch(INITIAL_BYTES)
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length)
  private start = 0
  private pos = 0
  // set while encodeInto writes into a caller's buffer, which is never grown
  private into = false
  private intoTarget: Buffer | undefined
  private intoView: DataView | undefined

  constructor(private readonly maxDepth: number) {}

  /**
   * Encodes `value` straight into `target` from `start` on and returns where it ends, or -1 when
   * it does not fit (bytes from `start` on may have been written then). `target` is never grown.
   */
  encodeInto(value: unknown, target: Uint8Array, start: number): number {
    const ownBuf = this.buf
    const ownView = this.view
    const ownStart = this.start
    const ownPos = this.pos
    if (target !== this.intoTarget) {
      this.intoTarget = Buffer.isBuffer(target) ? target : Buffer.from(target.buffer, target.byteOffset, target.byteLength)
      this.intoView = new DataView(target.buffer, target.byteOffset, target.byteLength)
    }
    this.buf = this.intoTarget as EncodedRange
    this.view = this.intoView!
    this.into = true
    this.start = start
    this.pos = start
    try {
      this.value(value, this.maxDepth)
      return this.pos
    } catch (err) {
      if (err === NO_ROOM) return -1
      throw err
    } finally {
      this.into = false
      this.buf = ownBuf
      this.view = ownView
      this.start = ownStart
      this.pos = ownPos
    }
  }

  /** Encodes `value` into the scratch buffer; the bytes are `[start, end)` of what it returns. */
  encode(value: unknown): EncodedRange {
    // a buffer grown past KEEP_BYTES for one message is not kept for the next ones
    if (this.buf.length > KEEP_BYTES) this.fresh(INITIAL_BYTES)
    this.start = this.pos
    try {
      this.value(value, this.maxDepth)
    } catch (err) {
      this.pos = this.start // nothing of a refused message stays
      throw err
    }
    const buf = this.buf
    buf.start = this.start
    buf.end = this.pos
    return buf
  }

  private fresh(size: number): undefined {
    this.buf = scratch(size)
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length)
    this.start = 0
    this.pos = 0
  }

  /** Makes room for `n` more bytes. */
  private room(n: number): undefined {
    if (this.pos + n <= this.buf.length) return
    if (this.into) throw NO_ROOM
    // a new buffer, with the message written so far moved to its start; the old one is left as it is
    const written = this.pos - this.start
    let size = INITIAL_BYTES
    while (size < (written + n) * 2) size *= 2
    const old = this.buf
    const from = this.start
    this.fresh(size)
    old.copy(this.buf, 0, from, from + written)
    this.pos = written
  }

  private value(value: unknown, depthLeft: number): undefined {
    switch (typeof value) {
      case 'string':
        return this.string(value)
      case 'number':
        return this.number(value)
      case 'boolean':
        this.room(1)
        this.buf[this.pos++] = value ? 0xc3 : 0xc2
        return
      case 'undefined':
        this.room(3)
        this.buf[this.pos++] = 0xd4
        this.buf[this.pos++] = 0
        this.buf[this.pos++] = 0
        return
      case 'bigint':
        return this.bigint(value)
      case 'object':
        if (value === null) {
          this.room(1)
          this.buf[this.pos++] = 0xc0
          return
        }
        return this.object(value, depthLeft)
      default:
        throw new Unencodable(`a ${typeof value}`)
    }
  }

  private number(n: number): undefined {
    this.room(9)
    const b = this.buf
    if (n >>> 0 === n && !(n === 0 && 1 / n < 0)) {
      if (n < 0x80) b[this.pos++] = n
      else if (n < 0x100) {
        b[this.pos++] = 0xcc
        b[this.pos++] = n
      } else if (n < 0x10000) {
        b[this.pos++] = 0xcd
        b[this.pos++] = n >> 8
        b[this.pos++] = n & 0xff
      } else {
        b[this.pos++] = 0xce
        this.view.setUint32(this.pos, n)
        this.pos += 4
      }
    } else if (n >> 0 === n && n !== 0) {
      if (n >= -0x20) b[this.pos++] = n & 0xff
      else if (n >= -0x80) {
        b[this.pos++] = 0xd0
        b[this.pos++] = n & 0xff
      } else if (n >= -0x8000) {
        b[this.pos++] = 0xd1
        this.view.setInt16(this.pos, n)
        this.pos += 2
      } else {
        b[this.pos++] = 0xd2
        this.view.setInt32(this.pos, n)
        this.pos += 4
      }
    } else {
      b[this.pos++] = 0xcb
      this.view.setFloat64(this.pos, n)
      this.pos += 8
    }
  }

  private bigint(n: bigint): undefined {
    this.room(9)
    if (n >= MIN_INT64 && n < MAX_INT64) {
      this.buf[this.pos++] = 0xd3
      this.view.setBigInt64(this.pos, n)
    } else if (n > 0n && n < MAX_UINT64) {
      this.buf[this.pos++] = 0xcf
      this.view.setBigUint64(this.pos, n)
    } else throw new Unencodable('a bigint outside 64 bits')
    this.pos += 8
  }

  private string(s: string): undefined {
    const length = s.length
    if (length < 32) {
      // fixstr or str8: at most 96 bytes; written by hand, checked for lone surrogates on the way
      this.room(2 + length * 3)
      const b = this.buf
      const start = this.pos
      let at = start + 1
      for (let i = 0; i < length; i++) {
        let c = s.charCodeAt(i)
        if (c < 0x80) b[at++] = c
        else if (c < 0x800) {
          b[at++] = (c >> 6) | 0xc0
          b[at++] = (c & 0x3f) | 0x80
        } else if ((c & 0xf800) !== 0xd800) {
          b[at++] = (c >> 12) | 0xe0
          b[at++] = ((c >> 6) & 0x3f) | 0x80
          b[at++] = (c & 0x3f) | 0x80
        } else {
          const next = s.charCodeAt(i + 1)
          if (c > 0xdbff || (next & 0xfc00) !== 0xdc00) throw new Unencodable('a string with a lone surrogate (not UTF-8)')
          c = 0x10000 + ((c & 0x3ff) << 10) + (next & 0x3ff)
          i++
          b[at++] = (c >> 18) | 0xf0
          b[at++] = ((c >> 12) & 0x3f) | 0x80
          b[at++] = ((c >> 6) & 0x3f) | 0x80
          b[at++] = (c & 0x3f) | 0x80
        }
      }
      const bytes = at - start - 1
      if (bytes < 32) {
        b[start] = 0xa0 | bytes
        this.pos = at
      } else {
        b.copyWithin(start + 2, start + 1, at)
        b[start] = 0xd9
        b[start + 1] = bytes
        this.pos = at + 1
      }
      return
    }
    if (!s.isWellFormed()) throw new Unencodable('a string with a lone surrogate (not UTF-8)')
    const bytes = Buffer.byteLength(s, 'utf8')
    this.room(5 + bytes)
    const b = this.buf
    if (bytes < 0x100) {
      b[this.pos++] = 0xd9
      b[this.pos++] = bytes
    } else if (bytes < 0x10000) {
      b[this.pos++] = 0xda
      b[this.pos++] = bytes >> 8
      b[this.pos++] = bytes & 0xff
    } else {
      b[this.pos++] = 0xdb
      this.view.setUint32(this.pos, bytes)
      this.pos += 4
    }
    this.pos += b.write(s, this.pos, bytes, 'utf8')
  }

  private object(value: object, depthLeft: number): undefined {
    if (depthLeft === 0) throw new Unencodable("nesting deeper than the codec's maxDepth")
    const proto = Object.getPrototypeOf(value)
    if (proto === OBJECT || proto === null) return this.properties(value as Record<string, unknown>, depthLeft - 1)
    if (proto === ARRAY) return this.items(value as unknown[], depthLeft - 1)
    if (value instanceof Uint8Array) return this.bin(value)
    if (value instanceof Date) return this.date(value)
    if (Array.isArray(value)) return this.items(value, depthLeft - 1)
    if (value instanceof Map) return this.map(value, depthLeft - 1)
    const refused = refusedClass(value)
    if (refused !== undefined) throw new Unencodable(refused)
    const toJSON = (value as { toJSON?: unknown }).toJSON
    if (typeof toJSON === 'function') {
      const json = toJSON.call(value)
      if (json !== value) return this.value(json, depthLeft - 1)
    }
    return this.properties(value as Record<string, unknown>, depthLeft - 1)
  }

  /**
   * A map header for `count` entries where one byte was reserved, `offset` bytes into the message
   * (the buffer may have moved since); moves the entries written after it when it needs more.
   */
  private mapHeader(offset: number, count: number): undefined {
    const b = this.buf
    let at = this.start + offset
    if (count < 16) {
      b[at] = 0x80 | count
      return
    }
    const extra = count < 0x10000 ? 2 : 4
    this.room(extra)
    at = this.start + offset
    const buf = this.buf
    buf.copyWithin(at + 1 + extra, at + 1, this.pos)
    this.pos += extra
    if (extra === 2) {
      buf[at] = 0xde
      buf[at + 1] = count >> 8
      buf[at + 2] = count & 0xff
    } else {
      buf[at] = 0xdf
      this.view.setUint32(at + 1, count)
    }
  }

  private properties(object: Record<string, unknown>, depthLeft: number): undefined {
    this.room(1)
    const offset = this.pos++ - this.start
    let count = 0
    for (const key in object) {
      if (!Object.hasOwn(object, key)) continue
      this.string(key)
      this.value(object[key], depthLeft)
      count++
    }
    this.mapHeader(offset, count)
  }

  private map(map: Map<unknown, unknown>, depthLeft: number): undefined {
    this.room(1)
    const offset = this.pos++ - this.start
    for (const [k, v] of map) {
      this.value(k, depthLeft)
      this.value(v, depthLeft)
    }
    this.mapHeader(offset, map.size)
  }

  private items(items: unknown[], depthLeft: number): undefined {
    const length = items.length
    this.room(5)
    const b = this.buf
    if (length < 16) b[this.pos++] = 0x90 | length
    else if (length < 0x10000) {
      b[this.pos++] = 0xdc
      b[this.pos++] = length >> 8
      b[this.pos++] = length & 0xff
    } else {
      b[this.pos++] = 0xdd
      this.view.setUint32(this.pos, length)
      this.pos += 4
    }
    for (let i = 0; i < length; i++) this.value(items[i], depthLeft)
  }

  private bin(bytes: Uint8Array): undefined {
    const length = bytes.length
    this.room(5 + length)
    const b = this.buf
    if (length < 0x100) {
      b[this.pos++] = 0xc4
      b[this.pos++] = length
    } else if (length < 0x10000) {
      b[this.pos++] = 0xc5
      b[this.pos++] = length >> 8
      b[this.pos++] = length & 0xff
    } else {
      b[this.pos++] = 0xc6
      this.view.setUint32(this.pos, length)
      this.pos += 4
    }
    b.set(bytes, this.pos)
    this.pos += length
  }

  /** Timestamps as msgpackr wrote them: 32-bit whole seconds, 64-bit, 96-bit, or `d4 ff ff` for an invalid Date. */
  private date(date: Date): undefined {
    this.room(15)
    const b = this.buf
    const ms = date.getTime()
    if (Number.isNaN(ms)) {
      b[this.pos++] = 0xd4
      b[this.pos++] = 0xff
      b[this.pos++] = 0xff
      return
    }
    const seconds = Math.floor(ms / 1000)
    const nanoseconds = (ms - seconds * 1000) * 1e6
    if (seconds >= 0 && seconds < TWO_32) {
      if (nanoseconds === 0) {
        b[this.pos++] = 0xd6
        b[this.pos++] = 0xff
        this.view.setUint32(this.pos, seconds)
        this.pos += 4
      } else {
        b[this.pos++] = 0xd7
        b[this.pos++] = 0xff
        this.view.setUint32(this.pos, nanoseconds * 4) // nanoseconds in the upper 30 bits; seconds < 2^32
        this.view.setUint32(this.pos + 4, seconds)
        this.pos += 8
      }
      return
    }
    b[this.pos++] = 0xc7
    b[this.pos++] = 12
    b[this.pos++] = 0xff
    this.view.setUint32(this.pos, nanoseconds)
    this.view.setBigInt64(this.pos + 4, BigInt(seconds))
    this.pos += 12
  }
}
