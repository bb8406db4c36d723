/**
 * The SDK's transports: `unix`, `tcp` (both @ipc/socket) and `pipe` (@ipc/pipe), default options
 * and the default msgpack codec, messages `{ seq, data: Uint8Array }`.
 */
import type { ChildProcess } from 'node:child_process'
import { type Transport, type TransportOptions, connect, listen } from '@ipc/core'
import { loadScheme } from '@ipc/core/mechanism'
import { fromParent, spawn } from '@ipc/pipe'
import {
  type ChildConfig,
  END,
  type Msg,
  type OurName,
  type PingPongPlan,
  type PingPongResult,
  type StreamPlan,
  type StreamResult,
  StreamCounter,
  checkEcho,
  makePayload,
  measurePingPong,
  produce,
} from '../common.js'
import { CHILD_STDIO, childArgs, guard, reap, spawnChild, track } from '../procs.js'
import type { Bench } from './bench.js'

type T = Transport<Msg, Msg>

/**
 * How the parent reads a stream: `iterate` (`for await (const m of transport)`, the default: it
 * measured a little faster) or `receive` (`await transport.receive()` in a loop). Settable with
 * IPC_BENCH_RECEIVE for comparison.
 */
export const RECEIVE_STYLE: 'iterate' | 'receive' = process.env.IPC_BENCH_RECEIVE === 'receive' ? 'receive' : 'iterate'

/**
 * Transport options for both sides: the defaults, unless IPC_BENCH_HWM sets a highWaterMark (in
 * bytes) to explore its effect (main.js then writes no results files). Children inherit the env.
 */
export const OUR_OPTIONS: TransportOptions<Msg> = process.env.IPC_BENCH_HWM ? { highWaterMark: Number(process.env.IPC_BENCH_HWM) } : {}

const EMPTY = new Uint8Array(0)

/** Bench names that are a scheme with address options: `shm+spin` polls an empty ring for 50 µs before sleeping. */
const VARIANTS: Partial<Record<OurName, [string, string]>> = { 'shm+spin': ['shm', '?spin=50'] }

interface Opened {
  transport: T
  child: ChildProcess
}

/** Starts the child and returns our end of the connection to it. */
async function open(name: OurName, folder: string, config: ChildConfig): Promise<Opened> {
  if (name === 'pipe') {
    const { child, transport } = spawn<Msg, Msg>(process.execPath, childArgs(config), { ...OUR_OPTIONS, spawn: { stdio: CHILD_STDIO } })
    track(child)
    return { transport, child }
  }
  // each mechanism names its own example address (its package is loaded by scheme); a variant
  // (`shm+spin`) is its scheme's address with options
  const [scheme, options] = VARIANTS[name] ?? [name, '']
  const address = (await loadScheme(scheme)).sampleAddresses!(folder)[0]! + options
  const listener = await listen<Msg, Msg>(address, OUR_OPTIONS)
  try {
    const child = spawnChild({ ...config, address: listener.address })
    const transport = await guard(child, listener.accept(), `${name}: accept`, 15_000)
    return { transport, child }
  } finally {
    await listener.close() // connections already accepted stay open; the socket file goes
  }
}

async function finish({ transport, child }: Opened): Promise<void> {
  await transport.close() // the child sees the end and exits
  await reap(child)
}

export function ours(name: OurName, folder: string): Bench {
  return {
    async pingPong(payloadBytes: number, plan: PingPongPlan): Promise<PingPongResult> {
      const opened = await open(name, folder, { name, mode: 'pingpong', payloadBytes, streamMs: 0 })
      const t = opened.transport
      try {
        const data = makePayload(payloadBytes)
        const run = measurePingPong(plan, async (seq) => {
          await t.send({ seq, data })
          const m = await t.receive()
          checkEcho(seq, m.seq, m.data.length, payloadBytes)
        })
        const result = await guard(opened.child, run, `${name} ping-pong`, plan.maxMs + 30_000)
        await finish(opened)
        return result
      } finally {
        opened.child.kill('SIGKILL')
        await t.close().catch(() => {})
      }
    },

    async stream(payloadBytes: number, plan: StreamPlan): Promise<StreamResult> {
      const opened = await open(name, folder, { name, mode: 'stream', payloadBytes, streamMs: plan.warmupMs + plan.durationMs })
      const t = opened.transport
      try {
        const counter = new StreamCounter(payloadBytes, plan.warmupMs)
        const run = (async (): Promise<StreamResult> => {
          if (RECEIVE_STYLE === 'iterate') {
            for await (const m of t) {
              if (m.seq === END) return counter.end(m.sent)
              counter.message(m.seq, m.data.length)
            }
            throw new Error(`${name} stream: the connection ended before the end marker`)
          }
          for (;;) {
            const m = await t.receive()
            if (m.seq === END) return counter.end(m.sent)
            counter.message(m.seq, m.data.length)
          }
        })()
        const result = await guard(opened.child, run, `${name} stream`, plan.warmupMs + plan.durationMs + 30_000)
        await finish(opened)
        return result
      } finally {
        opened.child.kill('SIGKILL')
        await t.close().catch(() => {})
      }
    },
  }
}

/** The child's side: echo (ping-pong) or stream, then wait for the parent to hang up. */
export async function oursChild(config: ChildConfig): Promise<void> {
  const t: T = config.name === 'pipe' ? fromParent<Msg, Msg>(OUR_OPTIONS) : await connect<Msg, Msg>(config.address!, OUR_OPTIONS)
  if (config.mode === 'pingpong') {
    for await (const m of t) await t.send(m)
  } else {
    const payload = makePayload(config.payloadBytes)
    const sent = await produce(config.streamMs, payload, (m) => t.send(m))
    await t.send({ seq: END, data: EMPTY, sent })
    for await (const _ of t) {
      // nothing comes; this waits for the parent to close
    }
  }
  await t.close()
}
