import { type Transport, isIpcError, memoryPair } from '@ipc/core'
import { describe, expect, it } from 'vitest'
import { type Publisher, type SlowPolicy, type Subscriber, publisher, subscriber } from '../src/index.js'
import { P } from '../src/pubsub-wire.js'

/** A subscriber attached to `pub` over an in-memory pair. */
function pair<T>(pub: Publisher<T>, patterns: string | string[], options: Parameters<typeof subscriber>[2] = {}, hwm = 64 * 1024): Subscriber<T> {
  const [a, b] = memoryPair({ highWaterMark: hwm })
  pub.attach(a)
  return subscriber<T>(b, patterns, options)
}

describe('publish/subscribe over the in-memory link', () => {
  it('delivers by topic, with wildcards, to each matching subscriber once, in order', async () => {
    const pub = await publisher<number>(undefined)
    const eu = pair(pub, 'orders.eu.*')
    const all = pair(pub, ['orders.>', 'orders.*.created'])
    await Promise.all([eu.ready, all.ready])
    expect(pub.subscribers).toBe(2)
    for (let i = 0; i < 100; i++) await pub.publish(i % 2 === 0 ? 'orders.eu.created' : 'orders.us.created', i)
    await pub.publish('billing.eu.created', -1) // nobody
    const got: number[] = []
    for (let i = 0; i < 50; i++) got.push((await eu.receive()).message)
    expect(got).toEqual([...Array(50)].map((_, k) => 2 * k))
    for (let i = 0; i < 100; i++)
      expect(await all.receive()).toEqual({ topic: i % 2 === 0 ? 'orders.eu.created' : 'orders.us.created', message: i, dropped: 0 })
    await all.unsubscribe(['orders.>', 'orders.*.created'])
    await all.subscribe('billing.>')
    await pub.publish('orders.eu.created', 100)
    await pub.publish('billing.x', 101)
    expect((await all.receive()).message).toBe(101)
    expect((await eu.receive()).message).toBe(100)
    expect(pub.stats).toMatchObject({ subscribers: 2, published: 103, delivered: 50 + 100 + 1 + 1, dropped: 0 })
    await pub.close()
    // a publisher's close ends the iteration cleanly
    const rest: unknown[] = []
    for await (const d of eu) rest.push(d)
    expect(rest).toEqual([])
    await expect(all.receive()).rejects.toMatchObject({ code: 'ERR_IPC_CLOSED' })
  })

  it('rejects bad topics and patterns with ERR_IPC_INVALID_ARGUMENT', async () => {
    const pub = await publisher(undefined)
    await expect(pub.publish('a.*', 1)).rejects.toMatchObject({ code: 'ERR_IPC_INVALID_ARGUMENT' })
    await expect(pub.publish('', 1)).rejects.toMatchObject({ code: 'ERR_IPC_INVALID_ARGUMENT' })
    expect(() => subscriber(memoryPair()[1], 'a.>.b')).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ARGUMENT' }))
    expect(() => subscriber(memoryPair()[1], 'a', { slow: 'never' as SlowPolicy })).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ARGUMENT' }))
    await expect(publisher(undefined, { limit: 0 })).rejects.toMatchObject({ code: 'ERR_IPC_INVALID_ARGUMENT' })
    await pub.close()
  })

  for (const slow of ['drop-oldest', 'drop-newest'] as const) {
    it(`${slow}: a subscriber that stops reading loses messages, counted and reported with the next one; the others lose nothing; memory stays bounded`, async () => {
      const pub = await publisher<number>(undefined, { slow, limit: 10 })
      const stalled = pair(pub, 'x', {}, 4096)
      const live = pair(pub, 'x')
      await Promise.all([stalled.ready, live.ready])
      const N = 20_000
      const reading = (async () => {
        for (let i = 0; i < N; i++) expect((await live.receive()).message).toBe(i)
      })()
      for (let i = 0; i < N; i++) await pub.publish('x', i)
      await reading
      const stats = pub.stats
      expect(stats.dropped).toBeGreaterThan(N - 1000) // the stalled one got at most its transport's bytes + 10
      // now it reads to the end: what it gets is in order, and every drop is told
      const closing = pub.close()
      let seen = 0
      let told = 0
      let last = -1
      for await (const d of stalled) {
        expect(d.message).toBeGreaterThan(last)
        expect(d.message - last - 1).toBe(d.dropped) // exactly the gap
        told += d.dropped
        last = d.message
        seen++
      }
      await closing
      expect(seen + stalled.stats.dropped).toBe(N)
      expect(stalled.stats.dropped).toBe(stats.dropped)
      if (slow === 'drop-oldest')
        expect(last).toBe(N - 1) // the newest survive
      else expect(stalled.stats.dropped - told).toBe(N - 1 - last) // the drops after its last message: told by a DROPS envelope
      expect(stalled.stats.received).toBe(seen)
    })
  }

  it('disconnect: a subscriber past its limit is closed with ERR_IPC_SLOW_CONSUMER; the others go on', async () => {
    const pub = await publisher<number>(undefined, { limit: 5 })
    const stalled = pair(pub, 'x', { slow: 'disconnect' }, 1024)
    const live = pair(pub, 'x')
    await Promise.all([stalled.ready, live.ready])
    const reading = (async () => {
      for (let i = 0; i < 5000; i++) expect((await live.receive()).message).toBe(i)
    })()
    for (let i = 0; i < 5000; i++) await pub.publish('x', i)
    await reading
    expect(pub.stats).toMatchObject({ subscribers: 1, slowClosed: 1 })
    // the stalled one reads what reached it, then learns why it was closed
    let error: unknown
    let last = -1
    try {
      for await (const d of stalled) {
        expect(d.message).toBe(last + 1)
        last = d.message
      }
    } catch (err) {
      error = err
    }
    expect(isIpcError(error, 'ERR_IPC_SLOW_CONSUMER')).toBe(true)
    await pub.close()
  })

  it('block: publish() waits for a full subscriber, at most maxBlock; then it is closed with ERR_IPC_SLOW_CONSUMER and the others lose nothing', async () => {
    const pub = await publisher<{ i: number; pad: string }>(undefined, { limit: 4, maxBlock: 300 })
    const stalled = pair(pub, 'x', {}, 1024)
    const live = pair(pub, 'x')
    await Promise.all([stalled.ready, live.ready])
    const got: number[] = []
    const reading = (async () => {
      for await (const d of live) got.push(d.message.i)
    })()
    const pad = 'p'.repeat(1024) // the in-memory link holds 1 MiB in flight
    let longest = 0
    for (let i = 0; i < 4000; i++) {
      const t0 = performance.now()
      await pub.publish('x', { i, pad })
      longest = Math.max(longest, performance.now() - t0)
    }
    expect(longest).toBeGreaterThanOrEqual(290)
    expect(longest).toBeLessThan(2000)
    expect(pub.stats).toMatchObject({ subscribers: 1, slowClosed: 1 })
    await pub.close()
    await reading
    expect(got).toEqual([...Array(4000)].map((_, k) => k))
    await expect(
      (async () => {
        for await (const _ of stalled);
      })(),
    ).rejects.toMatchObject({ code: 'ERR_IPC_SLOW_CONSUMER' })
  })

  it('block: a slow reader slows the publisher and loses nothing', async () => {
    const pub = await publisher<number>(undefined, { limit: 2 })
    const slow = pair(pub, 'x', {}, 256)
    await slow.ready
    const N = 2000
    const reading = (async () => {
      for (let i = 0; i < N; i++) {
        expect(await slow.receive()).toEqual({ topic: 'x', message: i, dropped: 0 })
        if (i % 100 === 0) await new Promise((r) => setTimeout(r, 1))
      }
    })()
    for (let i = 0; i < N; i++) await pub.publish('x', i)
    await reading
    expect(pub.stats.dropped).toBe(0)
    await pub.close()
  })

  it('100 subscribers under block receive every message in order', async () => {
    const pub = await publisher<number>(undefined, { limit: 16 })
    const subs = [...Array(100)].map(() => pair(pub, 'ticks.>', {}, 4096))
    await Promise.all(subs.map((s) => s.ready))
    const N = 2000
    const readers = subs.map(async (s) => {
      for (let i = 0; i < N; i++) expect((await s.receive()).message).toBe(i)
    })
    for (let i = 0; i < N; i++) await pub.publish('ticks.a', i)
    await Promise.all(readers)
    expect(pub.stats).toMatchObject({ delivered: 100 * N, dropped: 0 })
    await pub.close()
  })

  it('a hostile subscriber sending malformed envelopes closes only its own transport', async () => {
    const pub = await publisher<number>(undefined)
    const good = pair(pub, 'x')
    await good.ready
    const hostile: Transport<unknown, unknown>[] = []
    for (const junk of [42, 'x', [P.SUB], [P.SUB, -1, []], [P.SUB, 1, ['a..b']], [P.SUB, 1, ['x'], 'sometimes'], [99, 1, []], [P.UNSUB, 1, ['x'], 4]]) {
      const [a, b] = memoryPair()
      pub.attach(a)
      await b.send(junk)
      hostile.push(b)
    }
    for (const h of hostile) {
      const bye = await h.receive()
      expect(bye).toEqual([P.BYE, 'ERR_IPC_DECODE', expect.any(String)])
      expect((await h.closed).reason).toBe('peer')
    }
    await pub.publish('x', 1)
    expect((await good.receive()).message).toBe(1)
    expect(pub.subscribers).toBe(1)
    await pub.close()
  })

  it('a malformed publisher envelope ends the subscriber with ERR_IPC_DECODE', async () => {
    const [a, b] = memoryPair()
    const sub = subscriber(b, 'x')
    const first = await a.receive()
    expect(first).toEqual([P.SUB, 0, ['x']])
    await a.send([P.ACK, 0])
    await sub.ready
    await a.send([P.MSG, 7, 'not a topic'])
    await expect(sub.receive()).rejects.toMatchObject({ code: 'ERR_IPC_DECODE' })
  })
})
