import { readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { type ConformanceTarget, addressTarget } from '@ipc/core/testing'
import { RENDEZVOUS_DIR } from '@ipc/shm/handshake'
import '../src/index.js'
import { rawClient } from '../src/testing.js'

const require = createRequire(import.meta.url)
/** The built entry of this package, for peer processes and Workers. */
export const ENTRY = join(dirname(require.resolve('@ipc/sem/package.json')), 'dist', 'index.js')

/** The built testing entry (the raw client), for peer processes. */
export const TESTING_ENTRY = join(dirname(ENTRY), 'testing.js')

/** Names of this test process's addresses, and what of them is left in the rendezvous folder. */
export function semNames(tag: string) {
  const prefix = `t${process.pid}-${tag}-`
  let n = 0
  return {
    fresh: () => `sem:/${prefix}${++n}`,
    leftovers: async () => readdirSync(RENDEZVOUS_DIR).filter((f) => f.startsWith(`ipc-sem.${prefix}`) || f.startsWith(`.ipc-sem.${process.pid}.`)),
  }
}

export function semTarget(names: ReturnType<typeof semNames>): ConformanceTarget {
  return addressTarget({
    name: 'sem',
    entry: ENTRY,
    fresh: names.fresh,
    killedPeerReason: 'peer-exited',
    boundaries: [4096 - 16, 64 * 1024 - 16],
    leftovers: names.leftovers,
    burst: { params: '?slots=2&slotSize=4KiB' },
    async rawClient(address, bytes, end) {
      const client = await rawClient(address, 64, 4096)
      client.write(bytes)
      if (end) client.end()
    },
  })
}
