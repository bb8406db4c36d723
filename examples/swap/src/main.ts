/**
 * `pnpm demo`: runs the same typed program over every registered transport. For each address, the
 * service process is started and dials back; the caller then makes typed calls, checks every
 * reply, and measures round-trip time and rate. Only the address string differs between rows.
 */
import { spawn as spawnNode } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SCHEME_PACKAGES, type Transport, isIpcError, listen, parseAddress } from '@ipc/core'
import { loadScheme } from '@ipc/core/mechanism'
import { client } from '@ipc/patterns'
import { spawn as spawnWithPipes } from '@ipc/pipe'
import type { Procedures } from './protocol.js'

const SERVICE = fileURLToPath(new URL('./service.js', import.meta.url))
const CALLS = 20_000
const PINGS = 2_000
const WINDOW = 256

/**
 * The example addresses of every scheme whose package is installed (each package gives its own;
 * nothing here names a mechanism). This program imports no mechanism package for them: `listen()`
 * and `connect()` load the package that serves an address on first use.
 */
async function exampleAddresses(dir: string): Promise<string[]> {
  const addresses: string[] = []
  for (const scheme of Object.keys(SCHEME_PACKAGES)) {
    try {
      const handler = await loadScheme(scheme)
      addresses.push(...(handler.sampleAddresses?.(dir) ?? []))
    } catch (err) {
      if (!isIpcError(err, 'ERR_IPC_UNSUPPORTED')) throw err // a package of the SDK that is not installed here
    }
  }
  return addresses
}

/** Starts the service for `address` and returns our end of its connection. */
async function startService(address: string): Promise<{ transport: Transport<any, any>; stop: () => void }> {
  if (parseAddress(address).scheme === 'pipe') {
    const { child, transport } = spawnWithPipes(process.execPath, [SERVICE, address])
    return { transport, stop: () => child.kill() }
  }
  const listener = await listen(address)
  const child = spawnNode(process.execPath, [SERVICE, listener.address], { stdio: 'inherit' })
  try {
    return { transport: await listener.accept({ timeout: 10_000 }), stop: () => child.kill() }
  } finally {
    await listener.close()
  }
}

interface Row {
  address: string
  verified: number
  rttP50Us: number
  perSecond: number
}

async function run(address: string): Promise<Row> {
  const { transport, stop } = await startService(address)
  const api = client<Procedures>(transport)
  let verified = 0
  try {
    // round trips, one at a time
    const rtts: number[] = []
    for (let seq = 0; seq < PINGS; seq++) {
      const t0 = process.hrtime.bigint()
      const back = await api.call('ping', seq)
      rtts.push(Number(process.hrtime.bigint() - t0) / 1000)
      if (back !== seq) throw new Error(`ping ${seq} came back as ${back}`)
      verified++
    }
    rtts.sort((a, b) => a - b)
    // many calls in flight, of every kind, each reply checked
    const blob = new Uint8Array(256).map((_, k) => k)
    const blobDigest = createHash('sha256').update(blob).digest('hex')
    const one = async (k: number): Promise<void> => {
      switch (k % 3) {
        case 0: {
          const q = await api.call('quote', { sku: `sku-${k}`, quantity: k % 7, unitCents: 250 })
          if (q.sku !== `sku-${k}` || q.totalCents !== (k % 7) * 250) throw new Error(`bad quote for ${k}`)
          break
        }
        case 1:
          if ((await api.call('shout', `order ${k}`)) !== `ORDER ${k}`) throw new Error(`bad shout for ${k}`)
          break
        default:
          if ((await api.call('digest', blob)) !== blobDigest) throw new Error(`bad digest for ${k}`)
      }
      verified++
    }
    const t0 = performance.now()
    let next = 0
    await Promise.all(
      Array.from({ length: WINDOW }, async () => {
        while (next < CALLS) await one(next++)
      }),
    )
    const seconds = (performance.now() - t0) / 1000
    return { address, verified, rttP50Us: rtts[rtts.length >> 1]!, perSecond: CALLS / seconds }
  } finally {
    await transport.close()
    stop()
  }
}

/**
 * `nats://` needs a server: one named by IPC_NATS_URL, or a private nats-server started for the
 * demo when the binary is installed (`apt-get install nats-server`); otherwise nats is left out.
 */
async function natsServer(): Promise<{ stop(): Promise<void> } | undefined> {
  if (process.env.IPC_NATS_URL) return undefined
  try {
    const { Broker } = await import('@ipc/nats/testing')
    const server = await Broker.start({ detached: true })
    process.env.IPC_NATS_URL = server.url
    return server
  } catch (err) {
    process.stderr.write(`(nats left out: ${(err as Error).message.split('\n')[0]})\n`)
    return undefined
  }
}

const dir = mkdtempSync(join(tmpdir(), 'ipc-swap-'))
const broker = await natsServer()
try {
  const rows: Row[] = []
  for (const address of await exampleAddresses(dir)) {
    process.stderr.write(`running over ${address} …\n`)
    rows.push(await run(address))
  }
  const shown = (a: string): string => a.replace(dir, '$TMP')
  console.log('\n| transport | messages verified | round-trip p50 | calls/s (256 in flight) |')
  console.log('|---|---:|---:|---:|')
  for (const r of rows) {
    console.log(`| \`${shown(r.address)}\` | ${r.verified} | ${r.rttP50Us.toFixed(1)} µs | ${Math.round(r.perSecond).toLocaleString('en-US')} |`)
  }
  console.log(`\nEvery row ran the same program (src/service.ts, src/protocol.ts); only the address differed.`)
} finally {
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
}
