/**
 * `node dist/patterns.js <folder> [--quick]`: the `patterns` rows — `@ipc/patterns` over `unix:`:
 *
 * - RPC calls per second with 256 calls in flight (a child serves `ping`);
 * - the RPC round trip p50 (one call at a time) beside a bare transport ping-pong of the same
 *   message in the same run (the ratio the issue bounds: ≤ 1.2×);
 * - publish/subscribe fan-out: 10 subscribers (in 2 child processes, one connection each) of one
 *   publisher, 64-byte messages; deliveries per second = messages × 10 / the time until every
 *   subscriber has every message.
 *
 * Child roles (`node dist/patterns.js peer <role> <address> [n]`): `echo` (bare transport echo),
 * `rpc` (serves `ping`), `subscribers` (n subscribers, each reading until the publisher closes).
 *
 * Prints one JSON line: `PatternsRow`.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type Transport, connect } from '@ipc/core'
import { client, publisher, serve, subscriber } from '@ipc/patterns'
import '@ipc/socket'
import { percentile } from './common.js'
import { withListenedPeer } from './procs.js'

/** The patterns rows of one run. */
export interface PatternsRow {
  rpcCallsPerSec: number
  rpcRttP50Us: number
  bareRttP50Us: number
  fanoutDeliveriesPerSec: number
  fanoutSubscribers: number
  fanoutMessages: number
  fanoutLost: number
}

const SELF = fileURLToPath(import.meta.url)
const procedures = { ping: (n: number) => n }

if (process.argv[2] === 'peer') {
  const [, , , role, address, n] = process.argv
  if (role === 'echo') {
    const t = await connect(address!)
    for await (const m of t) await t.send(m)
  } else if (role === 'rpc') {
    await serve(await connect(address!), procedures)
  } else if (role === 'subscribers') {
    const subs = Array.from({ length: Number(n) }, () => subscriber(address!, 'bench.>'))
    await Promise.all(subs.map((s) => s.ready))
    process.stdout.write('ready\n')
    const counts = await Promise.all(
      subs.map(async (s) => {
        let got = 0
        for await (const _ of s) got++
        return got + s.stats.dropped * 1e9 // a drop would show
      }),
    )
    process.stdout.write(`${JSON.stringify(counts)}\n`)
  }
} else {
  const folder = process.argv[2]!
  const quick = process.argv.includes('--quick')
  let n = 0
  const fresh = (): string => `unix:${folder}/patterns-${process.pid}-${++n}.sock`

  const withPeer = <T>(role: string, work: (t: Transport<unknown, unknown>) => Promise<T>): Promise<T> =>
    withListenedPeer(fresh(), (address) => [SELF, 'peer', role, address], work)

  const rounds = quick ? 2000 : 20_000
  const bareRtt = await withPeer('echo', async (t) => {
    const samples = new Float64Array(rounds)
    for (let i = 0; i < 2000 + rounds; i++) {
      const t0 = performance.now()
      await t.send(i)
      await t.receive()
      if (i >= 2000) samples[i - 2000] = (performance.now() - t0) * 1000
    }
    return percentile(samples.sort(), 50)
  })

  const rpc = await withPeer('rpc', async (t) => {
    const api = client<typeof procedures>(t)
    const samples = new Float64Array(rounds)
    for (let i = 0; i < 2000 + rounds; i++) {
      const t0 = performance.now()
      await api.call('ping', i)
      if (i >= 2000) samples[i - 2000] = (performance.now() - t0) * 1000
    }
    const calls = quick ? 50_000 : 300_000
    let next = 0
    const t0 = performance.now()
    await Promise.all(
      Array.from({ length: 256 }, async () => {
        while (next < calls) {
          const k = next++
          if ((await api.call('ping', k)) !== k) throw new Error('wrong reply')
        }
      }),
    )
    return { rttP50: percentile(samples.sort(), 50), perSec: calls / ((performance.now() - t0) / 1000) }
  })

  // fan-out: 10 subscribers in 2 processes
  const SUBSCRIBERS = 10
  const messages = quick ? 50_000 : 300_000
  const pub = await publisher<{ i: number; pad: string }>(fresh())
  const children = [0, 1].map(() =>
    spawn(process.execPath, [SELF, 'peer', 'subscribers', pub.address!, String(SUBSCRIBERS / 2)], { stdio: ['ignore', 'pipe', 'inherit'] }),
  )
  const outputs = children.map(
    (c) =>
      new Promise<string[]>((resolve) => {
        let text = ''
        c.stdout!.setEncoding('utf8')
        c.stdout!.on('data', (d: string) => (text += d))
        c.once('exit', () => resolve(text.trim().split('\n')))
      }),
  )
  const readyLines = children.map((c) => new Promise<void>((resolve) => c.stdout!.once('data', () => resolve())))
  await Promise.all(readyLines)
  while (pub.subscribers < SUBSCRIBERS) await new Promise((r) => setImmediate(r))
  const pad = 'x'.repeat(64 - 18) // { i, pad } encodes to about 64 bytes
  const t0 = performance.now()
  for (let i = 0; i < messages; i++) await pub.publish('bench.tick', { i, pad })
  await pub.close() // returns once every subscriber's queue went out and it closed
  const results = await Promise.all(outputs)
  const seconds = (performance.now() - t0) / 1000
  const counts = results.flatMap((lines) => JSON.parse(lines[lines.length - 1]!) as number[])
  const lost = counts.reduce((s, c) => s + (messages - c), 0)
  const row: PatternsRow = {
    rpcCallsPerSec: rpc.perSec,
    rpcRttP50Us: rpc.rttP50,
    bareRttP50Us: bareRtt,
    fanoutDeliveriesPerSec: (messages * SUBSCRIBERS) / seconds,
    fanoutSubscribers: counts.length,
    fanoutMessages: messages,
    fanoutLost: lost,
  }
  process.stdout.write(`${JSON.stringify(row)}\n`)
}
