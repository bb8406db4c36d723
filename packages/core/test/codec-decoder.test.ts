import { Packr, Unpackr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { msgpack } from '../src/codec.js'
import { decodeMsgpack } from '../src/msgpack-decode.js'
import { checkMsgpack } from '../src/msgpack-guard.js'

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, bundleStrings: false, variableMapSize: true })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, structuredClone: false, bundleStrings: false })
const codec = msgpack()

/** A small deterministic random source. */
function random(seed: number): (n: number) => number {
  return (n) => {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0
    return seed % n
  }
}

/**
 * Where `a` and `b` differ (prototypes, own keys in order, holes, values; NaN dates are equal), or
 * undefined. Not toStrictEqual: it compares `.constructor`, which these values have as own keys.
 */
function difference(a: any, b: any, path = '$'): string | undefined {
  if (Object.is(a, b)) return undefined
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return `${path}: ${String(a)} vs ${String(b)}`
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return `${path}: another prototype`
  if (a instanceof Date) return Object.is(a.getTime(), b.getTime()) ? undefined : `${path}: another time`
  if (a instanceof Map) return difference([...a], [...b], path)
  const keysA = Reflect.ownKeys(a)
  const keysB = Reflect.ownKeys(b)
  if (keysA.join() !== keysB.join()) return `${path}: keys ${keysA.join()} vs ${keysB.join()}`
  for (const k of keysA) {
    const d = difference(a[k], b[k], `${path}.${String(k)}`)
    if (d !== undefined) return d
  }
  return undefined
}

const keyPool = ['a', 'b', 'id', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '0', '1', '10', 'é', '漢字', '😀', 'k'.repeat(40), 'z'.repeat(300)]

/** A random value msgpackr decodes exactly as it was sent (string keys only, no __proto__). */
function value(rand: (n: number) => number, depth: number): unknown {
  const kind = rand(depth > 3 ? 9 : 12)
  switch (kind) {
    case 0:
      return rand(2 ** 31) - 2 ** 30
    case 1:
      return [0, -1, 127, 128, 255, 256, 65_535, 65_536, -32, -33, -128, -129, 2 ** 32, -(2 ** 31) - 1][rand(14)]
    case 2:
      return rand(1000) / 7
    case 3:
      return [null, true, false, undefined][rand(4)]
    case 4:
      return 2n ** BigInt(rand(63)) * (rand(2) ? 1n : -1n)
    case 5:
      return keyPool[rand(keyPool.length)]! + 'x'.repeat(rand(3) * 100)
    case 6:
      return new Uint8Array(rand(3) === 0 ? 300 : rand(5)).map((_, i) => i * 13)
    case 7:
      return new Date([0, 1_700_000_000_000, 1_700_000_000_123, -1000, 2 ** 40 * 1000][rand(5)]!)
    case 8:
      return new Date(NaN)
    case 9:
    case 10:
      return Array.from({ length: rand(6) }, () => value(rand, depth + 1))
    default: {
      const object: Record<string, unknown> = {}
      const n = rand(5) === 0 ? 30 + rand(40) : rand(6)
      for (let i = 0; i < n; i++) object[i < 4 ? keyPool[rand(keyPool.length)]! : `key${i}`] = value(rand, depth + 1)
      return object
    }
  }
}

describe('the decoder', () => {
  it('gives what msgpackr gives for every message msgpackr decodes exactly', () => {
    const rand = random(7)
    for (let round = 0; round < 3000; round++) {
      const bytes = packr.pack(value(rand, 0))
      // transports hand over Buffers (bin values then are Buffers too); other callers Uint8Arrays
      const copy = round % 2 === 0 ? new Uint8Array(bytes.length + 4) : Buffer.alloc(bytes.length + 4)
      copy.set(bytes, 2)
      const expected = unpackr.unpack(copy, { start: 2, end: 2 + bytes.length })
      expect(difference(decodeMsgpack(copy, 2, 2 + bytes.length, 64), expected)).toBeUndefined()
      expect(difference(codec.decodeRange!(copy, 2, 2 + bytes.length), expected)).toBeUndefined()
    }
  })

  it('reads nothing outside its range', () => {
    const bytes = packr.pack({ a: 1, b: 'text', c: [1.5, new Uint8Array(3)] })
    const inside = new Uint8Array(bytes.length + 2).fill(0xc1)
    inside.set(bytes, 1)
    expect(codec.decodeRange!(inside, 1, 1 + bytes.length)).toEqual(codec.decode(Uint8Array.from(bytes)))
    for (let cut = 0; cut < bytes.length; cut++) {
      // the same bytes cut short, followed by bytes that would complete them
      const frame = Uint8Array.from([...bytes.subarray(0, cut), ...bytes.subarray(cut)])
      expect(() => decodeMsgpack(frame, 0, cut, 64), `cut at ${cut}`).toThrow(/^invalid msgpack: /)
    }
  })

  it('refuses what checkMsgpack refuses, on random damage to valid messages', () => {
    // flip, insert and delete bytes of valid messages; the decoder must refuse every message the
    // structural check refuses, accept what it accepts unless a map holds a key twice, and stay
    // within the message (any read outside it would surface as a thrown TypeError or a wrong value)
    const rand = random(2024)
    let refused = 0
    for (let round = 0; round < 20_000; round++) {
      const bytes = Array.from(packr.pack(value(rand, 2)))
      for (let k = rand(3) + 1; k > 0; k--) {
        const at = rand(bytes.length + 1)
        const edit = rand(3)
        if (edit === 0 && at < bytes.length) bytes[at] = rand(256)
        else if (edit === 1) bytes.splice(at, 0, rand(256))
        else bytes.splice(at, 1)
      }
      const message = Uint8Array.from(bytes)
      const problem = checkMsgpack(message, 0, message.length, 64, false)
      let error: Error | undefined
      try {
        decodeMsgpack(message, 0, message.length, 64)
      } catch (err) {
        error = err as Error
      }
      const hex = Buffer.from(message).toString('hex')
      if (problem !== undefined) {
        refused++
        expect(error?.message, hex).toMatch(/^invalid msgpack: /)
      } else if (error !== undefined) expect(error.message, hex).toMatch(/^invalid msgpack: .*appears twice$/)
    }
    expect(refused).toBeGreaterThan(5000)
  })
})

describe('the decoder refuses repeated keys', () => {
  it('finds them exactly where they are, at any nesting', () => {
    // random nested maps of small string keys, some with a repeat
    const rand = random(99)
    // keys with either header: one key is one key however it is spelled
    const encodeKey = (k: string): number[] => (rand(4) === 0 ? [0xd9, k.length] : [0xa0 | k.length]).concat(...new TextEncoder().encode(k))
    const build = (depth: number, out: number[]): boolean => {
      // returns whether a repeated key was written
      const n = rand(depth > 2 ? 4 : 7)
      const keys = Array.from({ length: n }, () => 'abcdefgh'[rand(rand(3) === 0 ? 3 : 8)]!)
      out.push(0x80 | n)
      let repeated = new Set(keys).size !== keys.length
      for (const k of keys) {
        out.push(...encodeKey(k))
        if (depth < 4 && rand(3) === 0) repeated = build(depth + 1, out) || repeated
        else if (rand(4) === 0) {
          out.push(0x92)
          repeated = build(depth + 1, out) || repeated
          repeated = build(depth + 1, out) || repeated
        } else out.push(rand(100))
      }
      return repeated
    }
    let refused = 0
    for (let round = 0; round < 3000; round++) {
      const out: number[] = []
      const repeated = build(0, out)
      const bytes = Uint8Array.from(out)
      if (repeated) {
        refused++
        expect(() => codec.decode(bytes), Buffer.from(bytes).toString('hex')).toThrow(/appears twice/)
      } else {
        expect(difference(codec.decode(bytes), unpackr.unpack(bytes))).toBeUndefined()
      }
    }
    expect(refused).toBeGreaterThan(300)
    expect(refused).toBeLessThan(2700)
  })
})
