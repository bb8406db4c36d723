import { describe, expect, it } from 'vitest'
import { checkMsgpack } from '../src/msgpack-guard.js'
import { json, msgpack, raw } from '../src/index.js'
import { resolveCodec } from '../src/codec.js'

describe('codecs', () => {
  const mp = msgpack()

  it('msgpack round-trips plain values, dates and binary', () => {
    const value = { a: 1, b: 'two', c: [true, null, 3.5], d: new Date(1_700_000_000_000), e: new Uint8Array([1, 2, 3]), big: 2 ** 40 }
    const back = mp.decode(mp.encode(value)) as typeof value
    expect(back.a).toBe(1)
    expect(back.c).toEqual([true, null, 3.5])
    expect(back.d.getTime()).toBe(value.d.getTime())
    expect(Array.from(back.e)).toEqual([1, 2, 3])
    expect(back.big).toBe(2 ** 40)
  })

  it('msgpack never lets __proto__ reach the prototype', () => {
    // map { "__proto__": { "polluted": true } }
    const bytes = Uint8Array.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0x81, 0xa8, ...Buffer.from('polluted'), 0xc3])
    const value = mp.decode(bytes) as Record<string, unknown>
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
    expect((value as { polluted?: unknown }).polluted).toBeUndefined()
  })

  it('msgpack rejects hostile shapes without allocating from claimed lengths', () => {
    const cases: [string, number[]][] = [
      ['array32 claiming 4G items', [0xdd, 0xff, 0xff, 0xff, 0xff]],
      ['map32 claiming 4G entries', [0xdf, 0xff, 0xff, 0xff, 0xff, 0x00]],
      ['str32 claiming 4 GiB', [0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]],
      ['bin32 claiming 4 GiB', [0xc6, 0xff, 0xff, 0xff, 0xff]],
      ['reserved byte', [0xc1]],
      ['record extension', [0xd4, 0x72, 0x00]],
      ['Set extension', [0xc7, 0x01, 0x73, 0x90]],
      ['RegExp extension', [0xd4, 0x78, 0x00]],
      ['trailing bytes', [0x01, 0x02]],
      ['truncated', [0x92, 0x01]],
    ]
    for (const [name, bytes] of cases) {
      expect(() => mp.decode(Uint8Array.from(bytes)), name).toThrow(/invalid msgpack/)
    }
  })

  it('msgpack bounds nesting depth', () => {
    const deep = new Uint8Array(10_000).fill(0x91)
    deep[deep.length - 1] = 0x01
    expect(() => mp.decode(deep)).toThrow(/nesting deeper than 64/)
    const ok = new Uint8Array(11).fill(0x91)
    ok[10] = 0x01
    expect(checkMsgpack(ok, 0, ok.length, 64, false)).toBeUndefined()
  })

  it('dates of every timestamp size, invalid dates and undefined keep working', () => {
    const dates = [new Date(0), new Date(1_700_000_000_000), new Date(1_700_000_000_123), new Date(-1), new Date(2 ** 34 * 1000 + 5), new Date(NaN)]
    for (const d of dates) {
      const back = mp.decode(mp.encode({ d, list: [d], u: undefined })) as { d: Date; list: Date[]; u: undefined }
      expect(back.d).toBeInstanceOf(Date)
      expect(Object.is(back.d.getTime(), d.getTime())).toBe(true)
      expect(Object.is(back.list[0]!.getTime(), d.getTime())).toBe(true)
      expect('u' in back && back.u === undefined).toBe(true)
    }
    // timestamp 32, 64 and 96 as another implementation writes them
    expect(mp.decode(Uint8Array.from([0xd6, 0xff, 0, 0, 0, 1]))).toEqual(new Date(1000))
    expect(mp.decode(Uint8Array.from([0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 2]))).toEqual(new Date(2000))
    expect(mp.decode(Uint8Array.from([0xc7, 12, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]))).toEqual(new Date(3000))
    expect(mp.decode(Uint8Array.from([0xd4, 0x00, 0x00]))).toBeUndefined()
  })

  it('with extensions on, msgpackr decodes unchecked, by its own rules', () => {
    const ext = msgpack({ extensions: true })
    const proto = ext.decode(Uint8Array.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0x01])) as Record<string, unknown>
    expect(Object.keys(proto)).toEqual(['__proto_'])
    expect(ext.decode(Uint8Array.from([0xa2, 0xc3, 0x28]))).toBe('\ufffd(')
    expect(ext.decode(Uint8Array.from([0x82, 0x01, 0x01, 0xa1, 0x31, 0x02]))).toEqual({ 1: 2 })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('extensions can be enabled explicitly', () => {
    const ext = msgpack({ extensions: true })
    const back = ext.decode(ext.encode(new Set([1, 2]))) as Set<number>
    expect(back).toBeInstanceOf(Set)
    expect(() => mp.decode(ext.encode(new Set([1])))).toThrow(/extension type/)
  })

  it('json round-trips and bounds depth', () => {
    const j = json()
    expect(j.decode(j.encode({ x: [1, 'a'] }))).toEqual({ x: [1, 'a'] })
    expect(() => j.decode(new TextEncoder().encode('['.repeat(100) + ']'.repeat(100)))).toThrow(/nesting/)
    expect(() => j.decode(new TextEncoder().encode('{"a":'))).toThrow()
  })

  it('raw passes bytes and copies on encode', () => {
    const src = new Uint8Array([1, 2, 3])
    const enc = raw.encode(src)
    src[0] = 9
    expect(Array.from(enc)).toEqual([1, 2, 3])
    expect(() => raw.encode('x' as unknown as Uint8Array)).toThrow(/Uint8Array/)
  })

  it('resolveCodec accepts names and custom codecs, rejects others', () => {
    expect(resolveCodec('json').name).toBe('json')
    const custom = { name: 'c', encode: () => new Uint8Array(), decode: () => 1 }
    expect(resolveCodec(custom)).toBe(custom)
    expect(() => resolveCodec('yaml' as 'json')).toThrow(/codec must be/)
  })
})
