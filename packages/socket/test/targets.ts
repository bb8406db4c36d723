import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { connect as netConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createRequire } from 'node:module'
import { type ConformanceTarget, addressTarget } from '@ipc/core/testing'
import '../src/index.js'

const require = createRequire(import.meta.url)
/** The built entry of this package, for peer processes. */
export const ENTRY = join(dirname(require.resolve('@ipc/socket/package.json')), 'dist', 'index.js')

let counter = 0

/** A conformance target for one socket flavour; `fresh()` makes a new address. */
export function socketTarget(
  name: string,
  fresh: () => string,
  rawConnect: (address: string) => { path: string } | { host: string; port: number },
  leftovers?: () => Promise<string[]>,
): ConformanceTarget {
  return addressTarget({
    name,
    reusable: !name.startsWith('tcp'), // tcp://…:0 gives a new port each time
    reportsPeer: !name.startsWith('tcp'), // TCP has no peer credentials
    entry: ENTRY,
    fresh,
    killedPeerReason: 'peer',
    ...(leftovers ? { leftovers } : {}),
    rawClient: (address, bytes, end) =>
      new Promise<void>((resolve, reject) => {
        const s = netConnect(rawConnect(address), () => {
          s.write(bytes, () => {
            if (end) s.end()
            resolve()
          })
        })
        s.on('error', (err) => (s.connecting ? reject(err) : undefined))
        s.on('close', () => s.destroy())
      }),
  })
}

/** A private folder for socket files, removed by `dispose()`; `leftovers()` lists what is in it. */
export function socketFolder() {
  const dir = mkdtempSync(join(tmpdir(), 'ipc-socket-test-'))
  return {
    dir,
    fresh: () => `unix:${join(dir, `s${++counter}.sock`)}`,
    leftovers: async () => readdirSync(dir),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  }
}
