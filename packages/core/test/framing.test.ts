import { describe, expect, it } from 'vitest'
import { isIpcError } from '../src/index.js'
import { FrameDecoder } from '../src/framing.js'
import { Outbox, cutIntoUnits } from '../src/outbox.js'

function frames(max: number) {
  const out: Uint8Array[] = []
  return { out, decoder: new FrameDecoder(max, (b, s, e) => out.push(b.slice(s, e))) }
}

function join(chunks: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks))
}

describe('framing', () => {
  it('round-trips frames of many sizes through the outbox and decoder, byte by byte and whole', () => {
    const sizes = [0, 1, 3, 4, 5, 100, 16 * 1024 - 1, 16 * 1024, 70_000, 300_000]
    const ob = new Outbox()
    const payloads = sizes.map((n, i) => Uint8Array.from({ length: n }, (_, j) => (i * 31 + j) & 0xff))
    for (const p of payloads) ob.add(p)
    expect(ob.frames).toBe(sizes.length)
    const stream = join(ob.take())
    expect(ob.frames).toBe(0)
    expect(stream.length).toBe(sizes.reduce((a, n) => a + n + 4, 0))
    const whole = frames(1 << 20)
    whole.decoder.push(stream)
    expect(whole.out.map((f, i) => Buffer.compare(f, payloads[i]!))).toEqual(payloads.map(() => 0))
    const bytewise = frames(1 << 20)
    for (let i = 0; i < stream.length; i += 7) bytewise.decoder.push(stream.subarray(i, i + 7))
    expect(bytewise.out.map((f, i) => Buffer.compare(f, payloads[i]!))).toEqual(payloads.map(() => 0))
    expect(bytewise.decoder.midFrame).toBe(false)
  })

  it('rejects an oversize length prefix before allocating', () => {
    const { decoder, out } = frames(1024)
    const before = process.memoryUsage().arrayBuffers
    let err: unknown
    try {
      decoder.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 2, 3))
    } catch (e) {
      err = e
    }
    expect(isIpcError(err, 'ERR_IPC_MESSAGE_TOO_LARGE')).toBe(true)
    expect(out).toHaveLength(0)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20)
  })

  it('reports a partial frame as midFrame', () => {
    const { decoder } = frames(1024)
    decoder.push(Uint8Array.of(10, 0, 0, 0, 1, 2))
    expect(decoder.midFrame).toBe(true)
  })

  it('cuts a stream into units no larger than maxUnit, preserving bytes', () => {
    const chunks = [new Uint8Array(10).fill(1), new Uint8Array(25).fill(2), new Uint8Array(3).fill(3)]
    const units = cutIntoUnits(chunks, 8)
    expect(units.every((u) => u.length <= 8)).toBe(true)
    expect(units.slice(0, -1).every((u) => u.length === 8)).toBe(true)
    expect(Buffer.compare(join(units), join(chunks))).toBe(0)
  })
})
