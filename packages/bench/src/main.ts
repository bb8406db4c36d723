/**
 * `pnpm bench [--quick]`: every transport of the SDK against Node's child_process IPC, a
 * hand-written net + msgpackr baseline and zeromq; ping-pong latency and one-way throughput for
 * three payload sizes, each in fresh child processes run one at a time, then the backpressure
 * memory test and the idle-connection memory test (each in a fresh process). Progress goes to
 * stderr, the tables to stdout, the numbers to results/*.json.
 */
import { fork } from 'node:child_process'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import {
  type Name,
  OURS,
  PAYLOADS,
  PEERS,
  type PingPongPlan,
  type PingPongResult,
  type Row,
  type StreamPlan,
  type StreamResult,
  distFile,
  isOurs,
  log,
  now,
} from './common.js'
import type { IdleResult } from './idle.js'
import type { MemoryResult } from './memory.js'
import type { Bench } from './peers/bench.js'
import { forkBench } from './peers/fork.js'
import { netCork } from './peers/net-cork.js'
import { OUR_OPTIONS, RECEIVE_STYLE, ours } from './peers/ours.js'
import { zeromqBench } from './peers/zeromq.js'
import { cleanup, guard, makeFolder, reap, track } from './procs.js'
import { idleTable, memoryTable, payloadLabel, ratioTable, resultsTable } from './report.js'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
for (const a of args) {
  if (a !== '--quick') {
    log(`unknown argument ${a}; usage: pnpm bench [--quick]`)
    process.exit(2)
  }
}

function pingPongPlan(payload: number): PingPongPlan {
  if (quick) return { warmup: 1000, count: 2000, maxMs: 1000 }
  return payload >= 64 * 1024 ? { warmup: 500, count: 5000, maxMs: 3000 } : { warmup: 2000, count: 20000, maxMs: 3000 }
}

const streamPlan: StreamPlan = quick ? { warmupMs: 100, durationMs: 300 } : { warmupMs: 300, durationMs: 1500 }

function benchFor(name: Name, folder: string): Bench {
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

async function attempt<T>(what: string, work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work()
  } catch (err) {
    failures++
    log(`  FAILED ${what}: ${(err as Error)?.stack ?? err}`)
    return undefined
  }
}

async function runMemory(folder: string): Promise<MemoryResult | undefined> {
  const child = track(fork(distFile('memory.js'), [folder], { execArgv: ['--expose-gc'], serialization: 'json', stdio: ['ignore', 2, 2, 'ipc'] }))
  const result = new Promise<MemoryResult>((resolve) => child.once('message', (m) => resolve(m as MemoryResult)))
  try {
    return await guard(child, result, 'memory test', 30_000)
  } finally {
    await reap(child, 5000)
  }
}

async function runIdle(folder: string): Promise<IdleResult | undefined> {
  const child = track(fork(distFile('idle.js'), [folder], { execArgv: ['--expose-gc'], serialization: 'json', stdio: ['ignore', 2, 2, 'ipc'] }))
  const result = new Promise<IdleResult>((resolve) => child.once('message', (m) => resolve(m as IdleResult)))
  try {
    return await guard(child, result, 'idle test', 120_000)
  } finally {
    await reap(child, 5000)
  }
}

function writeJson(file: string, value: unknown): void {
  mkdirSync(distFile('../results'), { recursive: true })
  const path = distFile(`../results/${file}`)
  writeFileSync(`${path}.tmp`, `${JSON.stringify(value, null, 2)}\n`)
  renameSync(`${path}.tmp`, path)
}

let failures = 0

async function main(): Promise<void> {
  const started = now()
  const folder = makeFolder()
  // IPC_BENCH_ONLY=unix,net-cork runs a subset (for development; latest.json is not written then)
  const only = process.env.IPC_BENCH_ONLY?.split(',').map((s) => s.trim())
  const runsMemory = only === undefined || only.includes('memory')
  const runsIdle = only === undefined || only.includes('idle')
  const names: Name[] = [...OURS, ...PEERS].filter((n) => only === undefined || only.includes(n))
  const total = names.length * PAYLOADS.length
  const partial = only !== undefined || OUR_OPTIONS.highWaterMark !== undefined
  log(
    `ipc bench (${quick ? 'quick' : 'full'}): ${total} cells, node ${process.version}, ${cpus().length} cpus; our stream receiver: ${RECEIVE_STYLE}` +
      (OUR_OPTIONS.highWaterMark !== undefined ? `; our highWaterMark: ${OUR_OPTIONS.highWaterMark}` : ''),
  )
  const rows: Row[] = []
  let cell = 0
  for (const name of names) {
    const bench = benchFor(name, folder)
    for (const payload of PAYLOADS) {
      cell++
      const label = `[${cell}/${total}] ${name} ${payloadLabel(payload)}`
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
  }
  if (runsMemory) log('memory: unix, highWaterMark 1 MiB, a reader that reads nothing, 64 KiB sends aiming at 1 GiB…')
  const memory = runsMemory ? await attempt('memory test', () => runMemory(folder)) : undefined
  if (memory) {
    log(
      `memory: ${(memory.bytesAccepted / 1048576).toFixed(2)} MiB accepted, send ${memory.sendBlocked ? 'blocked' : 'did NOT block'}, ` +
        `peak RSS growth ${memory.peakRssGrowthMiB.toFixed(1)} MiB (limit ${memory.limitMiB} MiB)`,
    )
  }

  if (runsIdle) log('idle: 10 000 idle unix: connections (client ends here, server ends in a child), memory per end after 2.5 s idle…')
  const idle = runsIdle ? await attempt('idle test', () => runIdle(folder)) : undefined
  if (idle) {
    const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`
    log(
      `idle${idle.kind === 'net' ? ' (plain net sockets)' : ''}: per end: client RSS ${kib(idle.client.perEnd.rss)}, JS ${kib(idle.client.perEnd.js)}; ` +
        `server RSS ${kib(idle.server.perEnd.rss)}, JS ${kib(idle.server.perEnd.js)} (target ${kib(idle.targetBytesPerEnd)}); ` +
        `${idle.connections} connects in ${(idle.connectMs / 1000).toFixed(2)} s`,
    )
  }

  // latest.json only from a full run with default options; memory.json and idle.json whenever
  // their test ran (neither depends on IPC_BENCH_HWM; the idle test's net comparison is not written)
  const written: string[] = []
  if (!partial) {
    writeJson('latest.json', rows)
    written.push('latest.json')
  }
  if (memory) {
    writeJson('memory.json', memory)
    written.push('memory.json')
  }
  if (idle && idle.kind === 'ipc') {
    writeJson('idle.json', idle)
    written.push('idle.json')
  }

  const out: string[] = []
  if (names.length > 0) {
    out.push(
      `## Results (${quick ? 'quick' : 'full'} run)`,
      '',
      resultsTable(rows),
      '',
      '## Our transports relative to the peers (msgs/s: higher is better for us; RTT: lower is better for us)',
      '',
      ratioTable(rows),
      '',
    )
  }
  if (runsMemory) out.push('## Backpressure memory', '', memoryTable(memory), '')
  if (runsIdle) out.push(`## Memory per idle connection end${idle?.kind === 'net' ? ' (plain net sockets, for comparison)' : ''}`, '', idleTable(idle), '')
  process.stdout.write(out.join('\n'))
  log(
    `done in ${((now() - started) / 1000).toFixed(1)} s${failures ? `, ${failures} FAILED` : ''}; ` +
      (written.length > 0 ? `wrote ${written.map((f) => `packages/bench/results/${f}`).join(', ')}` : 'no results files written') +
      (partial ? ' (IPC_BENCH_ONLY/IPC_BENCH_HWM set: latest.json not written)' : ''),
  )
}

function round(n: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

main()
  .catch((err) => {
    failures++
    log(`bench: ${(err as Error)?.stack ?? err}`)
  })
  .finally(() => {
    cleanup()
    process.exit(failures > 0 ? 1 : 0)
  })
