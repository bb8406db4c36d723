import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { connect as netConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createRequire } from 'node:module'
import { type TransportOptions, listen } from '@ipc/core'
import { type ConformanceTarget, peerCommand } from '@ipc/core/testing'
import '../src/index.js'

const require = createRequire(import.meta.url)
/** The built entry of this package, for peer processes. */
export const ENTRY = join(dirname(require.resolve('@ipc/socket/package.json')), 'dist', 'index.js')

let counter = 0

/** A conformance target for one socket flavour; `fresh()` makes a new address. */
export function socketTarget(name: string, fresh: () => string, rawConnect: (address: string) => { path: string } | { host: string; port: number }, leftovers?: () => Promise<string[]>): ConformanceTarget {
  const spawnClient = (address: string, role: string, options: TransportOptions<any>) =>
    spawn(process.execPath, peerCommand(ENTRY, { connect: address }, role, options), { stdio: ['ignore', 'pipe', 'inherit'] })
  const injectAt = (address: string, bytes: Uint8Array, end: boolean) =>
    new Promise<void>((resolve, reject) => {
      const s = netConnect(rawConnect(address), () => {
        s.write(bytes, () => {
          if (end) s.end()
          resolve()
        })
      })
      s.on('error', (err) => (s.connecting ? reject(err) : undefined))
      s.on('close', () => s.destroy())
    })
  const target: ConformanceTarget = {
    name,
    killedPeerReason: 'peer',
    async startPeer(role, options) {
      const server = await listen(fresh(), options)
      try {
        const child = spawnClient(server.address, role, options)
        const transport = await server.accept({ timeout: 20_000 })
        return { transport, child }
      } finally {
        await server.close()
      }
    },
    async injectRaw(bytes, end, options) {
      const server = await listen(fresh(), options)
      try {
        await injectAt(server.address, bytes, end)
        return { transport: await server.accept({ timeout: 20_000 }) }
      } finally {
        await server.close()
      }
    },
    listener: {
      fresh,
      listen: (address, options) => listen(address, options),
      spawnClient,
      injectRaw: injectAt,
    },
  }
  if (leftovers) target.leftovers = leftovers
  return target
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
