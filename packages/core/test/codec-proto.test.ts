import { afterEach, describe, expect, it } from 'vitest'
import { json, msgpack } from '../src/codec.js'

/** msgpack bytes from numbers (single bytes) and strings (their UTF-8 bytes, no header). */
function mp(...parts: (number | string)[]): Uint8Array {
  const out: number[] = []
  for (const p of parts) {
    if (typeof p === 'number') out.push(p)
    else out.push(...new TextEncoder().encode(p))
  }
  return Uint8Array.from(out)
}

const protoNames = Object.getOwnPropertyNames(Object.prototype).sort()

/** Object.prototype has exactly its usual properties and none was replaced. */
function expectPrototypeUntouched(): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoNames)
  expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  expect(Object.getPrototypeOf({})).toBe(Object.prototype)
  expect({}.constructor).toBe(Object)
}

/** An own, enumerable, writable, configurable data property holding `value`. */
function expectOwn(object: object, key: string, value: unknown): void {
  expect(Object.getOwnPropertyDescriptor(object, key)).toEqual({ value, writable: true, enumerable: true, configurable: true })
}

/** A value holding the dangerous keys as own properties, nested and inside arrays (JSON.parse defines them). */
function dangerous(): Record<string, unknown> {
  return JSON.parse(
    '{"__proto__": {"polluted": true, "__proto__": {"deeper": 1}}, "constructor": {"prototype": {"polluted": 2}},' +
      ' "prototype": [1, {"__proto__": "in an array"}, [{"constructor": "x", "prototype": null}]], "a": 1}',
  )
}

describe('msgpack keeps __proto__, constructor and prototype keys as own properties', () => {
  const codec = msgpack()
  afterEach(expectPrototypeUntouched)

  it('a __proto__ key arrives with its value, and the prototype stays Object.prototype', () => {
    // { "__proto__": { "polluted": true } } (msgpackr alone renamed the key to "__proto_")
    const value = codec.decode(mp(0x81, 0xa9, '__proto__', 0x81, 0xa8, 'polluted', 0xc3)) as Record<string, unknown>
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
    expect(Object.keys(value)).toEqual(['__proto__'])
    expectOwn(value, '__proto__', { polluted: true })
    expect(Object.getPrototypeOf(value.__proto__)).toBe(Object.prototype)
    expect((value as { polluted?: unknown }).polluted).toBeUndefined()
    expect('__proto_' in value).toBe(false)
  })

  it('a __proto__ key holding a scalar, and spelled with a longer string header', () => {
    expectOwn(codec.decode(mp(0x81, 0xa9, '__proto__', 0x07)) as object, '__proto__', 7)
    expectOwn(codec.decode(mp(0x81, 0xd9, 0x09, '__proto__', 0xc0)) as object, '__proto__', null)
    expectOwn(codec.decode(mp(0x81, 0xda, 0x00, 0x09, '__proto__', 0xa1, 'x')) as object, '__proto__', 'x')
  })

  it('constructor and prototype keys arrive as own properties, in order', () => {
    const value = codec.decode(mp(0x83, 0xab, 'constructor', 0x01, 0xa9, 'prototype', 0x02, 0xa9, '__proto__', 0x03)) as Record<string, unknown>
    expect(Object.keys(value)).toEqual(['constructor', 'prototype', '__proto__'])
    expectOwn(value, 'constructor', 1)
    expectOwn(value, 'prototype', 2)
    expectOwn(value, '__proto__', 3)
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
  })

  it('nested and inside arrays, through encode/decode and encodeShared/decodeRange', () => {
    const value = dangerous()
    const check = (back: any): void => {
      expect(JSON.stringify(back)).toBe(JSON.stringify(value))
      expectOwn(back, '__proto__', back.__proto__)
      expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
      expect(back.__proto__.polluted).toBe(true)
      expect(Object.getOwnPropertyDescriptor(back.__proto__, '__proto__')?.value).toEqual({ deeper: 1 })
      expect(back.constructor.prototype.polluted).toBe(2)
      expect(Object.getOwnPropertyDescriptor(back.prototype[1], '__proto__')?.value).toBe('in an array')
      expect(back.prototype[2][0]).toEqual({ constructor: 'x', prototype: null })
      expect(Object.hasOwn(back.prototype[2][0], 'constructor')).toBe(true)
    }
    check(codec.decode(codec.encode(value)))
    const shared = codec.encodeShared!(value)
    const frame = new Uint8Array(shared.end - shared.start + 7).fill(0xc1) // other bytes around the message
    frame.set(shared.subarray(shared.start, shared.end), 3)
    check(codec.decodeRange!(frame, 3, 3 + shared.end - shared.start))
    // and a decoded value can be sent on as it is
    check(codec.decode(codec.encode(codec.decode(codec.encode(value)))))
  })

  it('encoding writes an own __proto__ key, and never reads the prototype as one', () => {
    const own = JSON.parse('{"__proto__": 5}') as object
    // 0x81: a fixmap of one entry, then the key "__proto__" and 5
    expect(Array.from(codec.encode(own))).toEqual(Array.from(mp(0x81, 0xa9, '__proto__', 0x05)))
    expect(Array.from(codec.encode({}))).toEqual([0x80])
    expect(Array.from(codec.encode(Object.create({ inherited: 1 })))).toEqual([0x80])
  })

  it('in a map with a non-string key, __proto__ is an ordinary Map key', () => {
    const value = codec.decode(mp(0x82, 0xa9, '__proto__', 0x81, 0xa8, 'polluted', 0xc3, 0x01, 0x02)) as Map<unknown, unknown>
    expect(value).toBeInstanceOf(Map)
    expect([...value.keys()]).toEqual(['__proto__', 1])
    expect(value.get('__proto__')).toEqual({ polluted: true })
  })
})

describe('json keeps __proto__, constructor and prototype keys as own properties', () => {
  const codec = json()
  afterEach(expectPrototypeUntouched)

  it('decodes them as own properties', () => {
    const value = codec.decode(new TextEncoder().encode('{"__proto__": {"polluted": true}, "constructor": 1, "prototype": [{"__proto__": 2}]}')) as any
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
    expectOwn(value, '__proto__', { polluted: true })
    expectOwn(value, 'constructor', 1)
    expectOwn(value.prototype[0], '__proto__', 2)
    expect(value.polluted).toBeUndefined()
  })

  it('round-trips them, nested and inside arrays', () => {
    const value = dangerous()
    const text = new TextDecoder().decode(codec.encode(value))
    expect(text).toContain('"__proto__":{"polluted":true')
    const back = codec.decode(codec.encode(value)) as any
    expect(JSON.stringify(back)).toBe(JSON.stringify(value))
    expectOwn(back, '__proto__', back.__proto__)
    expect(Object.getOwnPropertyDescriptor(back.prototype[1], '__proto__')?.value).toBe('in an array')
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
  })
})
