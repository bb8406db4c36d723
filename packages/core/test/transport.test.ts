import { describe, expect, it } from 'vitest'
import { createTransport } from '../src/mechanism/index.js'
import { isIpcError, type StandardSchemaV1 } from '../src/index.js'
import { memoryLinkPair } from './memory-link.js'

describe('transport logic', () => {
  it('batches everything queued in one tick into one link write', async () => {
    const [a, b] = memoryLinkPair()
    const tx = createTransport(a)
    const rx = createTransport(b)
    for (let i = 0; i < 1000; i++) void tx.send({ i })
    for (let i = 0; i < 1000; i++) expect(await rx.receive()).toEqual({ i })
    expect((a as unknown as { writes: number }).writes).toBe(1)
    expect(tx.stats).toMatchObject({ messagesOut: 1000, queuedMessages: 0 })
    expect(rx.stats).toMatchObject({ messagesIn: 1000, bufferedMessages: 0 })
  })

  it('send() waits beyond highWaterMark and honours its AbortSignal', async () => {
    const [a] = memoryLinkPair()
    ;(a as { write: unknown }).write = () => false // a link that never drains
    const tx = createTransport(a, { highWaterMark: 1000 })
    // both are accepted (the queue was under the mark each time); the link takes them and reports full
    for (let k = 0; k < 2; k++) await tx.send(new Uint8Array(600))
    await new Promise((r) => setImmediate(r))
    expect(tx.stats.queuedBytes).toBe(2 * (4 + 603)) // prefix + msgpack bin16 header + bytes, held by the link
    const ac = new AbortController()
    const waiting = tx.send(new Uint8Array(10), { signal: ac.signal })
    const timed = tx.send(new Uint8Array(10), { timeout: 5 })
    expect(isIpcError(await timed.catch((e) => e), 'ERR_IPC_TIMEOUT')).toBe(true)
    ac.abort()
    expect(isIpcError(await waiting.catch((e) => e), 'ERR_IPC_ABORTED')).toBe(true)
  })

  it('checks async Standard Schema validators in order', async () => {
    const schema: StandardSchemaV1<unknown, { n: number }> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async (v) => {
          await new Promise((r) => setTimeout(r, (v as { n: number }).n % 3))
          return typeof (v as { n?: unknown }).n === 'number' ? { value: v as { n: number } } : { issues: [{ message: 'n' }] }
        },
      },
    }
    const [a, b] = memoryLinkPair()
    const tx = createTransport(a)
    const rx = createTransport(b, { schema })
    for (let n = 0; n < 20; n++) void tx.send({ n })
    void tx.send({ n: 'bad' })
    for (let n = 0; n < 20; n++) expect(await rx.receive()).toEqual({ n })
    const info = await rx.closed
    expect(info.reason).toBe('error')
    expect(info.error?.code).toBe('ERR_IPC_DECODE')
  })

  it('rejects bad options with ERR_IPC_INVALID_ARGUMENT', () => {
    const [a] = memoryLinkPair()
    expect(() => createTransport(a, { maxMessageSize: 2 ** 31 })).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ARGUMENT' }))
    expect(() => createTransport(a, { highWaterMark: 0 })).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ARGUMENT' }))
    expect(() => createTransport(a, { schema: {} as never })).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ARGUMENT' }))
  })
})

describe('priority lanes', () => {
  it('keeps order within each priority and rejects priorities the link lacks', async () => {
    const [a, b] = memoryLinkPair()
    ;(a as { lanes?: number }).lanes = 4
    ;(b as { lanes?: number }).lanes = 4
    // the memory link passes the lane through, as a queue with priorities would
    const lanesSeen: number[] = []
    ;(a as { write: unknown }).write = (chunks: Uint8Array[], lane = 0) => {
      lanesSeen.push(lane)
      const copy = chunks.map((c) => c.slice())
      queueMicrotask(() => {
        for (const c of copy) (b as unknown as { events: { data(c: Uint8Array, l: number): void } }).events.data(c, lane)
      })
      return true
    }
    const tx = createTransport(a)
    const rx = createTransport(b)
    for (let i = 0; i < 30; i++) void tx.send({ i, p: i % 3 }, { priority: i % 3 })
    const got: { i: number; p: number }[] = []
    for (let i = 0; i < 30; i++) got.push((await rx.receive()) as { i: number; p: number })
    expect(lanesSeen).toEqual([2, 1, 0]) // one batch per lane, highest first
    expect(got.slice(0, 10).every((m) => m.p === 2)).toBe(true)
    for (const p of [0, 1, 2]) {
      const ids = got.filter((m) => m.p === p).map((m) => m.i)
      expect(ids).toEqual([...ids].sort((x, y) => x - y))
    }
    expect(isIpcError(await tx.send({}, { priority: 4 }).catch((e) => e), 'ERR_IPC_INVALID_ARGUMENT')).toBe(true)
    const [c] = memoryLinkPair()
    expect(
      isIpcError(
        await createTransport(c)
          .send({}, { priority: 1 })
          .catch((e) => e),
        'ERR_IPC_INVALID_ARGUMENT',
      ),
    ).toBe(true)
  })

  it('trySend() queues at once or refuses, and throws coded errors for what send() rejects', async () => {
    const [a] = memoryLinkPair()
    ;(a as { write: unknown }).write = () => false // a link that never drains
    const tx = createTransport(a, { highWaterMark: 1000, maxMessageSize: 2000 })
    expect(() => tx.trySend({ s: Symbol('x') })).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ARGUMENT' }))
    expect(() => tx.trySend(new Uint8Array(3000))).toThrow(expect.objectContaining({ code: 'ERR_IPC_MESSAGE_TOO_LARGE' }))
    expect(tx.trySend(new Uint8Array(600))).toBe(true)
    expect(tx.trySend(new Uint8Array(600))).toBe(true) // the queue was under the mark
    expect(tx.trySend(new Uint8Array(600))).toBe(false)
    expect(tx.stats.messagesOut).toBe(2)
    await new Promise((r) => setImmediate(r))
    expect(tx.trySend(new Uint8Array(10))).toBe(false) // the link holds them and reports full
    expect(tx.stats.messagesOut).toBe(2)
    void tx.close()
    expect(tx.trySend(new Uint8Array(10))).toBe(false) // closing: refused, no throw
  })
})
