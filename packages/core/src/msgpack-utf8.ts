import { isUtf8 } from 'node:buffer'

/**
 * Strings shorter than this are checked by a JavaScript loop, which beats the native check (whose
 * cost is mostly the call and the view it needs); from this length on the native check (SIMD) wins.
 */
export const SHORT_STRING = 256

/**
 * Whether `bytes[from, to)` is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates
 * (ED A0..BF), nothing above U+10FFFF, no stray continuation bytes, no truncated sequence.
 * ASCII runs cost one comparison per byte; long strings go to Node's native `isUtf8`.
 */
export function isValidUtf8(bytes: Uint8Array, from: number, to: number): boolean {
  if (to - from >= SHORT_STRING) return isUtf8(bytes.subarray(from, to))
  const i = asciiEnd(bytes, from, to)
  return i === to || validFrom(bytes, i, to)
}

/** The offset of the first byte ≥ 0x80 in `bytes[from, to)`, or `to` when they are all ASCII. */
export function asciiEnd(bytes: Uint8Array, from: number, to: number): number {
  let i = from
  // eight at a time while there are eight (about twice as fast on long runs)
  while (i + 8 <= to && (bytes[i]! | bytes[i + 1]! | bytes[i + 2]! | bytes[i + 3]! | bytes[i + 4]! | bytes[i + 5]! | bytes[i + 6]! | bytes[i + 7]!) < 0x80)
    i += 8
  while (i < to && bytes[i]! < 0x80) i++
  return i
}

/** The full check from the first non-ASCII byte on. */
function validFrom(bytes: Uint8Array, i: number, to: number): boolean {
  while (i < to) {
    const b = bytes[i]!
    if (b < 0x80) {
      i++
      continue
    }
    // the allowed range of the second byte depends on the first (Unicode 15, table 3-7)
    let need: number
    let lo = 0x80
    let hi = 0xbf
    if (b >= 0xc2 && b <= 0xdf) need = 1
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2
      if (b === 0xe0)
        lo = 0xa0 // below: overlong
      else if (b === 0xed) hi = 0x9f // above: UTF-16 surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3
      if (b === 0xf0)
        lo = 0x90 // below: overlong
      else if (b === 0xf4) hi = 0x8f // above: beyond U+10FFFF
    } else return false // a continuation byte, C0/C1 (overlong) or F5..FF
    if (i + need >= to) return false // truncated
    const b2 = bytes[i + 1]!
    if (b2 < lo || b2 > hi) return false
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k]!
      if (c < 0x80 || c > 0xbf) return false
    }
    i += need + 1
  }
  return true
}
