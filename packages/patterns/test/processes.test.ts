import { readdirSync } from 'node:fs'
import { type Transport, isIpcError } from '@ipc/core'
import { describe, expect, it } from 'vitest'
import { type CallContext, client, publisher, pusher } from '../src/index.js'
import { TARGETS, peerTracker, listenerFor, startPeer } from './processes.js'

const track = peerTracker()

/** The kernel objects of `address` (one test's) that are still there; none for `pipe`. */
function leftovers(address: string | undefined): string[] {
  const name = address === undefined ? undefined : /ipc-patterns-\d+-\d+/.exec(address)?.[0]
  if (name === undefined) return []
  const found: string[] = []
  for (const dir of ['/tmp', '/dev/shm', '/dev/mqueue']) {
    try {
      for (const f of readdirSync(dir)) if (new RegExp(`${name}(?!\\d)`).test(f)) found.push(`${dir}/${f}`)
    } catch {}
  }
  return found
}

/** What peer.mjs's rpc-server serves. */
interface Served {
  [name: string]: (arg: any, ctx: CallContext) => unknown
  work: (i: number) => Promise<number>
  most: () => number
  items: (n: number) => AsyncIterable<number>
  produced: () => number
}

for (const target of TARGETS) {
  describe(`patterns over ${target.name}, with real processes`, () => {
    it('publish/subscribe: every subscriber process gets every message in order; a SIGSTOPped one is closed after maxBlock and the rest lose nothing', async () => {
      const address = target.fresh()
      const pub = await publisher<{ i: number; pad: string }>(address === undefined ? undefined : await listenerFor(address), { maxBlock: 500, limit: 8 })
      const N = 3000
      const subs = [0, 1].map(() => track(startPeer(address, 'subscriber', { pattern: 'feed.>', count: N })))
      const stopped = track(startPeer(address, 'subscriber', { pattern: 'feed.*', count: N }))
      for (const s of [...subs, stopped]) if (s.transport) pub.attach(s.transport)
      for (const s of [...subs, stopped]) await s.report('ready')
      stopped.child.kill('SIGSTOP')
      const pad = 'x'.repeat(2048)
      let longest = 0
      for (let i = 0; i < N; i++) {
        const t0 = performance.now()
        await pub.publish('feed.a', { i, pad })
        longest = Math.max(longest, performance.now() - t0)
      }
      for (const s of subs) expect(await s.report('received')).toEqual({ received: N, dropped: 0, ok: true })
      expect(longest).toBeGreaterThanOrEqual(450) // it did wait for the stopped one …
      expect(longest).toBeLessThan(3000) // … at most about maxBlock
      expect(pub.stats).toMatchObject({ slowClosed: 1, subscribers: expect.any(Number) })
      stopped.child.kill('SIGCONT')
      const last = await stopped.report('error').catch(() => stopped.report('received'))
      expect(last.received).toBeLessThan(N)
      await pub.close()
      for (const s of [...subs, stopped]) expect(await s.exited).toBe(0)
      expect(leftovers(address)).toEqual([])
    })

    it('work queue with ack: a puller SIGKILLed mid-job has that job redelivered to another; every job is acknowledged once', async () => {
      const address = target.fresh()
      const acked: number[] = []
      const jobs = await pusher<number>(address === undefined ? undefined : await listenerFor(address), { ack: true })
      const doomed = track(startPeer(address, 'puller', { dieOn: 7 }))
      if (doomed.transport) jobs.attach(doomed.transport)
      await doomed.report('ready')
      for (let i = 0; i < 7; i++) await jobs.push(i) // the doomed one takes them all (the only puller)
      await jobs.push(7)
      expect(await doomed.exited).toBe('SIGKILL')
      const survivor = track(startPeer(address, 'puller', {}))
      if (survivor.transport) jobs.attach(survivor.transport)
      for (let i = 8; i < 20; i++) await jobs.push(i)
      await jobs.drain()
      // the acknowledgements came over the transport; the reports come over stdout, a path of their own
      await survivor.nth('done', 13) // job 7 again and 8 … 19
      for (const p of [doomed, survivor]) for (const r of p.reports) if ('done' in r) acked.push(r.done)
      expect(acked.sort((a, b) => a - b)).toEqual([...Array(20)].map((_, k) => k))
      const seven = survivor.reports.find((r) => r.got === 7)
      expect(seven).toEqual({ got: 7, attempt: 2 })
      expect(jobs.stats).toMatchObject({ acked: 20, redelivered: 1, inFlight: 0 })
      await jobs.close()
      expect(await survivor.exited).toBe(0)
      expect(leftovers(address)).toEqual([])
    })

    it('RPC: 10,000 concurrent calls to a server process all come back, at most maxConcurrent run at once, and memory stays bounded; a stream of 1,000,000 items read slowly stays within its window', async () => {
      const address = target.fresh()
      const listener = await listenerFor(address)
      const server = track(startPeer(address, 'rpc-server', {}))
      const t: Transport<unknown, unknown> = server.transport ?? (await listener!.accept())
      await server.report('ready')
      await listener?.close()
      const api = client<Served>(t)
      const before = process.memoryUsage().rss
      const results = await Promise.all(Array.from({ length: 10_000 }, (_, i) => api.call('work', i)))
      expect(results.every((v, i) => v === i * 2)).toBe(true)
      const most = await api.call('most', undefined)
      expect(most).toBeLessThanOrEqual(64)
      expect(most).toBeGreaterThan(1)
      expect(process.memoryUsage().rss - before).toBeLessThan(128 * 1024 * 1024)
      // the stream: the producer may never run more than the window ahead of this reader
      const window = 256
      let consumed = 0
      let widest = 0
      for await (const v of api.stream('items', 1_000_000, { window })) {
        if (v !== consumed) expect(v).toBe(consumed)
        consumed++
        if (consumed % 50_000 === 0) {
          await new Promise((r) => setTimeout(r, 20)) // a slow reader now and then
          widest = Math.max(widest, (await api.call('produced', undefined)) - consumed)
        }
      }
      expect(consumed).toBe(1_000_000)
      expect(widest).toBeLessThanOrEqual(window + 1)
      await t.close()
      expect(await server.exited).toBe(0)
      expect(leftovers(address)).toEqual([])
    })

    it("RPC: the client's deadline reaches the handler's signal within 20 ms, and the call rejects with ERR_IPC_TIMEOUT", async () => {
      const address = target.fresh()
      const listener = await listenerFor(address)
      const server = track(startPeer(address, 'rpc-server', {}))
      const t: Transport<unknown, unknown> = server.transport ?? (await listener!.accept())
      await server.report('ready')
      const api = client<{ wait: () => Promise<never>; add: (ab: [number, number]) => number }>(t)
      expect(await api.call('add', [2, 3])).toBe(5)
      const err = await api.call('wait', undefined, { timeout: 150 }).catch((e) => e)
      expect(isIpcError(err, 'ERR_IPC_TIMEOUT')).toBe(true)
      const aborted = await server.report('aborted')
      expect(Math.abs(aborted.late)).toBeLessThan(20)
      // an aborted call aborts the handler too
      const ac = new AbortController()
      const pending = api.call('wait', undefined, { signal: ac.signal })
      setTimeout(() => ac.abort(), 30)
      expect(isIpcError(await pending.catch((e) => e), 'ERR_IPC_ABORTED')).toBe(true)
      expect(await server.nth('aborted', 2)).toMatchObject({ aborted: true, late: null }) // no deadline: the abort came from the client
      await t.close()
      await listener?.close()
      expect(await server.exited).toBe(0)
      expect(leftovers(address)).toEqual([])
    })
  })
}
