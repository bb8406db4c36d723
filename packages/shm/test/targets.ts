import { readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { type ConformanceTarget, addressTarget } from '@ipc/core/testing'
import '../src/index.js'
import { FILE_PREFIX, RENDEZVOUS_DIR } from '../src/rendezvous.js'
import { rawClient } from '../src/testing.js'

const require = createRequire(import.meta.url)
/** The built entry of this package, for peer processes. */
export const ENTRY = join(dirname(require.resolve('@ipc/shm/package.json')), 'dist', 'index.js')
/** The built testing entry (the raw client), for peer processes. */
export const TESTING_ENTRY = join(dirname(ENTRY), 'testing.js')

/** Names of this test process's addresses, and what of them is left in the rendezvous folder. */
export function shmNames(tag: string) {
  const prefix = `t${process.pid}-${tag}-`
  let n = 0
  return {
    fresh: () => `shm:/${prefix}${++n}`,
    leftovers: async () => readdirSync(RENDEZVOUS_DIR).filter((f) => f.startsWith(`${FILE_PREFIX}${prefix}`) || f.startsWith(`.${FILE_PREFIX}${process.pid}.`)),
  }
}

export function shmTarget(names: ReturnType<typeof shmNames>): ConformanceTarget {
  return addressTarget({
    name: 'shm',
    entry: ENTRY,
    fresh: names.fresh,
    killedPeerReason: 'peer-exited',
    boundaries: [4096, 64 * 1024],
    leftovers: names.leftovers,
    burst: { params: '?capacity=16KiB' },
    async rawClient(address, bytes, end) {
      const client = await rawClient(address)
      client.write(bytes)
      if (end) client.end()
    },
  })
}
