import { describe, expect, it } from 'vitest'
import { msgpack } from '../src/codec.js'
import { Outbox } from '../src/outbox.js'

describe('outbox memory', () => {
  it('reserves nothing until a frame is queued, starts with a 16 KiB slab and grows while busy', () => {
    const outbox = new Outbox()
    expect(outbox.reservedBytes).toBe(0)
    outbox.add(new Uint8Array(100))
    expect(outbox.reservedBytes).toBe(16 * 1024)
    for (let k = 0; k < 400; k++) outbox.add(new Uint8Array(1000))
    expect(outbox.reservedBytes).toBe(256 * 1024)
    outbox.take()
  })

  it('gives its slab back after a whole idle sweep period, never while frames are queued', () => {
    const outbox = new Outbox()
    outbox.add(new Uint8Array(100))
    outbox.releaseIfIdle() // used since the last sweep: kept
    expect(outbox.reservedBytes).toBe(16 * 1024)
    outbox.releaseIfIdle() // still queued: kept
    expect(outbox.reservedBytes).toBe(16 * 1024)
    const chunks = outbox.take()
    outbox.releaseIfIdle()
    expect(outbox.reservedBytes).toBe(0)
    expect(chunks.reduce((n, c) => n + c.length, 0)).toBe(104) // what was handed out stays valid
  })
})

describe('outbox: messages encoded straight into the slab', () => {
  const codec = msgpack()
  const encodeInto = codec.encodeInto!
  const frames = (chunks: Uint8Array[]): unknown[] => {
    const all = Buffer.concat(chunks)
    const out: unknown[] = []
    for (let at = 0; at < all.length; ) {
      const size = all.readUInt32LE(at)
      out.push(codec.decode(all.subarray(at + 4, at + 4 + size)))
      at += 4 + size
    }
    return out
  }

  it('has no slab to write into before the first frame, then fills it in place, falling back when a message does not fit', () => {
    const outbox = new Outbox()
    expect(outbox.addEncoded(encodeInto, { a: 1 }, 1 << 20)).toBe(-1) // no slab yet
    outbox.add(codec.encode({ first: true }))
    const sent: unknown[] = [{ first: true }]
    let inPlace = 0
    let fellBack = 0
    for (let i = 0; i < 2000; i++) {
      const value = { i, data: new Uint8Array((i * 37) % 3000).fill(i & 0xff) }
      if (outbox.addEncoded(encodeInto, value, 1 << 20) >= 0) inPlace++
      else {
        fellBack++
        outbox.add(codec.encode(value)) // what the send queue does then
      }
      sent.push(value)
    }
    expect(inPlace).toBeGreaterThan(1500)
    expect(fellBack).toBeGreaterThan(0) // slabs ran out
    const got = frames(outbox.take()) as { i: number; data: Uint8Array }[]
    expect(got.length).toBe(sent.length)
    for (let k = 1; k < got.length; k++) {
      const want = sent[k] as { i: number; data: Uint8Array }
      expect(got[k]!.i).toBe(want.i)
      expect(Buffer.from(got[k]!.data).equals(Buffer.from(want.data))).toBe(true)
    }
  })

  it('returns a size above the limit without queueing the message', () => {
    const outbox = new Outbox()
    outbox.add(codec.encode(0))
    const before = outbox.bytes
    expect(outbox.addEncoded(encodeInto, { data: new Uint8Array(500) }, 100)).toBeGreaterThan(100)
    expect(outbox.bytes).toBe(before)
    expect(frames(outbox.take())).toEqual([0])
  })

  it('a refused message throws and queues nothing', () => {
    const outbox = new Outbox()
    outbox.add(codec.encode(0))
    expect(() => outbox.addEncoded(encodeInto, { s: new Set([1]) }, 1 << 20)).toThrow(/Set at s/)
    expect(frames(outbox.take())).toEqual([0])
  })
})
