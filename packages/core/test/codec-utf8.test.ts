import { describe, expect, it } from 'vitest'
import { msgpack } from '../src/codec.js'
import { createTransport } from '../src/mechanism/index.js'
import { memoryLinkPair } from './memory-link.js'
import { checkMsgpack } from '../src/msgpack-guard.js'
import { SHORT_STRING, isValidUtf8 } from '../src/msgpack-utf8.js'

const codec = msgpack()

/** A msgpack str holding exactly these bytes, with the header `kind` names. */
function str(bytes: number[], kind: 'fix' | 8 | 16 | 32 = bytes.length < 32 ? 'fix' : bytes.length < 256 ? 8 : bytes.length < 65536 ? 16 : 32): number[] {
  const n = bytes.length
  if (kind === 'fix') return [0xa0 | n, ...bytes]
  if (kind === 8) return [0xd9, n, ...bytes]
  if (kind === 16) return [0xda, n >> 8, n & 0xff, ...bytes]
  return [0xdb, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, ...bytes]
}

const ascii = (n: number): number[] => Array.from({ length: n }, (_, i) => 0x61 + (i % 26))

// not UTF-8: each must be refused wherever it stands in a string
const invalid: [string, number[]][] = [
  ['a lone continuation byte', [0x80]],
  ['a continuation byte after ASCII', [0x61, 0xbf]],
  ['overlong NUL (C0 80)', [0xc0, 0x80]],
  ['overlong (C1 BF)', [0xc1, 0xbf]],
  ['overlong 3-byte (E0 80 80)', [0xe0, 0x80, 0x80]],
  ['overlong 3-byte (E0 9F BF)', [0xe0, 0x9f, 0xbf]],
  ['overlong 4-byte (F0 80 80 80)', [0xf0, 0x80, 0x80, 0x80]],
  ['overlong 4-byte (F0 8F BF BF)', [0xf0, 0x8f, 0xbf, 0xbf]],
  ['a high surrogate (ED A0 80)', [0xed, 0xa0, 0x80]],
  ['a low surrogate (ED BF BF)', [0xed, 0xbf, 0xbf]],
  ['a surrogate pair in CESU-8', [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]],
  ['U+110000 (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80]],
  ['a lead byte F5', [0xf5, 0x80, 0x80, 0x80]],
  ['FE', [0xfe]],
  ['FF', [0xff]],
  ['a truncated 2-byte sequence', [0xc3]],
  ['a truncated 3-byte sequence', [0xe6, 0xbc]],
  ['a truncated 4-byte sequence', [0xf0, 0x9f, 0x98]],
  ['a sequence cut by ASCII', [0xe6, 0x61, 0xa2]],
  ['a 4-byte lead with one continuation', [0xf0, 0x9f, 0x61, 0x61]],
]

// valid: each must arrive exactly
const valid: [string, string][] = [
  ['é', 'é'],
  ['漢字', '漢字'],
  ['an emoji', '😀'],
  ['U+0080', '\u0080'],
  ['U+07FF', '\u07ff'],
  ['U+0800', '\u0800'],
  ['U+D7FF', '\ud7ff'],
  ['U+E000', '\ue000'],
  ['U+FFFD itself', '\ufffd'],
  ['U+FFFF', '\uffff'],
  ['U+10000', '\u{10000}'],
  ['U+10FFFF', '\u{10ffff}'],
  ['mixed', 'a é 漢 😀 z'],
]

describe('msgpack refuses strings that are not UTF-8', () => {
  it('as values, of every length class and header', () => {
    for (const [name, bad] of invalid) {
      for (const [before, after] of [
        [0, 0],
        [5, 0],
        [0, 7],
        [40, 40],
        [300, 5],
        [70_000, 3],
      ] as const) {
        const bytes = [...ascii(before), ...bad, ...ascii(after)]
        const kinds =
          bytes.length < 32
            ? (['fix', 8, 16, 32] as const)
            : bytes.length < 256
              ? ([8, 16, 32] as const)
              : bytes.length < 65536
                ? ([16, 32] as const)
                : ([32] as const)
        for (const kind of kinds) {
          const message = Uint8Array.from(str(bytes, kind))
          expect(() => codec.decode(message), `${name}, ${before}+${after} ASCII, str ${kind}`).toThrow(/^invalid msgpack: a string that is not valid UTF-8$/)
        }
      }
    }
  })

  it('as map keys, as values inside maps and arrays, and in Maps', () => {
    for (const [name, bad] of invalid) {
      const cases: [string, number[]][] = [
        ['key', [0x81, ...str(bad), 0x01]],
        ['second key', [0x82, ...str([0x61]), 0x01, ...str([0x62, ...bad]), 0x02]],
        ['long key', [0x81, ...str([...ascii(SHORT_STRING), ...bad]), 0x01]],
        ['value in a map', [0x81, ...str([0x61]), ...str(bad)]],
        ['in an array', [0x92, 0x01, ...str(bad)]],
        ['key of a map with a non-string key', [0x82, 0x01, 0x01, ...str(bad), 0x02]],
        ['value next to a __proto__ key', [0x82, ...str([...new TextEncoder().encode('__proto__')]), 0x01, ...str([0x61]), ...str(bad)]],
      ]
      for (const [where, bytes] of cases) {
        expect(() => codec.decode(Uint8Array.from(bytes)), `${name} as ${where}`).toThrow(/^invalid msgpack: a string that is not valid UTF-8$/)
      }
    }
  })

  it('a transport receiving one closes that connection only, with ERR_IPC_DECODE', async () => {
    const [a, b] = memoryLinkPair()
    const [c, d] = memoryLinkPair()
    const badSender = createTransport(a, { codec: 'raw' })
    const victim = createTransport(b)
    const goodSender = createTransport(c)
    const bystander = createTransport(d)
    await badSender.send(Uint8Array.from(str([0x61, 0xed, 0xa0, 0x80])))
    const info = await victim.closed
    expect(info.reason).toBe('error')
    expect(info.error?.code).toBe('ERR_IPC_DECODE')
    expect(info.error?.message).toMatch(/invalid msgpack: a string that is not valid UTF-8/)
    await goodSender.send({ text: 'é漢😀' })
    expect(await bystander.receive()).toEqual({ text: 'é漢😀' })
    await Promise.all([badSender.close(), goodSender.close(), bystander.close()])
  })

  it('checkMsgpack names the problem', () => {
    const bytes = Uint8Array.from(str([0xed, 0xa0, 0x80]))
    expect(checkMsgpack(bytes, 0, bytes.length, 64, false)).toBe('a string that is not valid UTF-8')
  })
})

describe('msgpack passes valid non-ASCII strings exactly', () => {
  it('as values and keys, short and long, in objects and Maps', () => {
    for (const [name, text] of valid) {
      for (const pad of [0, 20, SHORT_STRING, 70_000]) {
        const s = 'x'.repeat(pad) + text + 'y'.repeat(pad % 7)
        expect(codec.decode(codec.encode(s)), `${name} + ${pad}`).toBe(s)
        const asKey = codec.decode(codec.encode({ [s]: s, k: [s] })) as Record<string, unknown>
        expect(Object.keys(asKey), `${name} + ${pad} as key`).toEqual([s, 'k'])
        expect(asKey[s]).toBe(s)
        // in a map with a non-string key (a Map)
        const map = codec.decode(
          codec.encode(
            new Map<unknown, unknown>([
              [1, s],
              [s, 2],
            ]),
          ),
        ) as Map<unknown, unknown>
        expect([...map], `${name} + ${pad} in a Map`).toEqual([
          [1, s],
          [s, 2],
        ])
      }
    }
  })

  it('hand-built bytes decode to the code points they spell', () => {
    const cases: [number[], string][] = [
      [[0xc3, 0xa9], 'é'],
      [[0xe6, 0xbc, 0xa2], '漢'],
      [[0xf0, 0x9f, 0x98, 0x80], '😀'],
      [[0xf4, 0x8f, 0xbf, 0xbf], '\u{10ffff}'],
      [[0xed, 0x9f, 0xbf], '\ud7ff'],
      [[0xef, 0xbf, 0xbd], '\ufffd'],
    ]
    for (const [bytes, text] of cases) {
      expect(codec.decode(Uint8Array.from(str(bytes)))).toBe(text)
      expect(codec.decode(Uint8Array.from(str(bytes, 32)))).toBe(text)
    }
  })
})

describe('isValidUtf8', () => {
  const reference = new TextDecoder('utf-8', { fatal: true })
  const isUtf8Reference = (bytes: Uint8Array): boolean => {
    try {
      reference.decode(bytes)
      return true
    } catch {
      return false
    }
  }

  it('agrees with a fatal TextDecoder on random and near-valid bytes, short and long', () => {
    let seed = 12345
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed % n
    }
    const pieces = [
      [0x61],
      [0xc3, 0xa9],
      [0xe6, 0xbc, 0xa2],
      [0xf0, 0x9f, 0x98, 0x80],
      [0x80],
      [0xc0],
      [0xed, 0xa0],
      [0xf4, 0x90],
      [0xff],
      [0xe0, 0x9f],
      [0xf0],
    ]
    for (let round = 0; round < 20_000; round++) {
      const bytes: number[] = []
      const length = rand(4) === 0 ? SHORT_STRING + rand(40) : rand(12)
      while (bytes.length < length) {
        if (rand(3) === 0) bytes.push(rand(256))
        else bytes.push(...pieces[rand(rand(5) === 0 ? pieces.length : 4)]!)
      }
      const array = Uint8Array.from([0x20, ...bytes, 0x20])
      expect(isValidUtf8(array, 1, array.length - 1), Buffer.from(bytes).toString('hex')).toBe(isUtf8Reference(array.subarray(1, -1)))
    }
  })
})
