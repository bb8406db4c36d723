import { SHORT_STRING, asciiEnd, isValidUtf8 } from './msgpack-utf8.js'

/**
 * A structural check of msgpack bytes that builds nothing: it walks the bytes once, iteratively
 * and without allocating per item, and rejects what could hurt a receiver: nesting deeper than
 * `maxDepth`, a container or string that claims more items or bytes than the message holds (so a
 * decoder never allocates from a hostile length), extension types other than timestamps (-1) and
 * `undefined` (fixext 1 of type 0) unless `extensions` is on, the never-used byte 0xc1, trailing
 * bytes, and strings (values and keys) that are not well-formed UTF-8.
 *
 * Returns `undefined` when the bytes are acceptable, or a short description of the first problem.
 * The default codec's decoder makes the same checks as it decodes, and refuses maps holding a key
 * twice besides (which this check does not look for).
 */
export function checkMsgpack(bytes: Uint8Array, start: number, end: number, maxDepth: number, extensions: boolean): string | undefined {
  let pos = start
  let pending = 1 // items still to read at the current nesting level
  const stack: number[] = []

  while (true) {
    while (pending === 0) {
      if (stack.length === 0) return pos === end ? undefined : `${end - pos} trailing bytes after the value`
      pending = stack.pop()!
    }
    if (pos >= end) return 'the message ends inside a value'
    pending--
    const b = bytes[pos++]!
    let skip = 0
    let items = -1
    let str = false
    if (b < 0x80 || b >= 0xe0) continue // fixint
    if (b < 0x90)
      items = (b & 0x0f) * 2 // fixmap
    else if (b < 0xa0)
      items = b & 0x0f // fixarray
    else if (b < 0xc0) {
      skip = b & 0x1f // fixstr
      str = true
    } else {
      switch (b) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          continue // nil, false, true
        case 0xc1:
          return 'the reserved byte 0xc1'
        case 0xc4:
        case 0xd9: // bin8, str8
          if (pos + 1 > end) return 'truncated length'
          skip = bytes[pos]!
          pos += 1
          str = b === 0xd9
          break
        case 0xc5:
        case 0xda: // bin16, str16
          if (pos + 2 > end) return 'truncated length'
          skip = u16(bytes, pos)
          pos += 2
          str = b === 0xda
          break
        case 0xc6:
        case 0xdb: // bin32, str32
          if (pos + 4 > end) return 'truncated length'
          skip = u32(bytes, pos)
          pos += 4
          str = b === 0xdb
          break
        case 0xc7:
        case 0xc8:
        case 0xc9: {
          // ext8/16/32: length, type, data
          const lenBytes = b === 0xc7 ? 1 : b === 0xc8 ? 2 : 4
          if (pos + lenBytes + 1 > end) return 'truncated extension header'
          const len = lenBytes === 1 ? bytes[pos]! : lenBytes === 2 ? u16(bytes, pos) : u32(bytes, pos)
          pos += lenBytes
          const type = (bytes[pos++]! << 24) >> 24
          if (!extensions && !(type === -1 && len === 12)) return `extension type ${type} is not enabled`
          skip = len
          break
        }
        case 0xca:
          skip = 4
          break
        case 0xcb:
          skip = 8
          break
        case 0xcc:
        case 0xd0:
          skip = 1
          break
        case 0xcd:
        case 0xd1:
          skip = 2
          break
        case 0xce:
        case 0xd2:
          skip = 4
          break
        case 0xcf:
        case 0xd3:
          skip = 8
          break
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8: {
          // fixext 1/2/4/8/16
          const len = 1 << (b - 0xd4)
          if (pos + 1 > end) return 'truncated extension header'
          const type = (bytes[pos++]! << 24) >> 24
          // undefined (type 0, 1 byte) and timestamps (type -1: 4 or 8 bytes, or the 1 byte msgpackr
          // writes for an invalid Date) decode without running any code the peer chooses
          if (!extensions && !((type === 0 && len === 1) || (type === -1 && (len === 4 || len === 8 || len === 1)))) {
            return `extension type ${type} is not enabled`
          }
          skip = len
          break
        }
        case 0xdc: // array16
          if (pos + 2 > end) return 'truncated length'
          items = u16(bytes, pos)
          pos += 2
          break
        case 0xdd: // array32
          if (pos + 4 > end) return 'truncated length'
          items = u32(bytes, pos)
          pos += 4
          break
        case 0xde: // map16
          if (pos + 2 > end) return 'truncated length'
          items = u16(bytes, pos) * 2
          pos += 2
          break
        case 0xdf: // map32
          if (pos + 4 > end) return 'truncated length'
          items = u32(bytes, pos) * 2
          pos += 4
          break
      }
    }
    if (items >= 0) {
      if (items > end - pos) return `a container claims ${items} items but only ${end - pos} bytes remain`
      if (items > 0) {
        if (stack.length >= maxDepth) return `nesting deeper than ${maxDepth}`
        stack.push(pending)
        pending = items
      }
    } else {
      if (skip > end - pos) return `a value claims ${skip} bytes but only ${end - pos} remain`
      if (str) {
        const stop = pos + skip
        const i = skip < SHORT_STRING ? asciiEnd(bytes, pos, stop) : pos
        if (i < stop && !isValidUtf8(bytes, i, stop)) return 'a string that is not valid UTF-8'
      }
      pos += skip
    }
  }
}

function u16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!
}

function u32(bytes: Uint8Array, at: number): number {
  return bytes[at]! * 0x1000000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!)
}

/**
 * The same kind of check for JSON text: nesting depth only (JSON.parse itself rejects bad syntax
 * and never allocates from a claimed length).
 */
export function checkJsonDepth(text: string, maxDepth: number): string | undefined {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c)
        i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return `nesting deeper than ${maxDepth}`
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return undefined
}
