/**
 * Publish/subscribe: a price feed and three subscriber processes, one of them only for EU prices
 * and one that asks to drop the oldest when it falls behind. Run: `node dist/pubsub.js`.
 */
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { publisher, subscriber } from '@ipc/patterns'

interface Price {
  i: number
  cents: number
}
const COUNT = 10_000

if (process.argv[2] === 'subscriber') {
  const [, , , address, pattern, slow] = process.argv
  const sub = subscriber<Price>(address!, pattern!, slow === 'drop-oldest' ? { slow } : {})
  await sub.ready
  process.send!('ready')
  let got = 0
  let last = -1
  for await (const { message, dropped } of sub) {
    if (message.i <= last) throw new Error('out of order')
    got++
    last = message.i
    if (dropped > 0) await new Promise((r) => setTimeout(r, 0)) // told of a gap
  }
  // the iteration ends when the publisher closes
  process.send!({ pattern, got, dropped: sub.stats.dropped })
} else {
  const dir = mkdtempSync(join(tmpdir(), 'ipc-example-'))
  const feed = await publisher<Price>(`unix:${dir}/prices.sock`)
  const children = [
    ['prices.>', 'block'],
    ['prices.eu.*', 'block'],
    ['prices.*.*', 'drop-oldest'],
  ].map(([pattern, slow]) => fork(new URL(import.meta.url), ['subscriber', feed.address!, pattern!, slow!]))
  const results = children.map((c) => new Promise<unknown>((resolve) => c.on('message', (m) => m !== 'ready' && resolve(m))))
  await Promise.all(children.map((c) => new Promise((resolve) => c.once('message', resolve))))
  for (let i = 0; i < COUNT; i++) await feed.publish(i % 2 === 0 ? 'prices.eu.ACME' : 'prices.us.ACME', { i, cents: 1000 + i })
  const stats = feed.stats
  await feed.close() // what is queued goes out first, then each subscriber's iteration ends
  for (const r of await Promise.all(results)) console.log('subscriber:', r)
  console.log('publisher:', stats)
  rmSync(dir, { recursive: true, force: true })
}
