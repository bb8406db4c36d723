/**
 * `node dist/nats-raw.js <url> [--quick]`: the NATS floor for the `nats` rows — the client
 * library alone (`@nats-io/transport-node`), no session layer, between two processes through the
 * same server: 64-byte publishes one way (the subscriber counts them; what the server drops for a
 * slow consumer would show as a shortfall) and a publish/reply ping-pong. Beside the `nats` rows
 * it shows what the session layer costs.
 *
 * Prints one JSON line: `NatsRawRow`.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { connect } from '@nats-io/transport-node'
import { percentile } from './common.js'

/** The raw client library's figures. */
export interface NatsRawRow {
  msgsPerSec: number
  delivered: number
  published: number
  rttP50Us: number
}

const SELF = fileURLToPath(import.meta.url)
const [url, second] = [process.argv[2]!, process.argv[3]]

if (second === 'child') {
  // the other process: echo pp.x to pp.y; count stream.x and report on stream.end
  const nc = await connect({ servers: url })
  let count = 0
  nc.subscribe('raw.pp.x', { callback: (_e, m) => nc.publish('raw.pp.y', m.data) })
  nc.subscribe('raw.stream.x', { callback: () => void count++ })
  nc.subscribe('raw.stream.end', { callback: (_e, m) => void m.respond(new TextEncoder().encode(String(count))) })
  await nc.flush()
  process.send!('ready')
  process.on('disconnect', () => void nc.close())
} else {
  const quick = process.argv.includes('--quick')
  const child = fork(SELF, [url, 'child'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  await new Promise((resolve) => child.once('message', resolve))
  const nc = await connect({ servers: url })
  let answered: (() => void) | undefined
  nc.subscribe('raw.pp.y', { callback: () => answered?.() })
  await nc.flush()
  const data = new Uint8Array(64)
  const rounds = quick ? 2000 : 20_000
  const samples = new Float64Array(rounds)
  for (let i = 0; i < 2000 + rounds; i++) {
    const t0 = performance.now()
    await new Promise<void>((resolve) => {
      answered = resolve
      nc.publish('raw.pp.x', data)
    })
    if (i >= 2000) samples[i - 2000] = (performance.now() - t0) * 1000
  }
  // one way: publish as fast as the client takes it, flushing every 1000 (its own backpressure)
  const published = quick ? 300_000 : 2_000_000
  const t0 = performance.now()
  for (let i = 0; i < published; i++) {
    nc.publish('raw.stream.x', data)
    if (i % 1000 === 999) await nc.flush()
  }
  const reply = await nc.request('raw.stream.end', undefined, { timeout: 30_000 })
  const seconds = (performance.now() - t0) / 1000
  const delivered = Number(new TextDecoder().decode(reply.data))
  const row: NatsRawRow = { msgsPerSec: delivered / seconds, delivered, published, rttP50Us: percentile(samples.sort(), 50) }
  await nc.close()
  child.disconnect()
  process.stdout.write(`${JSON.stringify(row)}\n`)
}
