/**
 * `pnpm bench [--quick]`: every transport of the SDK against Node's child_process IPC, a
 * hand-written net + msgpackr baseline and zeromq; ping-pong latency and one-way throughput for
 * three payload sizes, each contender in a process of its own (cells.ts) whose peers are fresh
 * child processes, one cell at a time, then the backpressure
 * memory test and the idle-connection memory test (each in a fresh process). Progress goes to
 * stderr, the tables to stdout, the numbers to results/*.json.
 */
import { fork, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import type { CellsResult } from './cells.js'
import { type Name, OURS, PAYLOADS, PEERS, type Row, attempt as attemptCounted, distFile, isOurs, log, now, setLogSink } from './common.js'
import { Progress } from './progress.js'
import { payloadLabel } from './report.js'
import { createInterface } from 'node:readline'
import { floorTable, readFloor } from './floor.js'
import type { IdleResult } from './idle.js'
import type { MemoryResult } from './memory.js'
import type { SemaphoreRow } from './semaphore.js'
import type { NatsRawRow } from './nats-raw.js'
import { benchSvg } from './svg.js'
import type { PatternsRow } from './patterns.js'
import type { SignalRow } from './signal.js'
import { OUR_OPTIONS, RECEIVE_STYLE } from './peers/ours.js'
import { cleanup, guard, makeFolder, reap, track } from './procs.js'
import { Broker } from '@ipc/nats/testing'
import { idleTable, memoryTable, natsTable, patternsTable, ratioTable, resultsTable, semaphoreTable, signalTable } from './report.js'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
/** What can be named on the command line (or in IPC_BENCH_ONLY): transports, peers, and the memory and idle tests. */
const KNOWN: readonly string[] = [...OURS, ...PEERS, 'memory', 'idle', 'syscalls', 'semaphore', 'signal', 'patterns']
const named = args.filter((a) => a !== '--quick')
for (const a of named) {
  if (!KNOWN.includes(a)) {
    log(`unknown argument ${a}; usage: pnpm bench [--quick] [names…], names: ${KNOWN.join(', ')}`)
    process.exit(2)
  }
}
let progress: Progress | undefined
/** The cell numbered `cell` (1-based) as `transport payload`; set once the names are known. */
let cellLabel: (cell: number) => string = () => ''

function attempt<T>(what: string, work: () => Promise<T>): Promise<T | undefined> {
  return attemptCounted(what, work, () => failures++)
}

/** Runs every cell of `name` in a fresh process (cells.ts says why) and returns its rows. */
async function runCells(name: Name, folder: string, first: number, total: number): Promise<Row[]> {
  const child = track(
    fork(distFile('cells.js'), [name, folder, String(first), String(total), ...(quick ? ['--quick'] : [])], {
      serialization: 'json',
      // on a terminal the cells' lines come through here, so they go above the status line
      stdio: progress?.live ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 2, 2, 'ipc'],
    }),
  )
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue
    createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
      log(line)
      const cell = /^\[(\d+)\/\d+\] /.exec(line)
      if (cell) progress?.cells(Number(cell[1]), cellLabel(Number(cell[1]) + 1))
    })
  }
  const result = new Promise<CellsResult>((resolve) => child.once('message', (m) => resolve(m as CellsResult)))
  const budgetMs = PAYLOADS.length * 60_000
  try {
    const { rows, failures: failed } = await guard(child, result, `${name} cells`, budgetMs)
    failures += failed
    return rows
  } catch (err) {
    failures++
    log(`  FAILED ${name}: ${(err as Error)?.message ?? err}`)
    return []
  } finally {
    await reap(child, 5000)
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

/** Syscalls per message of a saturated `shm:` stream (both processes), from `strace -f -c`; undefined without strace. */
interface SyscallResult {
  messages: number
  syscalls: number
  baseline: number
  perMessage: number
}

function runSyscalls(folder: string): SyscallResult | undefined {
  if (spawnSync('strace', ['-V']).status !== 0) return undefined
  const traced = (streamMs: number): { messages: number; syscalls: number } => {
    const out = `${folder}/strace-${streamMs}.txt`
    const run = spawnSync(
      'strace',
      ['-f', '-c', '-o', out, process.execPath, distFile('syscalls.js'), `shm:/${folder.split('/').pop()}-sys`, String(streamMs)],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    )
    if (run.status !== 0) throw new Error(`strace run failed: ${run.stderr}`)
    const total = /^\s*[\d.]+\s+[\d.]+\s+\d*\s+(\d+)\s+(?:\d+\s+)?total$/m.exec(readFileSync(out, 'utf8'))
    if (!total) throw new Error('no total line in the strace summary')
    return { messages: (JSON.parse(run.stdout.trim().split('\n').pop()!) as { messages: number }).messages, syscalls: Number(total[1]) }
  }
  const idle = traced(0)
  const busy = traced(1500)
  return { messages: busy.messages, syscalls: busy.syscalls, baseline: idle.syscalls, perMessage: (busy.syscalls - idle.syscalls) / busy.messages }
}

/** The `semaphore` rows: @ipc/sem's Semaphore API, in a process of its own (`dist/semaphore.js`). */
function runSemaphore(folder: string): SemaphoreRow[] {
  const run = spawnSync(process.execPath, [distFile('semaphore.js'), folder, ...(quick ? ['--quick'] : [])], { encoding: 'utf8', timeout: 120_000 })
  if (run.status !== 0) throw new Error(`semaphore bench failed: ${run.stderr}`)
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as SemaphoreRow[]
}

/** The NATS floor: the client library alone between two processes (`dist/nats-raw.js`). */
function runNatsRaw(url: string): NatsRawRow {
  const run = spawnSync(process.execPath, [distFile('nats-raw.js'), url, ...(quick ? ['--quick'] : [])], { encoding: 'utf8', timeout: 180_000 })
  if (run.status !== 0) throw new Error(`nats raw bench failed: ${run.stderr}`)
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as NatsRawRow
}

/** The `patterns` rows: @ipc/patterns over unix: (RPC and fan-out), in a process of its own (`dist/patterns.js`). */
function runPatterns(folder: string): PatternsRow {
  const run = spawnSync(process.execPath, [distFile('patterns.js'), folder, ...(quick ? ['--quick'] : [])], { encoding: 'utf8', timeout: 180_000 })
  if (run.status !== 0) throw new Error(`patterns bench failed: ${run.stderr}`)
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as PatternsRow
}

/** The `signal` rows: the signal: transport in a process of its own, then under RLIMIT_SIGPENDING = 64 (`prlimit`, inherited by its child). */
function runSignal(folder: string): SignalRow[] {
  const run = (limited: boolean): SignalRow => {
    const args = [distFile('signal.js'), folder, ...(quick ? ['--quick'] : []), ...(limited ? ['--limited'] : [])]
    const r = limited
      ? spawnSync('prlimit', ['--sigpending=64', process.execPath, ...args], { encoding: 'utf8', timeout: 180_000 })
      : spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 180_000 })
    if (r.status !== 0) throw new Error(`signal bench${limited ? ' (limited)' : ''} failed: ${r.stderr}`)
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as SignalRow
  }
  const rows = [run(false)]
  if (spawnSync('prlimit', ['--version']).status === 0) rows.push(run(true))
  return rows
}

function writeJson(file: string, value: unknown): void {
  writeResult(file, `${JSON.stringify(value, null, 2)}\n`)
}

/** Writes a results file whole (through a temporary name). */
function writeResult(file: string, text: string): void {
  mkdirSync(distFile('../results'), { recursive: true })
  const path = distFile(`../results/${file}`)
  writeFileSync(`${path}.tmp`, text)
  renameSync(`${path}.tmp`, path)
}

let failures = 0

async function main(): Promise<void> {
  const started = now()
  const folder = makeFolder()
  // IPC_BENCH_ONLY=unix,net-cork runs a subset (for development; latest.json is not written then)
  const only = named.length > 0 ? named : process.env.IPC_BENCH_ONLY?.split(',').map((s) => s.trim())
  const runsMemory = only === undefined || only.includes('memory')
  const runsIdle = only === undefined || only.includes('idle')
  const names: Name[] = [...OURS, ...PEERS].filter((n) => only === undefined || only.includes(n))
  const total = names.length * PAYLOADS.length
  const partial = only !== undefined || OUR_OPTIONS.highWaterMark !== undefined
  log(
    `ipc bench (${quick ? 'quick' : 'full'}): ${total} cells, node ${process.version}, ${cpus().length} cpus; our stream receiver: ${RECEIVE_STYLE}` +
      (OUR_OPTIONS.highWaterMark !== undefined ? `; our highWaterMark: ${OUR_OPTIONS.highWaterMark}` : ''),
  )
  // nats: a private nats-server on a random loopback port for the run (unless IPC_NATS_URL names one)
  let natsServer: Broker | undefined
  if (names.includes('nats') && !process.env.IPC_NATS_URL) {
    natsServer = await attempt('nats-server', () => Broker.start({ detached: true }))
    if (natsServer) process.env.IPC_NATS_URL = natsServer.url
  }
  const rows: Row[] = []
  const cellsStarted = now()
  progress = new Progress(total)
  if (progress.live) setLogSink((text) => progress?.line(text))
  cellLabel = (cell: number) =>
    cell > total ? '' : `${names[Math.floor((cell - 1) / PAYLOADS.length)]} ${payloadLabel(PAYLOADS[(cell - 1) % PAYLOADS.length])}`
  progress.cells(0, cellLabel(1))
  for (const [i, name] of names.entries()) {
    rows.push(...(await runCells(name, folder, i * PAYLOADS.length + 1, total)))
    progress.cells((i + 1) * PAYLOADS.length, cellLabel((i + 1) * PAYLOADS.length + 1))
    // progress: cells done, time so far, and a guess at what is left (by the mean per transport so far)
    const doneNames = i + 1
    const elapsed = (now() - cellsStarted) / 1000
    const left = (elapsed / doneNames) * (names.length - doneNames)
    log(
      `progress: ${doneNames * PAYLOADS.length}/${total} cells in ${elapsed.toFixed(0)} s${doneNames < names.length ? `, about ${left.toFixed(0)} s of cells left` : ''}`,
    )
  }
  const natsRaw = process.env.IPC_NATS_URL && names.includes('nats') ? await attempt('nats raw', async () => runNatsRaw(process.env.IPC_NATS_URL!)) : undefined
  if (natsRaw) {
    log(
      `nats raw (the client library alone, no session): ${Math.round(natsRaw.msgsPerSec).toLocaleString('en-US')} msgs/s of 64 B one way ` +
        `(${natsRaw.delivered}/${natsRaw.published} delivered), ping-pong p50 ${natsRaw.rttP50Us.toFixed(1)} µs`,
    )
  }
  await natsServer?.stop()
  progress.stop()
  setLogSink(undefined)
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

  const runsSyscalls = only === undefined || only.includes('syscalls')
  if (runsSyscalls) log('syscalls: a saturated shm: stream of 64 B under strace -f -c, less start-up and handshake alone…')
  const syscalls = runsSyscalls ? await attempt('syscalls', async () => runSyscalls(folder)) : undefined
  if (runsSyscalls) {
    log(
      syscalls === undefined
        ? 'syscalls: strace is not installed (apt install strace); not measured'
        : `syscalls: ${syscalls.syscalls - syscalls.baseline} syscalls for ${syscalls.messages.toLocaleString('en-US')} messages: ${syscalls.perMessage.toFixed(5)} per message (both processes)`,
    )
  }

  const runsSemaphore = only === undefined || only.includes('semaphore')
  if (runsSemaphore) log('semaphore: @ipc/sem Semaphore API, POSIX and System V: acquire+release pairs, tryAcquire, cross-process hand-off…')
  const semaphore = runsSemaphore ? await attempt('semaphore', async () => runSemaphore(folder)) : undefined
  if (semaphore) {
    for (const r of semaphore) {
      log(
        `semaphore ${r.kind}: ${Math.round(r.pairsPerSec).toLocaleString('en-US')} acquire+release pairs/s, ` +
          `${Math.round(r.tryAcquirePerSec).toLocaleString('en-US')} tryAcquire/s, hand-off p50 ${r.handoffP50Us.toFixed(1)} µs p99 ${r.handoffP99Us.toFixed(1)} µs`,
      )
    }
  }

  const runsSignal = only === undefined || only.includes('signal')
  if (runsSignal) log('signal: the signal: transport — signals/s one way, round trip of a small message, then under RLIMIT_SIGPENDING = 64…')
  const signal = runsSignal ? await attempt('signal', async () => runSignal(folder)) : undefined
  if (signal) {
    for (const r of signal) {
      log(
        `signal${r.limited ? ' (RLIMIT_SIGPENDING 64)' : ''}: ${Math.round(r.signalsPerSec).toLocaleString('en-US')} signals/s one way, ` +
          `${r.messages} messages ${r.inOrder ? 'whole and in order' : 'NOT in order'}` +
          (r.limited ? '' : `; small-message round trip p50 ${r.rttP50Us.toFixed(1)} µs p99 ${r.rttP99Us.toFixed(1)} µs`),
      )
    }
  }

  const runsPatterns = only === undefined || only.includes('patterns')
  if (runsPatterns) log('patterns: @ipc/patterns over unix: — RPC calls/s (256 in flight), RPC round trip beside a bare ping-pong, fan-out to 10 subscribers…')
  const patterns = runsPatterns ? await attempt('patterns', async () => runPatterns(folder)) : undefined
  if (patterns) {
    log(
      `patterns: RPC ${Math.round(patterns.rpcCallsPerSec).toLocaleString('en-US')} calls/s, RTT p50 ${patterns.rpcRttP50Us.toFixed(1)} µs ` +
        `(bare ${patterns.bareRttP50Us.toFixed(1)} µs, ×${(patterns.rpcRttP50Us / patterns.bareRttP50Us).toFixed(2)}); ` +
        `fan-out ${Math.round(patterns.fanoutDeliveriesPerSec).toLocaleString('en-US')} deliveries/s to ${patterns.fanoutSubscribers} subscribers, ${patterns.fanoutLost} lost`,
    )
  }

  // results/ holds the committed full run: a quick run (a newcomer's first try) only prints. latest.json
  // only from a full run with default options; memory.json and idle.json from every full run that ran
  // their test (neither depends on IPC_BENCH_HWM; the idle test's net comparison is not written)
  const written: string[] = []
  if (!partial && !quick) {
    writeJson('latest.json', rows)
    writeResult(
      'latest.svg',
      benchSvg(rows, readFloor(), `ipc bench: ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${cpus().length} cpus`),
    )
    written.push('latest.json', 'latest.svg')
  }
  if (memory && !quick) {
    writeJson('memory.json', memory)
    written.push('memory.json')
  }
  if (semaphore && !quick) {
    writeJson('semaphore.json', semaphore)
    written.push('semaphore.json')
  }
  if (natsRaw && !quick && !partial) {
    writeJson('nats-raw.json', natsRaw)
    written.push('nats-raw.json')
  }
  if (patterns && !quick) {
    writeJson('patterns.json', patterns)
    written.push('patterns.json')
  }
  if (signal && !quick) {
    writeJson('signal.json', signal)
    written.push('signal.json')
  }
  if (idle && idle.kind === 'ipc' && !quick) {
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
      '## Our transports relative to the C floor of their mechanism',
      '',
      floorTable(rows, readFloor(), names.filter(isOurs)),
      '',
    )
  }
  if (runsMemory) out.push('## Backpressure memory', '', memoryTable(memory), '')
  if (syscalls) {
    out.push(
      '## Syscalls per message, shm: at saturation (strace -f -c, both processes)',
      '',
      `${(syscalls.syscalls - syscalls.baseline).toLocaleString('en-US')} syscalls beyond start-up for ${syscalls.messages.toLocaleString('en-US')} messages of 64 B: **${syscalls.perMessage.toFixed(5)} per message** (target < 0.01).`,
      '',
    )
  }
  if (natsRaw) out.push('## nats: the session layer beside the client library alone (same server, same run)', '', natsTable(rows, natsRaw), '')
  if (runsPatterns) out.push('## @ipc/patterns over `unix:` (`patterns`)', '', patternsTable(patterns), '')
  if (runsSignal) out.push('## signal: (`signal`: four bytes per real-time signal)', '', signalTable(signal, readFloor()), '')
  if (runsSemaphore) out.push('## Semaphore API (`semaphore`: @ipc/sem, uncontended, and a hand-off between two processes)', '', semaphoreTable(semaphore), '')
  if (runsIdle) out.push(`## Memory per idle connection end${idle?.kind === 'net' ? ' (plain net sockets, for comparison)' : ''}`, '', idleTable(idle), '')
  process.stdout.write(out.join('\n'))
  log(
    `done in ${((now() - started) / 1000).toFixed(1)} s${failures ? `, ${failures} FAILED` : ''}; ` +
      (written.length > 0 ? `wrote ${written.map((f) => `packages/bench/results/${f}`).join(', ')}` : 'no results files written') +
      (partial ? ' (IPC_BENCH_ONLY/IPC_BENCH_HWM set: latest.json not written)' : ''),
  )
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
