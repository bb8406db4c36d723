/**
 * One bench process per contender: `cells.js <name> <folder> <first cell> <total> [--quick]` runs
 * every cell of that name (ping-pong and stream for each payload) and sends its rows to the parent
 * (`main.js`) over the IPC channel. A fresh process per contender keeps the cells independent of
 * the order they run in: a long-lived parent grows its V8 heap with each contender's code until
 * it crosses V8's incremental-marking activation threshold (8 MB of old generation), after which a
 * small heap is marked back to back — measured at half of mq's 64 KiB throughput, in the old build
 * as in the new, depending only on what ran before (README, "One process per contender").
 */
import type { Name, PingPongPlan, PingPongResult, Row, StreamPlan, StreamResult } from './common.js'
import { PAYLOADS, attempt as attemptCounted, isOurs, log } from './common.js'
import type { Bench } from './peers/bench.js'
import { forkBench } from './peers/fork.js'
import { netCork } from './peers/net-cork.js'
import { ours } from './peers/ours.js'
import { zeromqBench } from './peers/zeromq.js'
import { cleanup } from './procs.js'
import { payloadLabel } from './report.js'

/** What a cells process sends its parent when it is done. */
export interface CellsResult {
  rows: Row[]
  failures: number
}

const [name, folder, firstArg, totalArg, ...flags] = process.argv.slice(2) as [Name, string, string, string, ...string[]]
const quick = flags.includes('--quick')
let failures = 0

function pingPongPlan(payload: number): PingPongPlan {
  if (quick) return { warmup: 1000, count: 2000, maxMs: 1000 }
  return payload >= 64 * 1024 ? { warmup: 500, count: 5000, maxMs: 3000 } : { warmup: 2000, count: 20000, maxMs: 3000 }
}

const streamPlan: StreamPlan = quick ? { warmupMs: 100, durationMs: 300 } : { warmupMs: 300, durationMs: 1500 }

function benchFor(): Bench {
  if (isOurs(name)) return ours(name, folder)
  switch (name) {
    case 'fork-json':
      return forkBench('json')
    case 'fork-advanced':
      return forkBench('advanced')
    case 'net-cork':
      return netCork(folder)
    case 'zeromq-ipc':
      return zeromqBench(folder)
  }
}

function attempt<T>(what: string, work: () => Promise<T>): Promise<T | undefined> {
  return attemptCounted(what, work, () => failures++)
}

function round(n: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

async function main(): Promise<Row[]> {
  const bench = benchFor()
  const rows: Row[] = []
  let cell = Number(firstArg)
  for (const payload of PAYLOADS) {
    const label = `[${cell++}/${totalArg}] ${name} ${payloadLabel(payload)}`
    const rtt: PingPongResult | undefined = await attempt(`${label} ping-pong`, () => bench.pingPong(payload, pingPongPlan(payload)))
    const tp: StreamResult | undefined = await attempt(`${label} stream`, () => bench.stream(payload, streamPlan))
    log(
      `${label}: ` +
        (rtt ? `rtt p50 ${rtt.p50Us.toFixed(1)} µs p99 ${rtt.p99Us.toFixed(1)} µs (${rtt.samples} round trips)` : 'rtt failed') +
        '; ' +
        (tp
          ? `${Math.round(tp.msgsPerSec).toLocaleString('en-US')} msgs/s, ${(tp.bytesPerSec / 1e6).toFixed(1)} MB/s (${tp.messages} msgs in ${tp.seconds.toFixed(2)} s)`
          : 'stream failed'),
    )
    rows.push({
      name,
      payloadBytes: payload,
      rttP50Us: rtt ? round(rtt.p50Us, 2) : null,
      rttP99Us: rtt ? round(rtt.p99Us, 2) : null,
      msgsPerSec: tp ? Math.round(tp.msgsPerSec) : null,
      bytesPerSec: tp ? Math.round(tp.bytesPerSec) : null,
    })
  }
  return rows
}

main()
  .catch((err) => {
    failures++
    log(`bench ${name}: ${(err as Error)?.stack ?? err}`)
    return [] as Row[]
  })
  .then((rows) => {
    cleanup()
    const result: CellsResult = { rows, failures }
    process.send!(result, () => process.exit(0))
  })
