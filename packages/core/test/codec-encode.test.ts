import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { encodeErrors } from './codec-helpers.js'
import { isIpcError, msgpack } from '../src/index.js'

// msgpackr with the smallest map headers: the bytes the codec's own encoder must write
const reference = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, bundleStrings: false, variableMapSize: true })

const strings = [
  '',
  'a',
  'x'.repeat(31),
  'x'.repeat(32),
  'x'.repeat(255),
  'x'.repeat(256),
  'é'.repeat(15),
  'é'.repeat(16),
  '€'.repeat(11),
  '😀',
  'a😀b'.repeat(9),
  '€'.repeat(70_000),
  'y'.repeat(70_000),
]
const numbers = [
  0,
  1,
  127,
  128,
  255,
  256,
  65535,
  65536,
  2 ** 32 - 1,
  2 ** 32,
  -1,
  -32,
  -33,
  -128,
  -129,
  -32768,
  -32769,
  -(2 ** 31),
  -(2 ** 31) - 1,
  1.5,
  -1.5,
  1e300,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
]
const dates = [new Date(0), new Date(1000), new Date(1500), new Date(-1), new Date(-62_000_000_000_000), new Date(2 ** 32 * 1000 + 5), new Date(Number.NaN)]
const bins = [0, 1, 255, 256, 65535, 65536].map((n) => Buffer.alloc(n, 7))
const arrays = [0, 15, 16, 65535, 65536].map((n) => Array.from({ length: n }, (_, i) => i % 200))
const objects = [0, 15, 16, 300].map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])))

describe('the msgpack encoder', () => {
  const codec = msgpack()

  it('writes the same bytes as msgpackr for every scalar and container format', () => {
    const values: unknown[] = [null, true, false, undefined, ...strings, ...numbers, ...dates, ...bins, ...arrays, ...objects, 5n, -(2n ** 63n), 2n ** 64n - 1n]
    values.push(
      { nested: { deeper: [1, 'two', { three: [null] }] } },
      new Map<unknown, unknown>([
        [1, 'a'],
        ['b', [2]],
      ]),
    )
    for (const value of values) {
      expect(Buffer.from(codec.encode(value)).equals(reference.pack(value)), `${typeof value} ${String(value).slice(0, 40)}`).toBe(true)
    }
  })

  it('objects of 65,536 keys and more get a map32 header and round-trip', () => {
    const big = Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i]))
    const bytes = codec.encode(big)
    expect(bytes[0]).toBe(0xdf)
    expect(codec.decode(bytes)).toEqual(big)
  })

  it('keeps -0 (a float64), where msgpackr wrote the integer 0', () => {
    expect(Object.is(codec.decode(codec.encode(-0)), -0)).toBe(true)
    expect(Object.is((codec.decode(codec.encode([0, -0])) as number[])[1], -0)).toBe(true)
  })

  it('round-trips generated values through the decoder', () => {
    let seed = 12345
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const make = (depth: number): unknown => {
      switch (rand(depth > 3 ? 7 : 10)) {
        case 0:
          return rand(2) === 0 ? rand(1 << 30) - (1 << 29) : rand(1000) / 7
        case 1:
          return strings[rand(strings.length - 2)]! + String.fromCharCode(0x20 + rand(0x2000))
        case 2:
          return [null, true, false][rand(3)]
        case 3:
          return Buffer.alloc(rand(300), rand(256))
        case 4:
          return new Date(rand(2 ** 30) * 1000 + rand(1000))
        case 5:
          return BigInt(rand(1 << 30)) * 2n ** 33n
        case 6:
          return numbers[rand(numbers.length)]
        case 7:
          return Array.from({ length: rand(20) }, () => make(depth + 1))
        case 8:
          return Object.fromEntries(Array.from({ length: rand(20) }, (_, i) => [`f${i}${rand(3) === 0 ? '€' : ''}`, make(depth + 1)]))
        default:
          return new Map(Array.from({ length: rand(5) }, (_, i) => [rand(2) === 0 ? i : `m${i}`, make(depth + 1)]))
      }
    }
    for (let i = 0; i < 2000; i++) {
      const value = make(0)
      expect(codec.decode(codec.encode(value))).toEqual(value)
    }
  })

  it('refuses lone surrogates, in short and long strings, keys and Map keys, naming where', () => {
    const lone = '\ud800'
    const cases: [unknown, RegExp][] = [
      [{ s: `a${lone}` }, /lone surrogate .*at s/],
      [{ s: `${'x'.repeat(100)}${lone}` }, /lone surrogate .*at s/],
      [[1, `\udc00${'y'.repeat(40)}`], /lone surrogate .*at \[1\]/],
      [{ [`k${lone}`]: 1 }, /key with a lone surrogate/],
      [new Map([[lone, 1]]), /lone surrogate .*at <key>/],
    ]
    for (const [value, where] of cases) {
      for (const error of encodeErrors(codec, value)) {
        expect(isIpcError(error, 'ERR_IPC_INVALID_ARGUMENT'), String(error)).toBe(true)
        expect((error as Error).message).toMatch(where)
      }
    }
    // a surrogate pair is one code point, not a lone surrogate
    expect(codec.decode(codec.encode({ s: '😀'.repeat(40) }))).toEqual({ s: '😀'.repeat(40) })
  })

  it('writes bigints of 64 bits and refuses larger ones', () => {
    expect(codec.decode(codec.encode([2n ** 64n - 1n, -(2n ** 63n)]))).toEqual([2n ** 64n - 1n, -(2n ** 63n)])
    for (const value of [{ n: 2n ** 64n }, { n: -(2n ** 63n) - 1n }]) {
      for (const error of encodeErrors(codec, value)) {
        expect(isIpcError(error, 'ERR_IPC_INVALID_ARGUMENT'), String(error)).toBe(true)
        expect((error as Error).message).toMatch(/bigint outside 64 bits at n/)
      }
    }
  })

  it('refuses a cycle and nesting deeper than maxDepth', () => {
    const cycle: Record<string, unknown> = { a: 1 }
    cycle.self = cycle
    const shallow = msgpack({ maxDepth: 3 })
    for (const [c, value] of [
      [codec, cycle],
      [shallow, { a: { b: { c: {} } } }],
    ] as const) {
      for (const error of encodeErrors(c, value)) {
        expect(isIpcError(error, 'ERR_IPC_INVALID_ARGUMENT'), String(error)).toBe(true)
        expect((error as Error).message).toMatch(/deeper than the codec's maxDepth/)
      }
    }
    expect(shallow.decode(shallow.encode({ a: { b: { c: 1 } } }))).toEqual({ a: { b: { c: 1 } } })
  })

  it('encode returns bytes of its own; encodeShared a range valid until the next call', () => {
    const first = codec.encode({ a: 'first' })
    const copy = Buffer.from(first)
    codec.encode({ b: 'second, longer than the first' })
    expect(Buffer.from(first).equals(copy)).toBe(true)
    const shared = codec.encodeShared!({ c: [1, 2, 3] })
    expect(codec.decode(shared.subarray(shared.start, shared.end))).toEqual({ c: [1, 2, 3] })
  })

  it('never writes over a range it returned: earlier ranges stay intact (the send queue keeps large ones by reference)', () => {
    const kept: [Uint8Array, { i: number; data: Buffer; keys: Record<string, string> }][] = []
    for (let i = 0; i < 300; i++) {
      const value = {
        i,
        data: Buffer.alloc((i * 7919) % 70_000, i & 0xff),
        keys: Object.fromEntries(Array.from({ length: i % 40 }, (_, k) => [`k${k}`, 'v'.repeat(i % 50)])),
      }
      const shared = codec.encodeShared!(value)
      kept.push([shared.subarray(shared.start, shared.end), value])
    }
    // the bytes compared with Buffer.equals: toEqual walks ~10 MB element by element (35 s, past the timeout under load)
    for (const [bytes, value] of kept) {
      const { data, ...rest } = codec.decode(bytes) as typeof value
      const { data: sent, ...sentRest } = value
      expect(data).toBeInstanceOf(Uint8Array)
      expect(Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(sent), `message ${value.i}`).toBe(true)
      expect(rest).toEqual(sentRest)
    }
  })

  it('a map header that grows after the buffer moved mid-message lands in the right place', () => {
    const value = Object.fromEntries(Array.from({ length: 20 }, (_, k) => [`key${k}`, 'z'.repeat(5000)]))
    for (let i = 0; i < 5; i++) expect(codec.decode(codec.encode({ outer: [value, { inner: value }] }))).toEqual({ outer: [value, { inner: value }] })
  })

  it('grows for a large message and gives the large buffer back at the next one', () => {
    const large = { data: Buffer.alloc(8 * 1024 * 1024, 1) }
    const big = codec.encodeShared!(large)
    expect(big.end - big.start).toBeGreaterThan(8 * 1024 * 1024)
    expect(big.length).toBeGreaterThanOrEqual(big.end)
    const small = codec.encodeShared!({ x: 1 })
    expect(small.length).toBeLessThanOrEqual(1024 * 1024)
    expect(codec.decode(small.subarray(small.start, small.end))).toEqual({ x: 1 })
  })

  it('writes what toJSON returns, and other class instances as their own properties', () => {
    class Money {
      constructor(readonly cents: number) {}
      toJSON(): string {
        return `${this.cents / 100} EUR`
      }
    }
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    expect(codec.decode(codec.encode({ price: new Money(250), at: new Point(1, 2) }))).toEqual({ price: '2.5 EUR', at: { x: 1, y: 2 } })
  })
})
