import { connect } from '@ipc/core'
import { describe, expect, it } from 'vitest'
import { type SlowPolicy, publisher, pusher } from '../src/index.js'
import { P } from '../src/pubsub-wire.js'
import { W } from '../src/pipeline-wire.js'
import { TARGETS, peerTracker, listenerFor, startPeer } from './processes.js'

const track = peerTracker()

const unix = TARGETS.find((t) => t.name === 'unix')!

describe('publish/subscribe policies with a SIGSTOPped subscriber process (unix:)', () => {
  for (const slow of ['drop-oldest', 'drop-newest', 'disconnect'] as SlowPolicy[]) {
    it(`${slow}: the publisher never waits, its memory stays bounded, the stopped one's losses are counted exactly, the other loses nothing`, async () => {
      const address = unix.fresh()!
      const pub = await publisher<{ i: number; pad: string }>(address, { limit: 16 })
      const N = 20_000
      const live = track(startPeer(address, 'subscriber', { pattern: 'feed', count: N }))
      const stopped = track(startPeer(address, 'subscriber', { pattern: 'feed', count: N, slow }))
      await Promise.all([live.report('ready'), stopped.report('ready')])
      stopped.child.kill('SIGSTOP')
      const pad = 'y'.repeat(4096)
      const before = process.memoryUsage().rss
      let longest = 0
      for (let i = 0; i < N; i++) {
        const t0 = performance.now()
        await pub.publish('feed', { i, pad })
        longest = Math.max(longest, performance.now() - t0)
      }
      expect(await live.report('received')).toEqual({ received: N, dropped: 0, ok: true })
      expect(longest).toBeLessThan(400) // no policy here waits for the stopped one
      expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024) // 80 MB were published
      const stats = pub.stats
      stopped.child.kill('SIGCONT')
      const closing = pub.close()
      if (slow === 'disconnect') {
        expect(stats.slowClosed).toBe(1)
        expect(await stopped.report('error')).toMatchObject({ error: 'ERR_IPC_SLOW_CONSUMER' })
      } else {
        const last = await stopped.report('received')
        expect(last.ok).toBe(true) // every gap it saw was exactly the count it was told
        expect(last.received + last.dropped).toBe(N)
        expect(last.dropped).toBe(stats.dropped)
        expect(last.dropped).toBeGreaterThan(N / 2)
      }
      await closing
      expect(await stopped.exited).toBe(0)
    })
  }

  it('100 subscribers in 4 processes receive every message in order under block', async () => {
    const address = unix.fresh()!
    const pub = await publisher<{ i: number }>(address)
    const N = 2000
    const groups = [0, 1, 2, 3].map(() => track(startPeer(address, 'subscribers', { pattern: 'ticks.*', count: N, n: 25 })))
    for (const g of groups) await g.report('ready')
    for (let i = 0; i < N; i++) await pub.publish('ticks.a', { i })
    for (const g of groups) expect(await g.report('results')).toEqual({ results: Array(25).fill({ received: N, dropped: 0, ok: true }) })
    expect(pub.stats).toMatchObject({ delivered: 100 * N, dropped: 0 })
    await pub.close()
  })
})

for (const target of TARGETS.filter((t) => t.name === 'unix' || t.name === 'shm')) {
  describe(`hostile peers over ${target.name}`, () => {
    it('malformed envelopes close only the sender: a publisher and a pusher go on serving the others', async () => {
      const pubAddress = target.fresh()!
      const jobsAddress = target.fresh()!
      const pub = await publisher<{ i: number }>(await listenerFor(pubAddress))
      const jobs = await pusher<number>(await listenerFor(jobsAddress), { ack: true })
      const sub = track(startPeer(pubAddress, 'subscriber', { pattern: 'x', count: 1 }))
      const worker = track(startPeer(jobsAddress, 'puller', {}))
      await Promise.all([sub.report('ready'), worker.report('ready')])
      for (const [address, junk, bye] of [
        [pubAddress, [P.SUB, 0, ['a..b']], P.BYE],
        [pubAddress, { t: 1 }, P.BYE],
        [jobsAddress, [W.CREDIT, -5], W.BYE],
        [jobsAddress, [W.DONE, 'x'], W.BYE],
      ] as const) {
        const t = await connect(address)
        await t.send(junk)
        expect(await t.receive({ timeout: 5000 })).toEqual([bye, 'ERR_IPC_DECODE', expect.any(String)])
        expect((await t.closed).reason).not.toBe('local')
      }
      await pub.publish('x', { i: 0 })
      expect(await sub.report('received')).toEqual({ received: 1, dropped: 0, ok: true })
      await jobs.push(1)
      await jobs.drain()
      expect(await worker.report('done')).toEqual({ done: 1 })
      await pub.close()
      await jobs.close()
    })
  })
}
