import { describe, expect, it } from 'vitest'
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
