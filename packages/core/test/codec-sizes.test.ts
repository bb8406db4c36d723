import { describe, expect, it } from 'vitest'
import { encodeErrors } from './codec-helpers.js'
import { type Codec, msgpack } from '../src/codec.js'
import { isIpcError } from '../src/errors.js'

const codec = msgpack()

/** Every way through the codec: encode → decode, and encodeShared → decodeRange of a copy inside a larger buffer. */
function roundTrips(value: unknown, c: Codec = codec): unknown[] {
  const plain = c.decode(c.encode(value))
  const shared = c.encodeShared!(value)
  const size = shared.end - shared.start
  const frame = new Uint8Array(size + 9).fill(0xc1) // bytes that are no message around it
  frame.set(shared.subarray(shared.start, shared.end), 5)
  return [plain, c.decodeRange!(frame, 5, 5 + size)]
}

/** The msgpack header of a map, array, str or bin of `n` entries or bytes, 32-bit form. */
function header32(kind: 'map' | 'array' | 'str' | 'bin', n: number): number[] {
  const first = { map: 0xdf, array: 0xdd, str: 0xdb, bin: 0xc6 }[kind]
  return [first, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]
}

function objectOf(n: number): Record<string, number> {
  const object: Record<string, number> = {}
  for (let i = 0; i < n; i++) object[`k${i}`] = i
  return object
}

describe('msgpack round-trips every container and string size', () => {
  for (const n of [65_535, 65_536, 70_000, 1_000_000]) {
    it(`an object with ${n} keys`, () => {
      const value = objectOf(n)
      // msgpack encodes it as map32 from 65,536 keys on (msgpackr alone threw "fast 16-bit map size")
      expect(codec.encode(value)[0]).toBe(n < 65_536 ? 0xde : 0xdf)
      for (const back of roundTrips(value) as Record<string, number>[]) {
        expect(Object.keys(back)).toHaveLength(n)
        expect(back.k0).toBe(0)
        expect(back[`k${n - 1}`]).toBe(n - 1)
      }
    })
  }

  for (const n of [70_000, 1_000_000]) {
    it(`a Map with ${n} non-string keys`, () => {
      const value = new Map<number, number>()
      for (let i = 0; i < n; i++) value.set(i, n - i)
      for (const back of roundTrips(value) as Map<number, number>[]) {
        expect(back).toBeInstanceOf(Map)
        expect(back.size).toBe(n)
        expect(back.get(0)).toBe(n)
        expect(back.get(n - 1)).toBe(1)
      }
    })

    it(`an array of ${n} items, a string of ${n} characters and a bin of ${n} bytes`, () => {
      const array = Array.from({ length: n }, (_, i) => i % 300)
      const text = 'é'.repeat(n / 2) + 'x'.repeat(n / 2)
      const bin = new Uint8Array(n).map((_, i) => i * 7)
      for (const back of roundTrips({ array, text, bin }) as { array: number[]; text: string; bin: Uint8Array }[]) {
        expect(back.array).toEqual(array)
        expect(back.text).toBe(text)
        expect(back.bin.length).toBe(n)
        expect(Buffer.from(back.bin).equals(Buffer.from(bin))).toBe(true)
      }
    })
  }

  it('a nested object with more than 65,535 keys inside an array', () => {
    for (const back of roundTrips([1, { inner: objectOf(70_000) }]) as [number, { inner: Record<string, number> }][]) {
      expect(Object.keys(back[1].inner)).toHaveLength(70_000)
    }
  })

  it('decodes hand-built map32, array32, str32 and bin32 bytes, small and large', () => {
    const small = Uint8Array.from([
      ...header32('map', 3),
      ...header32('str', 1),
      0x61,
      ...header32('array', 2),
      0x01,
      0x02,
      ...header32('str', 1),
      0x62,
      ...header32('bin', 3),
      0x07,
      0x08,
      0x09,
      ...header32('str', 1),
      0x63,
      ...header32('map', 0),
    ])
    const value = codec.decode(small) as { a: number[]; b: Uint8Array; c: object }
    expect(value.a).toEqual([1, 2])
    expect(Array.from(value.b)).toEqual([7, 8, 9])
    expect(value.c).toEqual({})
    expect(codec.decode(Uint8Array.from([...header32('map', 1), 0x01, 0x02]))).toEqual(new Map([[1, 2]]))

    const n = 70_000
    const parts: number[] = [...header32('map', n)]
    for (let i = 0; i < n; i++) {
      const key = new TextEncoder().encode(`k${i}`)
      parts.push(0xa0 | key.length, ...key, ...header32('array', 1), i & 0x7f)
    }
    const large = codec.decode(Uint8Array.from(parts)) as Record<string, number[]>
    expect(Object.keys(large)).toHaveLength(n)
    expect(large[`k${n - 1}`]).toEqual([(n - 1) & 0x7f])
  })

  it('a map32 from a peer can be sent on (echoed) and arrives the same', () => {
    const n = 70_000
    const parts: number[] = [...header32('map', n)]
    for (let i = 0; i < n; i++) {
      const key = new TextEncoder().encode(`key ${i}`)
      parts.push(0xa0 | key.length, ...key, 0xcd, (i >> 8) & 0xff, i & 0xff)
    }
    const received = codec.decode(Uint8Array.from(parts)) as Record<string, number>
    for (const back of roundTrips(received) as Record<string, number>[]) {
      expect(Object.keys(back)).toEqual(Object.keys(received))
      expect(back[`key ${n - 1}`]).toBe((n - 1) & 0xffff)
    }
  })

  it('still refuses containers and strings that claim more than the message holds', () => {
    for (const kind of ['map', 'array', 'str', 'bin'] as const) {
      expect(() => codec.decode(Uint8Array.from([...header32(kind, 70_000), 0x01, 0x01]))).toThrow(/^invalid msgpack: /)
    }
  })

  it('with extensions on, large objects encode too', () => {
    const ext = msgpack({ extensions: true })
    const back = ext.decode(ext.encode({ big: objectOf(70_000), set: new Set([1]) })) as { big: Record<string, number>; set: Set<number> }
    expect(Object.keys(back.big)).toHaveLength(70_000)
    expect(back.set).toBeInstanceOf(Set)
  })

  it('a value msgpack cannot encode throws ERR_IPC_INVALID_ARGUMENT from encode and encodeShared', () => {
    for (const value of [Symbol('s'), { a: [Symbol('nested')] }, 2n ** 70n, { big: objectOf(65_536), s: Symbol('x') }]) {
      for (const error of encodeErrors(codec, value)) {
        expect(isIpcError(error, 'ERR_IPC_INVALID_ARGUMENT'), String(error)).toBe(true)
        expect((error as Error).message).toMatch(/^msgpack cannot encode this message: /)
      }
    }
    // the codec still works afterwards, and earlier shared encodings are intact
    const kept = codec.encodeShared!({ kept: 1 })
    const copy = kept.slice(kept.start, kept.end)
    expect(() => codec.encodeShared!({ s: Symbol('x') })).toThrow()
    expect(Buffer.from(kept.subarray(kept.start, kept.end)).equals(Buffer.from(copy))).toBe(true)
    expect(codec.decode(codec.encode({ after: true }))).toEqual({ after: true })
  })
})
