import { describe, expect, it } from 'vitest'
import { msgpack } from '../src/codec.js'

const codec = msgpack()
const MANY = 40 // more keys than the decoder's 32-bit filter of seen keys has bits

/** msgpack bytes from numbers (single bytes) and strings (a fixstr with that text). */
function mp(...parts: (number | string | number[])[]): Uint8Array {
  return mpOf(parts)
}

function mpOf(parts: (number | string | number[])[]): Uint8Array {
  const out: number[] = []
  for (const p of parts) {
    if (typeof p === 'number') out.push(p)
    else if (typeof p === 'string') {
      const text = new TextEncoder().encode(p)
      out.push(0xa0 | text.length, ...text)
    } else out.push(...p)
  }
  return Uint8Array.from(out)
}

/** A map16 or map32 of `n` entries "k0".."k(n-1)" → i, then `extra` (already encoded) entries. */
function bigMap(n: number, ...extra: number[][]): Uint8Array {
  const entries = n + extra.length
  const parts: (number | string | number[])[] =
    entries < 65536 ? [0xde, entries >> 8, entries & 0xff] : [0xdf, entries >>> 24, (entries >> 16) & 0xff, (entries >> 8) & 0xff, entries & 0xff]
  for (let i = 0; i < n; i++) parts.push(`k${i}`, [0xce, i >>> 24, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff])
  parts.push(...extra)
  return mpOf(parts)
}

describe('msgpack maps with non-string keys decode as Maps, keys exactly as sent', () => {
  it('{1: 1, "1": 2} keeps both keys', () => {
    const value = codec.decode(mp(0x82, 0x01, 0x01, '1', 0x02))
    expect(value).toBeInstanceOf(Map)
    expect([...(value as Map<unknown, unknown>)]).toEqual([
      [1, 1],
      ['1', 2],
    ])
  })

  it('nil, booleans, floats, negative and 64-bit integers, bin, arrays, maps, timestamps and undefined as keys', () => {
    const value = codec.decode(
      mp(
        0x8d,
        0xc0,
        'nil',
        0xc3,
        'true',
        0xc2,
        'false',
        [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
        'float 1.5',
        [0xca, 0x40, 0x20, 0, 0],
        'float32 2.5',
        0xff,
        'fixint -1',
        [0xd1, 0x80, 0x00],
        'int16 -32768',
        [0xcf, 0, 0, 0, 0, 0, 0, 0, 7],
        'uint64 7',
        [0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf9],
        'int64 -7',
        [0xc4, 0x02, 0x01, 0x02],
        'bin',
        [0x92, 0x01, 0xa1, 0x61],
        'array',
        [0x81, 0xa1, 0x61, 0x01],
        'map',
        [0xd6, 0xff, 0, 0, 0, 60],
        'date',
      ),
    ) as Map<unknown, unknown>
    expect(value).toBeInstanceOf(Map)
    const keys = [...value.keys()]
    expect(keys.slice(0, 9)).toEqual([null, true, false, 1.5, 2.5, -1, -32768, 7n, -7n])
    expect(keys[9]).toBeInstanceOf(Uint8Array)
    expect(Array.from(keys[9] as Uint8Array)).toEqual([1, 2])
    expect(keys[10]).toEqual([1, 'a'])
    expect(keys[11]).toEqual({ a: 1 })
    expect(keys[12]).toEqual(new Date(60_000))
    expect([...value.values()]).toEqual([
      'nil',
      'true',
      'false',
      'float 1.5',
      'float32 2.5',
      'fixint -1',
      'int16 -32768',
      'uint64 7',
      'int64 -7',
      'bin',
      'array',
      'map',
      'date',
    ])
    const undef = codec.decode(mp(0x81, [0xd4, 0x00, 0x00], 'undefined')) as Map<unknown, unknown>
    expect([...undef]).toEqual([[undefined, 'undefined']])
  })

  it('only the map with a non-string key is a Map; maps around and inside it stay objects', () => {
    const value = codec.decode(mp(0x82, 'outer', 0x82, 0x01, 0x81, 'inner', 0x01, 'x', 0x02, 'last', 0x03)) as Record<string, unknown>
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
    const middle = value.outer as Map<unknown, unknown>
    expect(middle).toBeInstanceOf(Map)
    expect([...middle]).toEqual([
      [1, { inner: 1 }],
      ['x', 2],
    ])
    expect(Object.getPrototypeOf(middle.get(1))).toBe(Object.prototype)
    expect(value.last).toBe(3)
  })

  it('a map whose keys are all strings is a plain object, small or large', () => {
    expect(codec.decode(mp(0x82, 'a', 0x01, 'b', 0x02))).toEqual({ a: 1, b: 2 })
    const large = codec.decode(bigMap(MANY + 1)) as Record<string, number>
    expect(Object.getPrototypeOf(large)).toBe(Object.prototype)
    expect(Object.keys(large)).toHaveLength(MANY + 1)
    expect(large[`k${MANY}`]).toBe(MANY)
  })

  it('a -0.0 key is the Map key 0 (a Map holds no -0)', () => {
    const value = codec.decode(mp(0x81, [0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0], 'minus zero')) as Map<unknown, unknown>
    expect(Object.is([...value.keys()][0], 0)).toBe(true)
    // as a value it stays -0
    expect(Object.is(codec.decode(Uint8Array.from([0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0])), -0)).toBe(true)
  })

  it('keys that only look alike are different keys', () => {
    // 1 and "1"; 1 and the uint64 1 (bigint 1n, as msgpackr gives 64-bit integers); true and 1
    const value = codec.decode(mp(0x84, 0x01, 0x0a, '1', 0x0b, [0xcf, 0, 0, 0, 0, 0, 0, 0, 1], 0x0c, 0xc3, 0x0d)) as Map<unknown, unknown>
    expect([...value]).toEqual([
      [1, 10],
      ['1', 11],
      [1n, 12],
      [true, 13],
    ])
  })
})

describe('msgpack refuses maps with a repeated key', () => {
  const refused = /^invalid msgpack: (the map key .* appears twice|a map key \(a container or timestamp\) appears twice)$/

  it('string keys, in small, large, nested maps and maps inside arrays', () => {
    const cases: [string, Uint8Array][] = [
      ['two keys', mp(0x82, 'a', 0x01, 'a', 0x02)],
      ['first and last of 15', mp(0x8f, 'dup', 0x00, ...Array.from({ length: 13 }, (_, i) => [0xa2, 0x6b, 0x61 + i, 0x00]), 'dup', 0x01)],
      ['the same bytes with another header', mp(0x82, 'abc', 0x01, [0xd9, 0x03, 0x61, 0x62, 0x63], 0x02)],
      ['the same bytes with another header, the other way round', mp(0x82, [0xd9, 0x03, 0x61, 0x62, 0x63], 0x01, 'abc', 0x02)],
      ['a non-ASCII key with two headers', mp(0x83, 'a', 0x00, [0xda, 0x00, 0x02, 0xc3, 0xa9], 0x01, 'é', 0x02)],
      ['a long key first', mp(0x82, [0xd9, 40, ...new Uint8Array(40).fill(0x61)], 0x01, [0xda, 0x00, 40, ...new Uint8Array(40).fill(0x61)], 0x02)],
      ['the empty key', mp(0x82, '', 0x01, '', 0x02)],
      ['non-ASCII', mp(0x82, 'é', 0x01, 'é', 0x02)],
      ['long', mp(0x82, [0xda, 0x01, 0x2c, ...new Uint8Array(300).fill(0x78)], 0x01, [0xda, 0x01, 0x2c, ...new Uint8Array(300).fill(0x78)], 0x02)],
      ['in a nested map', mp(0x82, 'a', 0x82, 'b', 0x01, 'b', 0x02, 'c', 0x03)],
      ['after a nested map', mp(0x83, 'a', 0x81, 'b', 0x01, 'c', 0x02, 'a', 0x03)],
      ['in a map inside an array', mp(0x92, 0x81, 'a', 0x01, 0x82, 'b', 0x01, 'b', 0x02)],
      ['__proto__ twice', mp(0x82, '__proto__', 0x01, '__proto__', 0x02)],
      ['next to a __proto__ key', mp(0x83, '__proto__', 0x01, 'a', 0x01, 'a', 0x02)],
      ['in a map with a non-string key', mp(0x83, 0x01, 0x01, 'a', 0x01, 'a', 0x02)],
      [`in a map of more than ${MANY} entries`, bigMap(MANY + 5, [0xa2, 0x6b, 0x33, 0x01])],
      ['in a map of 70,000 entries', bigMap(70_000, [0xa6, ...new TextEncoder().encode('k69999'), 0x01])],
    ]
    for (const [name, bytes] of cases) expect(() => codec.decode(bytes), name).toThrow(refused)
  })

  it('non-string keys that decode to the same value, or containers with the same bytes', () => {
    const cases: [string, Uint8Array][] = [
      ['1 twice', mp(0x82, 0x01, 0x01, 0x01, 0x02)],
      ['1 as fixint and as uint8', mp(0x82, 0x01, 0x01, [0xcc, 0x01], 0x02)],
      ['1 as an integer and as a float', mp(0x82, 0x01, 0x01, [0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0], 0x02)],
      ['1.5 as float32 and as float64', mp(0x82, [0xca, 0x3f, 0xc0, 0, 0], 0x01, [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], 0x02)],
      ['0 and -0.0', mp(0x82, 0x00, 0x01, [0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0], 0x02)],
      ['nil twice', mp(0x82, 0xc0, 0x01, 0xc0, 0x02)],
      ['false twice', mp(0x82, 0xc2, 0x01, 0xc2, 0x02)],
      ['uint64 twice', mp(0x82, [0xcf, 0, 0, 0, 0, 0, 0, 0, 1], 0x01, [0xd3, 0, 0, 0, 0, 0, 0, 0, 1], 0x02)],
      ['undefined twice', mp(0x82, [0xd4, 0, 0], 0x01, [0xd4, 0, 0], 0x02)],
      ['bin twice', mp(0x82, [0xc4, 0x01, 0x07], 0x01, [0xc4, 0x01, 0x07], 0x02)],
      ['an array twice', mp(0x82, [0x91, 0x01], 0x01, [0x91, 0x01], 0x02)],
      ['a map twice', mp(0x82, [0x81, 0xa1, 0x61, 0x01], 0x01, [0x81, 0xa1, 0x61, 0x01], 0x02)],
      ['a date twice', mp(0x82, [0xd6, 0xff, 0, 0, 0, 1], 0x01, [0xd6, 0xff, 0, 0, 0, 1], 0x02)],
    ]
    for (const [name, bytes] of cases) expect(() => codec.decode(bytes), name).toThrow(refused)
    // different containers are different keys
    expect([...(codec.decode(mp(0x82, [0x91, 0x01], 0x01, [0x91, 0x02], 0x02)) as Map<unknown, unknown>).values()]).toEqual([1, 2])
  })

  it('at any depth allowed, with many keys open at once', () => {
    // 150 nested maps of 20 keys each, the last key holding the next map: 2,850 keys open at the bottom
    const deep = msgpack({ maxDepth: 200 })
    const build = (repeatAtBottom: boolean): Uint8Array => {
      const parts: (number | string | number[])[] = []
      for (let level = 0; level < 150; level++) {
        parts.push([0xde, 0x00, 20])
        for (let k = 0; k < 19; k++) parts.push(level === 149 && repeatAtBottom && k === 18 ? 'k0' : `k${k}`, k)
        parts.push('next')
      }
      parts.push(0xc0)
      return mpOf(parts)
    }
    let value = deep.decode(build(false)) as Record<string, unknown>
    for (let level = 0; level < 149; level++) value = value.next as Record<string, unknown>
    expect(value).toEqual({ ...Object.fromEntries(Array.from({ length: 19 }, (_, k) => [`k${k}`, k])), next: null })
    expect(() => deep.decode(build(true))).toThrow(/the map key "k0" appears twice/)
    expect(() => codec.decode(build(false))).toThrow(/nesting deeper than 64/)
  })

  it('the same key in different maps is no repeat', () => {
    expect(codec.decode(mp(0x83, 'a', 0x81, 'a', 0x01, 'b', 0x81, 'a', 0x02, 'c', 0x92, 0x81, 'a', 0x03, 0x81, 'a', 0x04))).toEqual({
      a: { a: 1 },
      b: { a: 2 },
      c: [{ a: 3 }, { a: 4 }],
    })
    // a nested map's keys are forgotten when it ends, the outer map's are kept
    expect(codec.decode(mp(0x83, 'x', 0x82, 'y', 0x01, 'z', 0x02, 'y', 0x03, 'z', 0x04))).toEqual({ x: { y: 1, z: 2 }, y: 3, z: 4 })
  })
})

describe('msgpack encodes a Map as a map that decodes back', () => {
  it('a Map with non-string keys decodes to an equal Map, through encode and encodeShared', () => {
    const bin = new Uint8Array([1, 2])
    const map = new Map<unknown, unknown>([
      [1, 'one'],
      ['1', 'string one'],
      [-5, 'negative'],
      [2.5, 'float'],
      [2 ** 40, 'large'],
      [2n ** 60n, 'bigint'],
      [null, 'null'],
      [true, 'true'],
      [false, 'false'],
      [undefined, 'undefined'],
      [bin, 'bin'],
      [[1, 'a'], 'array'],
      [{ k: 1 }, 'object'],
      [new Date(1_700_000_000_000), 'date'],
      ['__proto__', 'proto'],
    ])
    const viaShared = (): unknown => {
      const shared = codec.encodeShared!(map)
      return codec.decodeRange!(shared, shared.start, shared.end)
    }
    for (const back of [codec.decode(codec.encode(map)), viaShared()] as Map<unknown, unknown>[]) {
      expect(back).toBeInstanceOf(Map)
      expect([...back.values()]).toEqual([...map.values()])
      const keys = [...back.keys()]
      expect(keys.slice(0, 10)).toEqual([1, '1', -5, 2.5, 2 ** 40, 2n ** 60n, null, true, false, undefined])
      expect(Array.from(keys[10] as Uint8Array)).toEqual([1, 2])
      expect(keys.slice(11)).toEqual([[1, 'a'], { k: 1 }, new Date(1_700_000_000_000), '__proto__'])
    }
  })

  it('a Map with string keys only decodes as a plain object (msgpack has one map type)', () => {
    expect(
      codec.decode(
        codec.encode(
          new Map([
            ['a', 1],
            ['b', 2],
          ]),
        ),
      ),
    ).toEqual({ a: 1, b: 2 })
    expect(codec.decode(codec.encode(new Map()))).toEqual({})
  })
})
