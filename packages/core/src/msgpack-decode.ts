import { isAscii, isUtf8 } from 'node:buffer'
import { SHORT_STRING, asciiEnd, isValidUtf8 } from './msgpack-utf8.js'

/**
 * The msgpack decoder of the default codec: one pass over the bytes that checks them and builds
 * the value, and never changes a message. It refuses (throwing `Error('invalid msgpack: …')`)
 * nesting deeper than `maxDepth`, a container or string claiming more than the message holds (so
 * nothing is allocated from a hostile length), extension types other than timestamps and
 * `undefined`, the byte 0xc1, bytes after the value, strings that are not UTF-8, and maps holding
 * a key twice. It gives:
 *
 * - a plain object for a map whose keys are all strings (prototype `Object.prototype`, every key
 *   an own enumerable property, `__proto__` included), a `Map` for a map with any other key;
 * - numbers, and `bigint` for every uint64/int64 (as msgpackr gives them);
 * - `bin` as a view of the input (a `Buffer` when the input is one), timestamps as `Date`s,
 *   fixext 1 of type 0 as `undefined`.
 */

const utf8 = new TextDecoder()
const EMPTY = new Uint8Array(0)
// big-endian numbers are copied here to be read without a DataView per message
const scratch = new Uint8Array(8)
const scratchView = new DataView(scratch.buffer)
const fromCharCode = String.fromCharCode
const charCodes: number[] = []

// the message being decoded (the decoder never re-enters itself)
let src: Uint8Array = EMPTY
let isBuffer = false
let pos = 0
let end = 0
let maxDepth = 0
let depth = 0
// items that containers may still claim: every item takes at least one byte and belongs to one
// container, so the claims of a valid message add up to at most its size; nested claims that
// each fit what remains can not make the decoder allocate more than that
let budget = 0
// bytes of container keys still allowed to be compared (keys inside keys are compared at every level)
let keyBudget = 0
// the string keys of the open maps, in the order read, for a map that turns out to need a Map
const keyStack: string[] = []
let keyTop = 0
// set by readKey: the key's bit in its map's filter of seen keys (see keyHashBit), or 0 when
// readKey did not work it out (the key then gets it from stringBit)
let keyBit = 0

// the last ASCII fixstr keys seen, by a hash of their bytes, so common keys are not built again
const CACHE_SIZE = 4096
const cachedBytes: (Uint8Array | undefined)[] = new Array(CACHE_SIZE)
const cachedKeys: string[] = new Array(CACHE_SIZE)

function fail(problem: string): never {
  throw new Error(`invalid msgpack: ${problem}`)
}

/**
 * Decodes the one msgpack value at `bytes[start, end)` (see the module comment for what is refused
 * and what is produced). Reads nothing outside that range.
 */
export function decodeMsgpack(bytes: Uint8Array, start: number, stop: number, nesting: number): unknown {
  src = bytes
  isBuffer = Buffer.isBuffer(bytes)
  pos = start
  end = Math.min(stop, bytes.length)
  maxDepth = nesting
  depth = 0
  budget = end - start
  keyBudget = 4 * (end - start)
  keyTop = 0
  try {
    const value = read()
    if (pos !== end) fail(`${end - pos} trailing bytes after the value`)
    return value
  } finally {
    src = EMPTY // do not keep the message alive
    if (keyStack.length > 4096) keyStack.length = 0 // nor the keys of a huge one
  }
}

function read(): unknown {
  if (pos >= end) fail('the message ends inside a value')
  const b = src[pos++]!
  if (b < 0x80) return b
  if (b >= 0xe0) return b - 0x100
  if (b < 0x90) return readMap(b & 0x0f)
  if (b < 0xa0) return readArray(b & 0x0f)
  if (b < 0xc0) return readString(b & 0x1f)
  switch (b) {
    case 0xc0:
      return null
    case 0xc1:
      return fail('the reserved byte 0xc1')
    case 0xc2:
      return false
    case 0xc3:
      return true
    case 0xc4:
      return readBin(length(1))
    case 0xc5:
      return readBin(length(2))
    case 0xc6:
      return readBin(length(4))
    case 0xc7:
      return readExt(length(1), 0xc7)
    case 0xc8:
      return readExt(length(2), 0xc8)
    case 0xc9:
      return readExt(length(4), 0xc9)
    case 0xca:
      copy(4)
      return scratchView.getFloat32(0)
    case 0xcb:
      copy(8)
      return scratchView.getFloat64(0)
    case 0xcc:
      return uint(1)
    case 0xcd:
      return uint(2)
    case 0xce:
      return uint(4)
    case 0xcf:
      copy(8)
      return scratchView.getBigUint64(0)
    case 0xd0:
      copy(1)
      return scratchView.getInt8(0)
    case 0xd1:
      copy(2)
      return scratchView.getInt16(0)
    case 0xd2:
      copy(4)
      return scratchView.getInt32(0)
    case 0xd3:
      copy(8)
      return scratchView.getBigInt64(0)
    case 0xd4:
      return readExt(1, 0xd4)
    case 0xd5:
      return readExt(2, 0xd5)
    case 0xd6:
      return readExt(4, 0xd6)
    case 0xd7:
      return readExt(8, 0xd7)
    case 0xd8:
      return readExt(16, 0xd8)
    case 0xd9:
      return readString(length(1))
    case 0xda:
      return readString(length(2))
    case 0xdb:
      return readString(length(4))
    case 0xdc:
      return readArray(length(2))
    case 0xdd:
      return readArray(length(4))
    case 0xde:
      return readMap(length(2))
    default:
      return readMap(length(4)) // 0xdf
  }
}

/** A big-endian unsigned length of `size` bytes. */
function length(size: number): number {
  if (size > end - pos) fail('truncated length')
  return uint(size)
}

/** A big-endian unsigned integer of 1, 2 or 4 bytes. */
function uint(size: number): number {
  if (size > end - pos) fail('the message ends inside a value')
  const at = pos
  pos += size
  if (size === 1) return src[at]!
  if (size === 2) return (src[at]! << 8) | src[at + 1]!
  return src[at]! * 0x1000000 + ((src[at + 1]! << 16) | (src[at + 2]! << 8) | src[at + 3]!)
}

/** Copies the next `size` (1, 2, 4 or 8) bytes to the scratch memory, to be read as a number. */
function copy(size: number): void {
  const at = pos
  if (size > end - at) fail('the message ends inside a value')
  const s = src
  const t = scratch
  pos = at + size
  t[0] = s[at]!
  if (size === 1) return
  t[1] = s[at + 1]!
  if (size === 2) return
  t[2] = s[at + 2]!
  t[3] = s[at + 3]!
  if (size === 4) return
  t[4] = s[at + 4]!
  t[5] = s[at + 5]!
  t[6] = s[at + 6]!
  t[7] = s[at + 7]!
}

function claimBytes(size: number): void {
  if (size > end - pos) fail(`a value claims ${size} bytes but only ${end - pos} remain`)
}

function claimItems(items: number): void {
  if (items > end - pos) fail(`a container claims ${items} items but only ${end - pos} bytes remain`)
  if ((budget -= items) < 0) fail('the containers claim more items than the message holds')
  if (items > 0 && ++depth > maxDepth) fail(`nesting deeper than ${maxDepth}`)
}

function readBin(size: number): Uint8Array {
  claimBytes(size)
  const start = pos
  pos += size
  return src.subarray(start, pos) // a view, as msgpackr gives
}

function readString(size: number): string {
  const start = pos
  if (size > end - start) fail(`a value claims ${size} bytes but only ${end - start} remain`)
  const stop = (pos = start + size)
  if (size < 16) {
    const s = src
    let bits = 0
    for (let i = start; i < stop; i++) bits |= s[i]!
    if (bits < 0x80) return asciiString(s, start, size)
  }
  return longerString(start, stop)
}

/** A string of 16 bytes or more, or one that is not ASCII: checked for UTF-8, then decoded. */
function longerString(start: number, stop: number): string {
  const size = stop - start
  if (size < SHORT_STRING) {
    if (asciiEnd(src, start, stop) === stop) return isBuffer ? (src as Buffer).toString('latin1', start, stop) : asciiString(src, start, size)
    if (!isValidUtf8(src, start, stop)) fail('a string that is not valid UTF-8')
    return isBuffer ? (src as Buffer).toString('utf8', start, stop) : utf8.decode(src.subarray(start, stop))
  }
  const view = src.subarray(start, stop)
  if (isBuffer && isAscii(view)) return (src as Buffer).toString('latin1', start, stop) // the fastest way to a string
  if (!isUtf8(view)) fail('a string that is not valid UTF-8')
  return isBuffer ? (src as Buffer).toString('utf8', start, stop) : utf8.decode(view)
}

/** The ASCII bytes `s[start, start + size)` as a string. */
function asciiString(s: Uint8Array, start: number, size: number): string {
  switch (size) {
    case 0:
      return ''
    case 1:
      return fromCharCode(s[start]!)
    case 2:
      return fromCharCode(s[start]!, s[start + 1]!)
    case 3:
      return fromCharCode(s[start]!, s[start + 1]!, s[start + 2]!)
    case 4:
      return fromCharCode(s[start]!, s[start + 1]!, s[start + 2]!, s[start + 3]!)
    case 5:
      return fromCharCode(s[start]!, s[start + 1]!, s[start + 2]!, s[start + 3]!, s[start + 4]!)
    case 6:
      return fromCharCode(s[start]!, s[start + 1]!, s[start + 2]!, s[start + 3]!, s[start + 4]!, s[start + 5]!)
    case 7:
      return fromCharCode(s[start]!, s[start + 1]!, s[start + 2]!, s[start + 3]!, s[start + 4]!, s[start + 5]!, s[start + 6]!)
    case 8:
      return fromCharCode(s[start]!, s[start + 1]!, s[start + 2]!, s[start + 3]!, s[start + 4]!, s[start + 5]!, s[start + 6]!, s[start + 7]!)
  }
  // through a reused array: a view of the input would cost more than the copy (Buffer views most)
  const codes = charCodes
  codes.length = size
  for (let i = 0; i < size; i++) codes[i] = s[start + i]!
  return fromCharCode.apply(null, codes)
}

/**
 * An extension value: `size` data bytes after the type byte (for ext 8/16/32 the length was read
 * already). Only timestamps (type -1) and `undefined` (fixext 1 of type 0) are accepted.
 */
function readExt(size: number, header: number): unknown {
  if (pos >= end) fail('truncated extension header')
  const type = (src[pos++]! << 24) >> 24
  const fixext = header >= 0xd4
  const timestamp = type === -1 && (fixext ? size === 1 || size === 4 || size === 8 : size === 12)
  if (!timestamp && !(type === 0 && header === 0xd4)) fail(`extension type ${type} is not enabled`)
  claimBytes(size)
  const at = pos
  pos += size
  if (type === 0) return undefined
  const s = src
  switch (size) {
    case 4: // seconds as uint32
      return new Date((s[at]! * 0x1000000 + ((s[at + 1]! << 16) | (s[at + 2]! << 8) | s[at + 3]!)) * 1000)
    case 8: {
      // nanoseconds in the upper 30 bits, seconds in the lower 34
      const nanoseconds = s[at]! * 0x400000 + ((s[at + 1]! << 14) | (s[at + 2]! << 6) | (s[at + 3]! >> 2))
      const seconds = (s[at + 3]! & 0x03) * 0x100000000 + (s[at + 4]! * 0x1000000 + ((s[at + 5]! << 16) | (s[at + 6]! << 8) | s[at + 7]!))
      return new Date(nanoseconds / 1e6 + seconds * 1000)
    }
    case 12: {
      // nanoseconds as uint32, seconds as int64
      const nanoseconds = s[at]! * 0x1000000 + ((s[at + 1]! << 16) | (s[at + 2]! << 8) | s[at + 3]!)
      const high = (s[at + 4]! << 24) | (s[at + 5]! << 16) | (s[at + 6]! << 8) | s[at + 7]! // signed
      const low = s[at + 8]! * 0x1000000 + ((s[at + 9]! << 16) | (s[at + 10]! << 8) | s[at + 11]!)
      return new Date(nanoseconds / 1e6 + (high * 0x100000000 + low) * 1000)
    }
    default: // the one byte msgpackr writes for an invalid Date
      return new Date(NaN)
  }
}

function readArray(items: number): unknown[] {
  claimItems(items)
  const array = new Array<unknown>(items)
  for (let i = 0; i < items; i++) array[i] = read()
  if (items > 0) depth--
  return array
}

function readMap(entries: number): Record<string, unknown> | Map<unknown, unknown> {
  claimItems(entries * 2)
  const object: Record<string, unknown> = {}
  const base = keyTop
  let seen = 0 // a filter of the keys read so far: one bit per key hash
  for (let i = 0; i < entries; i++) {
    const keyStart = pos
    const key = readKey()
    if (typeof key !== 'string') {
      const map = readMapEntries(object, base, key, keyStart, entries - i)
      keyTop = base
      if (entries > 0) depth--
      return map
    }
    const bit = keyBit !== 0 ? keyBit : stringBit(key)
    if ((seen & bit) !== 0 && Object.hasOwn(object, key)) fail(`the map key ${describeKey(key)} appears twice`)
    seen |= bit
    const value = read()
    // assignment would set the prototype; a definition makes it an ordinary own property
    if (key === '__proto__') Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true })
    else object[key] = value
    keyStack[keyTop++] = key
  }
  keyTop = base
  if (entries > 0) depth--
  return object
}

/** A map key: short ASCII keys through the cache, everything else through {@link read}. */
function readKey(): unknown {
  if (pos >= end) fail('the message ends inside a value')
  const b = src[pos]!
  if (b < 0xa0 || b >= 0xc0) {
    keyBit = 0
    return read()
  }
  const size = b & 0x1f
  pos++
  claimBytes(size)
  const start = pos
  const stop = start + size
  let hash = size
  let bits = 0
  for (let i = start; i < stop; i++) {
    const c = src[i]!
    bits |= c
    hash = (hash * 31 + c) | 0
  }
  if (bits >= 0x80) {
    pos = start
    keyBit = 0
    return readString(size)
  }
  pos = stop
  keyBit = keyHashBit(hash)
  const slot = (hash ^ (hash >>> 12)) & (CACHE_SIZE - 1)
  const bytes = cachedBytes[slot]
  if (bytes !== undefined && bytes.length === size) {
    let i = 0
    while (i < size && bytes[i] === src[start + i]) i++
    if (i === size) return cachedKeys[slot]!
  }
  const key = asciiString(src, start, size)
  cachedBytes[slot] = Uint8Array.prototype.slice.call(src, start, stop) // a copy: the input is reused
  cachedKeys[slot] = key
  return key
}

/** A key's bit in its map's 32-bit filter of seen keys, from the hash of its characters. */
function keyHashBit(hash: number): number {
  return 1 << (Math.imul(hash, 0x9e3779b1) >>> 27)
}

/**
 * The filter bit of a key readKey did not hash (not a short ASCII fixstr): the same hash over its
 * characters, so that one key has one bit however it was encoded.
 */
function stringBit(key: string): number {
  let hash = key.length
  for (let i = 0; i < key.length; i++) hash = (hash * 31 + key.charCodeAt(i)) | 0
  return keyHashBit(hash)
}

/**
 * The rest of a map that turned out to have a non-string `key` (read from `keyStart`): a `Map`
 * with the string-keyed entries read so far (their keys on the key stack from `base`), then
 * `left` entries starting with `key`'s value.
 */
function readMapEntries(object: Record<string, unknown>, base: number, key: unknown, keyStart: number, left: number): Map<unknown, unknown> {
  const map = new Map<unknown, unknown>()
  for (let k = base; k < keyTop; k++) map.set(keyStack[k], object[keyStack[k]!])
  let containers: Set<string> | undefined // the bytes of the keys that are objects
  for (let i = 0; i < left; i++) {
    if (i > 0) {
      keyStart = pos
      key = read()
    }
    if (typeof key === 'object' && key !== null) {
      // an object is a new Map key every time: compare such keys (bin, arrays, maps, timestamps) by their bytes
      if ((keyBudget -= pos - keyStart) < 0) fail('map keys nested in map keys too deeply to compare')
      const bytes = Buffer.from(src.buffer, src.byteOffset + keyStart, pos - keyStart).toString('latin1')
      containers ??= new Set()
      if (containers.has(bytes)) fail('a map key (a container or timestamp) appears twice')
      containers.add(bytes)
    } else if (map.has(key)) fail(`the map key ${describeKey(key)} appears twice`)
    map.set(key, read())
  }
  return map
}

function describeKey(key: unknown): string {
  if (typeof key === 'string') return JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key)
  if (typeof key === 'bigint') return `${key}n`
  return String(key)
}
