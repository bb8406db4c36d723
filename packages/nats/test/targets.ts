import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { type ConformanceTarget, addressTarget } from '@ipc/core/testing'
import '../src/index.js'
import { type RawNatsClient, rawClient } from '../src/testing.js'
import type { Broker } from './broker.js'

const require = createRequire(import.meta.url)
/** The built entry of this package, for peer processes and Workers. */
export const ENTRY = join(dirname(require.resolve('@ipc/nats/package.json')), 'dist', 'index.js')

let n = 0
/** A fresh subject on `broker`, probing often enough for the kit's 100 ms bound on a SIGKILLed peer. */
export const freshOn = (broker: Broker, params = 'probe=25ms'): string => `${broker.url}/t${process.pid}/c${++n}?${params}`

export function natsTarget(broker: Broker): ConformanceTarget {
  // raw clients run in this process: the test's scaffolding, ended before the leftovers are counted
  const raws: RawNatsClient[] = []
  return addressTarget({
    name: 'nats',
    entry: ENTRY,
    fresh: () => freshOn(broker),
    killedPeerReason: 'peer',
    reportsPeer: false,
    boundaries: [1024 * 1024 - 16],
    async rawClient(address, bytes, end) {
      const client = await rawClient(address)
      client.write(bytes)
      if (end) await client.end()
      else raws.push(client)
    },
    async leftovers() {
      for (const raw of raws.splice(0)) await raw.end()
      // the server learns of closed subscriptions an RTT later: give it a moment, then report what is left
      for (let k = 0; k < 100; k++) {
        const subs = await broker.clientSubscriptions()
        if (subs === 0) return []
        await new Promise((r) => setTimeout(r, 20))
      }
      return [`${await broker.clientSubscriptions()} subscription(s) left on the server`]
    },
  })
}
