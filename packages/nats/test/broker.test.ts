// The cases a networked broker adds to the kit: restarts, outages, slow consumers, hung peers,
// small max_payload, third parties on the server. Each test runs its own nats-server.
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type Transport, connect, isIpcError, listen } from '@ipc/core'
import { UNIT, encodeFrame, encodeUnit } from '@ipc/core/mechanism'
import { afterEach, describe, expect, it } from 'vitest'
import '../src/index.js'
import { rawClient } from '../src/testing.js'
import { Broker, type BrokerOptions } from './broker.js'
import { freshOn } from './targets.js'

const PEER = fileURLToPath(new URL('./peer.mjs', import.meta.url))
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function broker(options?: BrokerOptions): Promise<Broker> {
  const b = await Broker.start(options)
  cleanups.push(async () => {
    // runs last: after the test's transports closed and its peers ended, no subscription of theirs is left
    if (!b.running) return b.stop() // a test that ended with the server killed: nothing can be left on it
    let left = await b.clientSubscriptions()
    for (let k = 0; k < 100 && left > 0; k++) {
      await new Promise((r) => setTimeout(r, 20)) // the server learns of closed subscriptions an RTT later
      left = await b.clientSubscriptions()
    }
    await b.stop()
    expect(left, 'subscriptions left on the server').toBe(0)
  })
  return b
}

class Peer {
  readonly reports: Record<string, any>[] = []
  private waiters: (() => void)[] = []
  readonly exited: Promise<number | string>
  constructor(readonly child: ChildProcess) {
    let partial = ''
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (text: string) => {
      partial += text
      for (let at = partial.indexOf('\n'); at >= 0; at = partial.indexOf('\n')) {
        this.reports.push(JSON.parse(partial.slice(0, at)))
        partial = partial.slice(at + 1)
      }
      for (const w of this.waiters.splice(0)) w()
    })
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)))
    cleanups.push(() => void child.kill('SIGKILL'))
  }
  async report(key: string): Promise<Record<string, any>> {
    for (;;) {
      const found = this.reports.find((r) => key in r)
      if (found) return found
      const ended = await Promise.race([new Promise<false>((r) => this.waiters.push(() => r(false))), this.exited.then(() => true)])
      if (ended && !this.reports.some((r) => key in r)) throw new Error(`peer exited without "${key}": ${JSON.stringify(this.reports)}`)
    }
  }
}

/** A listener on `b`, a peer process connected to it playing `role`, and our end. */
async function withPeer(b: Broker, role: string, params?: string, arg?: string): Promise<{ t: Transport<any, any>; peer: Peer; address: string }> {
  const address = freshOn(b, params)
  const l = await listen(address)
  const peer = new Peer(spawn(process.execPath, [PEER, role, address, ...(arg ? [arg] : [])], { stdio: ['ignore', 'pipe', 'inherit'] }))
  const t = await l.accept({ timeout: 20_000 })
  await l.close()
  cleanups.push(() => t.close())
  await peer.report('ready')
  return { t, peer, address }
}

describe('nats: the server goes away', () => {
  it('SIGKILLed mid-stream and restarted after 500 ms: 100,000 messages each way arrive exactly once, in order; send() waited meanwhile', async () => {
    const b = await broker()
    const { t, peer } = await withPeer(b, 'echo')
    const N = 100_000
    let got = 0
    let ok = true
    const reading = (async () => {
      for await (const m of t as AsyncIterable<{ i: number }>) {
        if (m.i !== got) ok = false
        got++
        if (got === N) break
      }
    })()
    let most = 0
    for (let i = 0; i < N; i++) {
      if (i === 30_000) {
        await b.kill()
        setTimeout(() => void b.restart(), 500)
      }
      await t.send({ i })
      most = Math.max(most, t.stats.queuedBytes)
    }
    await reading
    expect(ok).toBe(true)
    expect(got).toBe(N)
    expect(most).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024) // highWaterMark and a batch: nothing piled up in this process
    await t.close()
    expect(await peer.report('count')).toMatchObject({ count: N, reason: 'peer' })
    expect(await peer.exited).toBe(0)
  })

  it('down longer than resume: both ends close with ERR_IPC_CLOSED, pending calls reject, the peer process exits by itself', async () => {
    const b = await broker()
    const { t, peer } = await withPeer(b, 'echo', 'probe=25ms&resume=1s')
    await t.send({ hello: 1 })
    expect(await t.receive()).toEqual({ hello: 1 })
    const pending = t.receive()
    const t0 = Date.now()
    await b.kill()
    const info = await t.closed
    expect(info).toMatchObject({ reason: 'error', error: { code: 'ERR_IPC_CLOSED', details: { broker: expect.stringContaining('nats://') } } })
    expect(Date.now() - t0).toBeLessThan(1000 + 1500)
    expect(isIpcError(await pending.catch((e) => e), 'ERR_IPC_CLOSED')).toBe(true)
    expect(await peer.report('count')).toMatchObject({ reason: 'error', code: 'ERR_IPC_CLOSED' })
    expect(await peer.exited).toBe(0)
  })

  it('connect with the server down is ERR_IPC_NO_LISTENER naming it; a subject nobody listens on is ERR_IPC_NO_LISTENER in well under 100 ms', async () => {
    const b = await broker()
    const t0 = performance.now()
    const nobody = await connect(freshOn(b)).catch((e) => e)
    expect(isIpcError(nobody, 'ERR_IPC_NO_LISTENER')).toBe(true)
    expect(performance.now() - t0).toBeLessThan(100)
    await b.kill()
    const down = await connect(`${b.url}/x`).catch((e) => e)
    expect(isIpcError(down, 'ERR_IPC_NO_LISTENER')).toBe(true)
    expect(down.details).toMatchObject({ broker: expect.stringContaining(String(b.port)) })
  })
})

describe('nats: a slow consumer', () => {
  it('a reader that sleeps 5 s while its writer pushes 200 MB: the writer waits, the server never sees a slow consumer, memory stays bounded, a sibling transport keeps at least half its rate', async () => {
    const b = await broker()
    const sibling = await withPeer(b, 'source', undefined, `${1e9}:${16 * 1024}`)
    const rate = async (ms: number): Promise<number> => {
      let bytes = 0
      const until = performance.now() + ms
      while (performance.now() < until) bytes += ((await sibling.t.receive()) as { pad: Uint8Array }).pad.length
      return bytes / (ms / 1000)
    }
    const unloaded = await rate(1000)
    const rssBefore = process.memoryUsage().rss
    const COUNT = 3200 // × 64 KiB = 200 MiB
    const slow = await withPeer(b, 'source', undefined, `${COUNT}:${64 * 1024}`)
    const during = await rate(5000) // the slow one is not read meanwhile
    expect(during).toBeGreaterThanOrEqual(unloaded / 2)
    expect(slow.peer.reports.some((r) => 'sent' in r)).toBe(false) // its writer is still waiting
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(96 * 1024 * 1024)
    expect((await b.varz()).slow_consumers).toBe(0)
    // now it reads: everything, in order
    let expected = 0
    for await (const m of slow.t as AsyncIterable<{ i: number; pad: Uint8Array }>) {
      expect(m.i).toBe(expected)
      expected++
      if (expected === COUNT) break
    }
    expect(await slow.peer.report('sent')).toEqual({ sent: COUNT })
    expect((await b.varz()).slow_consumers).toBe(0)
  }, 120_000)
})

describe('nats: peers that stop', () => {
  it('a SIGKILLed peer is noticed within 200 ms with the default settings', async () => {
    const b = await broker()
    const { t, peer } = await withPeer(b, 'echo', 'heartbeat=2s') // the default probe, 100 ms
    await t.send({ a: 1 })
    expect(await t.receive()).toEqual({ a: 1 })
    const t0 = performance.now()
    peer.child.kill('SIGKILL')
    expect((await t.closed).reason).toBe('peer')
    expect(performance.now() - t0).toBeLessThan(200)
  })

  it('a SIGSTOPped peer is closed within 3 heartbeats; after SIGCONT it finds its own transport closed', async () => {
    const b = await broker()
    const { t, peer } = await withPeer(b, 'echo', 'probe=25ms&heartbeat=200ms')
    await t.send({ a: 1 })
    expect(await t.receive()).toEqual({ a: 1 })
    peer.child.kill('SIGSTOP')
    const t0 = Date.now()
    const info = await t.closed
    const took = Date.now() - t0
    expect(info.reason).toBe('peer')
    expect(took).toBeGreaterThanOrEqual(3 * 200 - 50)
    expect(took).toBeLessThan(3 * 200 + 400)
    peer.child.kill('SIGCONT')
    expect(await peer.report('count')).toMatchObject({ reason: 'peer' }) // no silent resume
    expect(await peer.exited).toBe(0)
  })
})

describe('nats: small max_payload, many connections', () => {
  it('with max_payload 8 KiB: messages at the unit size ±1, 1 MiB and maxMessageSize pass; maxMessageSize + 1 is ERR_IPC_MESSAGE_TOO_LARGE', async () => {
    const b = await broker({ maxPayload: 8192 })
    const { t } = await withPeer(b, 'echo')
    for (const size of [8192 - 16 - 5 - 1, 8192 - 16 - 5, 8192 - 16 - 5 + 1, 1024 * 1024, 16 * 1024 * 1024 - 8]) {
      const data = new Uint8Array(size).map((_, k) => k * 7)
      await t.send(data)
      const back = (await t.receive()) as Uint8Array
      expect(back.length).toBe(size)
      expect(Buffer.compare(back, data)).toBe(0)
    }
    expect(isIpcError(await t.send(new Uint8Array(16 * 1024 * 1024)).catch((e) => e), 'ERR_IPC_MESSAGE_TOO_LARGE')).toBe(true)
  })

  it('100 connections on one listener: each its own conversation, in order', async () => {
    const b = await broker()
    const address = freshOn(b)
    const l = await listen(address)
    cleanups.push(() => l.close())
    const serving = (async () => {
      for (let k = 0; k < 100; k++) {
        const s = await l.accept()
        void (async () => {
          for await (const m of s) await s.send(m)
        })()
      }
    })()
    const clients = await Promise.all(Array.from({ length: 100 }, () => connect(address)))
    await serving
    expect((await b.varz()).connections).toBe(1) // the listener, its 100 ends and the 100 clients share this process's one connection
    await Promise.all(
      clients.map(async (c, k) => {
        for (let i = 0; i < 50; i++) await c.send({ k, i })
        for (let i = 0; i < 50; i++) expect(await c.receive()).toEqual({ k, i })
        await c.close()
      }),
    )
  })
})

describe('nats: third parties on the server', () => {
  it('garbage, replays and oversized units published into a live connection’s subject close only that connection', async () => {
    const b = await broker()
    const address = freshOn(b)
    const l = await listen(address)
    cleanups.push(() => l.close())
    const good = await connect(address)
    cleanups.push(() => good.close())
    const goodEnd = await l.accept()
    // a raw client completes a handshake, then behaves
    const raw = await rawClient(address)
    const victim = await l.accept()
    const first = encodeUnit(UNIT.DATA, 0, 0, 0, 1 << 20, encodeFrame(new Uint8Array([0xa1, 0x61]))) // unit 0: "a"
    raw.publishUnit(first)
    expect(await victim.receive()).toBe('a')
    raw.publishUnit(first) // a replay: dropped as a duplicate
    raw.publishUnit(encodeUnit(UNIT.DATA, 0, 5000, 0, 1 << 20, encodeFrame(new Uint8Array([0xa1, 0x7a])))) // far ahead: a gap, dropped
    raw.publishUnit(encodeUnit(UNIT.DATA, 0, 1, 0, 1 << 20, encodeFrame(new Uint8Array([0xa1, 0x62])))) // unit 1: "b"
    expect(await victim.receive()).toBe('b') // the replay and the stray changed nothing
    expect(victim.isOpen).toBe(true)
    // a unit announcing a message beyond maxMessageSize: that connection ends, nothing is allocated for it
    const huge = new Uint8Array(8)
    new DataView(huge.buffer).setUint32(0, 0x7fff_fff0, true)
    raw.publishUnit(encodeUnit(UNIT.DATA, 0, 2, 0, 1 << 20, huge))
    const tooBig = await victim.closed
    expect(tooBig.reason).toBe('error')
    expect(['ERR_IPC_MESSAGE_TOO_LARGE', 'ERR_IPC_DECODE']).toContain(tooBig.error?.code)
    await raw.end()
    // a second raw connection sends garbage that is not even a unit
    const raw2 = await rawClient(address)
    const victim2 = await l.accept()
    raw2.publishUnit(new Uint8Array(20).fill(0xee))
    const info = await victim2.closed
    expect(info).toMatchObject({ reason: 'error', error: { code: 'ERR_IPC_DECODE' } })
    await raw2.end()
    // the listener and the other connection go on
    await good.send({ still: 'here' })
    expect(await goodEnd.receive()).toEqual({ still: 'here' })
    const again = await connect(address)
    const againEnd = await l.accept()
    await again.send(1)
    expect(await againEnd.receive()).toBe(1)
    await again.close()
  })
})
