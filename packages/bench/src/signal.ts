/**
 * `node dist/signal.js <folder> [--quick] [--limited]`: the `signal` rows — `@ipc/signal`'s
 * `signal:` transport, which carries four bytes per real-time signal:
 *
 * - signals per second one way: a child streams `{ i, pad }` messages of 1 KiB for a while, this
 *   process receives; signals = framed bytes / 4 (each frame is 4 bytes of length + the encoded
 *   message, and the stream is cut into 4-byte signals across frames);
 * - the round trip p50/p99 of a small message (an integer: 2 or 3 signals each way);
 * - with `--limited` (run under `prlimit --sigpending=64`, which the child inherits), the stream is
 *   checked whole and in order: zero loss at RLIMIT_SIGPENDING = 64.
 *
 * Prints one JSON line: `SignalRow`.
 */
import type { Transport } from '@ipc/core'
import { peerCommand } from '@ipc/core/testing'
import '@ipc/signal'
import { percentile } from './common.js'
import { withListenedPeer } from './procs.js'

/** The signal: figures of one run. */
export interface SignalRow {
  limited: boolean
  signalsPerSec: number
  messages: number
  inOrder: boolean
  rttP50Us: number
  rttP99Us: number
  roundTrips: number
}

const [, ...flags] = process.argv.slice(2)
const quick = flags.includes('--quick')
const limited = flags.includes('--limited')
const entry = new URL(import.meta.resolve('@ipc/signal')).pathname
const FRAME_HEADER = 4

function withPeer<T>(role: string, work: (t: Transport<unknown, unknown>) => Promise<T>): Promise<T> {
  return withListenedPeer('signal:', (address) => peerCommand(entry, { connect: address }, role), work)
}

async function stream(): Promise<{ signalsPerSec: number; messages: number; inOrder: boolean }> {
  const count = quick ? 3000 : limited ? 6000 : 20_000
  return withPeer(`source:${count}:1000`, async (t) => {
    let expected = 0
    let inOrder = true
    let t0 = 0
    let bytesAtStart = 0
    for await (const m of t as AsyncIterable<{ i: number; pad: Uint8Array }>) {
      if (m.i !== expected || m.pad.length !== 1000) inOrder = false
      expected++
      if (expected === 100) {
        t0 = performance.now() // after a warm-up
        bytesAtStart = t.stats.bytesIn + FRAME_HEADER * t.stats.messagesIn
      }
      if (expected === count) break
    }
    const seconds = (performance.now() - t0) / 1000
    const bytes = t.stats.bytesIn + FRAME_HEADER * t.stats.messagesIn - bytesAtStart
    return { signalsPerSec: bytes / 4 / seconds, messages: expected, inOrder }
  })
}

async function rtt(): Promise<{ p50: number; p99: number; n: number }> {
  const warmup = quick ? 500 : 2000
  const rounds = quick ? 2000 : 20_000
  return withPeer('echo', async (t) => {
    const samples = new Float64Array(rounds)
    for (let i = 0; i < warmup + rounds; i++) {
      const t0 = performance.now()
      await t.send(i)
      if ((await t.receive({ timeout: 10_000 })) !== i) throw new Error('signal bench: an echo came back wrong')
      if (i >= warmup) samples[i - warmup] = (performance.now() - t0) * 1000
    }
    samples.sort()
    return { p50: percentile(samples, 50), p99: percentile(samples, 99), n: rounds }
  })
}

const s = await stream()
const r = limited ? { p50: Number.NaN, p99: Number.NaN, n: 0 } : await rtt()
const row: SignalRow = { limited, ...s, rttP50Us: r.p50, rttP99Us: r.p99, roundTrips: r.n }
process.stdout.write(`${JSON.stringify(row)}\n`)
process.exit(0)
