import { describe, expect, it } from 'vitest'
import { encodeErrors } from './codec-helpers.js'
import { isIpcError, msgpack } from '../src/index.js'

describe('msgpack refuses values it would change or leak', () => {
  const codec = msgpack()
  it('typed arrays other than Uint8Array, Set, Error, RegExp, ArrayBuffer and functions are ERR_IPC_INVALID_ARGUMENT naming where they are', () => {
    const cases: [unknown, RegExp][] = [
      [{ samples: new Float64Array([1.5, 2.5]) }, /Float64Array at samples/],
      [[1, { deep: new Int16Array(4) }], /Int16Array at \[1\]\.deep/],
      [new DataView(new ArrayBuffer(8)), /DataView at the top/],
      [{ raw: new ArrayBuffer(4) }, /ArrayBuffer at raw/],
      [{ tags: new Set(['a']) }, /Set at tags/],
      [{ err: new Error('x') }, /Error at err/],
      [{ re: /a+/ }, /RegExp at re/],
      [{ fn: () => 1 }, /function at fn/],
      [new Map([[1, new Uint16Array(2)]]), /Uint16Array at <value>/],
    ]
    for (const [value, where] of cases) {
      for (const error of encodeErrors(codec, value)) {
        expect(isIpcError(error, 'ERR_IPC_INVALID_ARGUMENT'), String(error)).toBe(true)
        expect((error as Error).message).toMatch(where)
      }
    }
  })

  it('a Float64Array would have leaked stale bytes: its bytes as a Uint8Array view travel exactly', () => {
    const floats = new Float64Array([Math.PI, -1e300, 7])
    const view = new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength)
    const back = codec.decode(codec.encode({ view })) as { view: Uint8Array }
    expect(new Float64Array(Uint8Array.prototype.slice.call(back.view).buffer)).toEqual(floats)
  })

  it('plain values, Buffers, Dates, Maps and class instances still encode', () => {
    class Point {
      constructor(
        public x: number,
        public y: number,
      ) {}
    }
    const value = { b: Buffer.from('hi'), d: new Date(0), m: new Map([[1, 'a']]), p: new Point(1, 2), u: undefined, n: null }
    const back = codec.decode(codec.encode(value)) as Record<string, unknown>
    expect(back.p).toEqual({ x: 1, y: 2 })
    expect(back.m).toEqual(new Map([[1, 'a']]))
  })
})
