/**
 * The conformance kit's peer program, run in a child process:
 *
 *   node peer.js --module <mechanism entry> (--connect <address> | --call <export>) --role <role> [--options <json>]
 *
 * It imports the mechanism (registering its scheme), opens its end of the connection, plays one
 * role, and prints one line `REPORT <json>` on stdout before it exits.
 */
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { connect } from '../registry.js'
import type { Transport, TransportOptions } from '../transport.js'

const { values } = parseArgs({
  options: {
    module: { type: 'string' },
    connect: { type: 'string' },
    call: { type: 'string' },
    role: { type: 'string' },
    options: { type: 'string' },
  },
})

function report(data: Record<string, unknown>): void {
  process.stdout.write(`REPORT ${JSON.stringify(data)}\n`)
}

interface Numbered {
  i: number
  pad?: Uint8Array
}

async function open(options: TransportOptions): Promise<Transport<any, any>> {
  const mod = (await import(pathToFileURL(values.module!).href)) as Record<string, unknown>
  if (values.connect) return connect(values.connect, options)
  const fn = mod[values.call!] as ((o: TransportOptions) => Transport<any, any> | Promise<Transport<any, any>>) | undefined
  if (typeof fn !== 'function') throw new Error(`${values.module} has no export ${values.call}`)
  return fn(options)
}

/** Stops for a random 0–2 ms (a peer that stalls now and then). */
function pause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 2))
}

async function main(): Promise<void> {
  const options = (values.options ? JSON.parse(values.options) : {}) as TransportOptions
  const t = await open(options)
  const [role, ...params] = values.role!.split(':')
  const n = (k: number): number => Number(params[k])
  switch (role) {
    case 'echo': {
      // echo[:<pauseOdds>] — send back every message until the other side closes; with
      // pauseOdds, before one echo in that many (on average) stop for up to 2 ms (a stalled peer)
      let count = 0
      const odds = params[0] === undefined ? 0 : 1 / n(0)
      for await (const m of t) {
        count++
        if (odds > 0 && Math.random() < odds) await pause()
        // once the other side has said goodbye, echoes have nowhere to go
        await t.send(m).catch((err) => {
          if (t.isOpen) throw err
        })
      }
      const info = await t.closed
      report({ count, reason: info.reason })
      break
    }
    case 'source': {
      // source:<count>:<padBytes>[:<pauseOdds>] — numbered messages as fast as backpressure
      // allows, then wait; with pauseOdds, before one send in that many stop for up to 2 ms
      const pad = new Uint8Array(n(1)).fill(7)
      const odds = params[2] === undefined ? 0 : 1 / n(2)
      for (let i = 0; i < n(0); i++) {
        if (odds > 0 && Math.random() < odds) await pause()
        await t.send({ i, pad })
      }
      report({ sent: n(0) })
      await t.closed
      break
    }
    case 'duplex': {
      // duplex:<count> — send and receive <count> numbered messages at once; check order
      const total = n(0)
      const sending = (async () => {
        for (let i = 0; i < total; i++) await t.send({ i })
      })()
      let expected = 0
      let ok = true
      for await (const m of t as Transport<unknown, Numbered>) {
        if (m.i !== expected) ok = false
        expected++
        if (expected === total) break
      }
      await sending
      report({ received: expected, ok })
      await t.close()
      break
    }
    case 'stall': {
      // stall — read nothing until SIGUSR1, then count numbered messages until a {done} message
      report({ stalled: true })
      const keepAlive = setInterval(() => {}, 1000) // a paused transport holds no active handle
      await new Promise<void>((resolve) => process.once('SIGUSR1', () => resolve()))
      clearInterval(keepAlive)
      let expected = 0
      let ok = true
      let bytes = 0
      for await (const m of t as Transport<unknown, Numbered & { done?: boolean }>) {
        if (m.done) break
        if (m.i !== expected) ok = false
        bytes += m.pad?.length ?? 0
        expected++
      }
      report({ received: expected, ok, bytes })
      await t.close()
      break
    }
    case 'close-after': {
      // close-after:<count> — receive <count> messages, then close this side
      for (let k = 0; k < n(0); k++) await t.receive()
      await t.close()
      report({ closed: true })
      break
    }
    case 'watch-close': {
      // report how this side saw the other side close
      const info = await t.closed
      report({ reason: info.reason, code: info.error?.code })
      break
    }
    default:
      throw new Error(`unknown role ${values.role}`)
  }
}

// stdout may be a socket (stdio 'pipe'): let the report reach it before exiting
main().then(
  () => process.stdout.write('', () => process.exit(0)),
  (err) => {
    process.stderr.write(`peer failed: ${(err as Error)?.stack ?? String(err)}\n`)
    process.exit(1)
  },
)
