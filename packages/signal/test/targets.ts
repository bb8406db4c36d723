import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { type ConformanceTarget, addressTarget } from '@ipc/core/testing'
import '../src/index.js'
import { rawClient } from '../src/testing.js'

const require = createRequire(import.meta.url)
/** The built entry of this package, for peer processes and Workers. */
export const ENTRY = join(dirname(require.resolve('@ipc/signal/package.json')), 'dist', 'index.js')

/** The built testing entry (the raw client), for peer processes. */
export const TESTING_ENTRY = join(dirname(ENTRY), 'testing.js')

export function signalTarget(): ConformanceTarget {
  return addressTarget({
    name: 'signal',
    entry: ENTRY,
    fresh: () => 'signal:',
    killedPeerReason: 'peer-exited',
    reusable: false,
    boundaries: [4, 1024],
    async rawClient(address, bytes, end) {
      const client = await rawClient(address)
      client.write(bytes)
      if (end) await client.end()
    },
  })
}
