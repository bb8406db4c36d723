/**
 * A structural check of msgpack bytes made before they reach the decoder: it walks the bytes once,
 * iteratively and without allocating per item, and rejects what could hurt the receiver:
 * nesting deeper than `maxDepth`, a container or string that claims more items or bytes than the
 * message holds (so the decoder never allocates from a hostile length), extension types other than
 * the harmless ones (unless `extensions` is on), the never-used byte 0xc1, and trailing bytes.
 * Returns `undefined` when the bytes are acceptable, or a short description of the first problem.
 */
export function checkMsgpack(bytes: Uint8Array, start: number, end: number, maxDepth: number, extensions: boolean): string | undefined {
  let pos = start
  let pending = 1 // items still to read at the current nesting level
  const stack: number[] = []
  const u16 = (at: number): number => (bytes[at]! << 8) | bytes[at + 1]!
  const u32 = (at: number): number => bytes[at]! * 0x1000000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!)
  const i8 = (at: number): number => (bytes[at]! << 24) >> 24

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
    if (b < 0x80 || b >= 0xe0) continue // fixint
    if (b < 0x90) items = (b & 0x0f) * 2 // fixmap
    else if (b < 0xa0) items = b & 0x0f // fixarray
    else if (b < 0xc0) skip = b & 0x1f // fixstr
    else {
      switch (b) {
        case 0xc0: case 0xc2: case 0xc3: continue // nil, false, true
        case 0xc1: return 'the reserved byte 0xc1'
        case 0xc4: case 0xd9: // bin8, str8
          if (pos + 1 > end) return 'truncated length'
          skip = bytes[pos]!; pos += 1; break
        case 0xc5: case 0xda: // bin16, str16
          if (pos + 2 > end) return 'truncated length'
          skip = u16(pos); pos += 2; break
        case 0xc6: case 0xdb: // bin32, str32
          if (pos + 4 > end) return 'truncated length'
          skip = u32(pos); pos += 4; break
        case 0xc7: case 0xc8: case 0xc9: { // ext8/16/32: length, type, data
          const lenBytes = b === 0xc7 ? 1 : b === 0xc8 ? 2 : 4
          if (pos + lenBytes + 1 > end) return 'truncated extension header'
          const len = lenBytes === 1 ? bytes[pos]! : lenBytes === 2 ? u16(pos) : u32(pos)
          pos += lenBytes
          const type = i8(pos++)
          if (!extensions && !(type === -1 && len === 12)) return `extension type ${type} is not enabled`
          skip = len
          break
        }
        case 0xca: skip = 4; break
        case 0xcb: skip = 8; break
        case 0xcc: case 0xd0: skip = 1; break
        case 0xcd: case 0xd1: skip = 2; break
        case 0xce: case 0xd2: skip = 4; break
        case 0xcf: case 0xd3: skip = 8; break
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: { // fixext 1/2/4/8/16
          const len = 1 << (b - 0xd4)
          if (pos + 1 > end) return 'truncated extension header'
          const type = i8(pos++)
          // undefined (type 0, 1 byte) and timestamps (type -1, 4 or 8 bytes) are always safe
          if (!extensions && !((type === 0 && len === 1) || (type === -1 && (len === 4 || len === 8)))) {
            return `extension type ${type} is not enabled`
          }
          skip = len
          break
        }
        case 0xdc: // array16
          if (pos + 2 > end) return 'truncated length'
          items = u16(pos); pos += 2; break
        case 0xdd: // array32
          if (pos + 4 > end) return 'truncated length'
          items = u32(pos); pos += 4; break
        case 0xde: // map16
          if (pos + 2 > end) return 'truncated length'
          items = u16(pos) * 2; pos += 2; break
        case 0xdf: // map32
          if (pos + 4 > end) return 'truncated length'
          items = u32(pos) * 2; pos += 4; break
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
      pos += skip
    }
  }
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
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return `nesting deeper than ${maxDepth}`
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return undefined
}
