/**
 * Memory per idle connection end, run by main.js in this fresh process (started with
 * `--expose-gc`): 10 000 `unix:` connections, the client ends here, the accepted server ends in one
 * child process (this file again, `--server`; the file-descriptor limit is 20 000, so the two ends
 * of 10 000 connections do not fit in one process). Every connection exchanges one small message
 * each way (so a send slab was taken on both ends), then everything sits idle for 2.5 s (core's
 * sweeper gives an idle slab back within 1–2 s), both processes collect garbage and measure
 * `process.memoryUsage()`; the growth over the baseline (taken after a collection, before the first
 * connection) divided by 10 000 is the cost of one idle end. The result goes to the parent over the
 * IPC channel main.js opened.
 *
 * `IPC_BENCH_IDLE_KIND=net` measures plain `net` sockets instead of transports (same socket file,
 * same bytes, the server echoes them raw): what the socket alone costs, for comparison (main.js
 * then writes no idle.json).
 */
import { type ChildProcess, fork } from 'node:child_process'
import { type Server, type Socket, connect as netConnect, createServer } from 'node:net'
import { type Listener, type Transport, connect, listen } from '@ipc/core'
import '@ipc/socket'
import { pack } from 'msgpackr'
import { type Msg, distFile, log, makePayload, now, sleep } from './common.js'
import { cleanup, guard, makeFolder, reap, removeFolder, track } from './procs.js'

/** What `process.memoryUsage()` reports (bytes), after a forced collection. */
export interface MemorySnapshot {
  rss: number
  heapTotal: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

/** Growth per connection end, in bytes. */
export interface PerEnd {
  rss: number
  /** heapUsed + external: what JavaScript can see (external includes arrayBuffers). */
  js: number
  arrayBuffers: number
}

export interface IdleSide {
  role: 'client' | 'server'
  /** Connection ends this process held when it measured. */
  ends: number
  /** After a collection, before the first connection (the warm-up connections already closed). */
  before: MemorySnapshot
  /** After a collection, right after the last exchange (earlier batches' slabs may already be given back). */
  afterExchange: MemorySnapshot
  /** After a collection, after the idle period: what is measured. */
  after: MemorySnapshot
  /** (after − before) / ends. */
  perEnd: PerEnd
  /** (afterExchange − before) / ends. */
  perEndAfterExchange: PerEnd
  /** perEnd.rss and perEnd.js both ≤ the target. */
  withinTarget: boolean
}

export interface IdleResult {
  transport: 'unix'
  /** `ipc`: the SDK's transports; `net`: plain net sockets (comparison only). */
  kind: 'ipc' | 'net'
  connections: number
  batch: number
  /** Bytes of the one message each way (encoded, without the 4-byte prefix). */
  messageBytes: number
  /** Connections opened, exchanged and closed before the baseline (one-time costs: JIT, codec scratch). */
  warmup: number
  /** How long everything sat idle before the final measurement. */
  idleMs: number
  /** Sum over the batches of the time for a batch's connects (all in parallel) to resolve. */
  connectMs: number
  connectsPerSec: number
  /** Sum over the batches of the time for a batch's exchanges. */
  exchangeMs: number
  /** The target: at most this many bytes per idle end, reserved (js) or resident (rss). */
  targetBytesPerEnd: number
  client: IdleSide
  server: IdleSide
  withinTarget: boolean
}

const CONNECTIONS = 10_000
const BATCH = 500
const WARMUP = 20
const BACKLOG = 1024
const IDLE_MS = 2500
const TARGET = 16 * 1024
const MESSAGE: Msg = { seq: 0, data: makePayload(32) }
const KIND: 'ipc' | 'net' = process.env.IPC_BENCH_IDLE_KIND === 'net' ? 'net' : 'ipc'

type T = Transport<Msg, Msg>

// ---- measuring ----

const gc = (globalThis as { gc?: () => void }).gc

async function snapshot(): Promise<MemorySnapshot> {
  if (gc === undefined) throw new Error('the idle test needs --expose-gc')
  gc()
  await sleep(50)
  gc()
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage()
  return { rss, heapTotal, heapUsed, external, arrayBuffers }
}

function perEnd(before: MemorySnapshot, after: MemorySnapshot, ends: number): PerEnd {
  return {
    rss: (after.rss - before.rss) / ends,
    js: (after.heapUsed + after.external - (before.heapUsed + before.external)) / ends,
    arrayBuffers: (after.arrayBuffers - before.arrayBuffers) / ends,
  }
}

function side(role: 'client' | 'server', ends: number, before: MemorySnapshot, afterExchange: MemorySnapshot, after: MemorySnapshot): IdleSide {
  const p = perEnd(before, after, ends)
  return {
    role,
    ends,
    before,
    afterExchange,
    after,
    perEnd: p,
    perEndAfterExchange: perEnd(before, afterExchange, ends),
    withinTarget: ends > 0 && p.rss <= TARGET && p.js <= TARGET,
  }
}

// ---- the two kinds of connection end ----

/** `[u32 LE length][msgpack]`, what our transport writes for MESSAGE (and the net kind sends raw). */
const FRAME = (() => {
  const body = pack(MESSAGE)
  const frame = Buffer.allocUnsafe(4 + body.length)
  frame.writeUInt32LE(body.length, 0)
  body.copy(frame, 4)
  return frame
})()

const noop = (): void => {}

/** The client side of one kind: ends are kept as they are (no wrapper object per end). */
interface ClientKind {
  connect(address: string): Promise<unknown>
  /** One message each way. */
  exchange(end: unknown, seq: number): Promise<void>
  close(end: unknown): Promise<void>
}

const ipcClient: ClientKind = {
  connect: (address) => connect<Msg, Msg>(`unix:${address}`, { timeout: 30_000 }),
  async exchange(end, seq) {
    const t = end as T
    await t.send({ seq, data: MESSAGE.data })
    const echo = await t.receive({ timeout: 30_000 })
    if (echo.seq !== seq || echo.data.length !== MESSAGE.data.length) throw new Error(`idle: connection ${seq} got a wrong echo (seq ${echo.seq})`)
  },
  close: (end) => (end as T).close(),
}

const netClient: ClientKind = {
  connect: (address) =>
    new Promise<Socket>((resolve, reject) => {
      const s = netConnect({ path: address })
      s.once('connect', () => {
        s.off('error', reject)
        s.on('error', noop)
        resolve(s)
      })
      s.once('error', reject)
    }),
  exchange(end) {
    const s = end as Socket
    return new Promise<void>((resolve, reject) => {
      let got = 0
      const onData = (chunk: Buffer): void => {
        got += chunk.length
        if (got >= FRAME.length) {
          s.off('data', onData)
          s.off('close', onClose)
          resolve()
        }
      }
      const onClose = (): void => reject(new Error('idle: the server closed a connection'))
      s.on('data', onData)
      s.once('close', onClose)
      s.write(FRAME)
    })
  },
  close: (end) =>
    new Promise<void>((resolve) => {
      const s = end as Socket
      if (s.closed) return resolve()
      s.once('close', () => resolve())
      s.end()
    }),
}

// ---- the server child ----

/** Client → server. */
type Command = { type: 'baseline' } | { type: 'measure' } | { type: 'close' }
/** Server → client. */
type Report =
  | { type: 'listening'; address: string }
  | { type: 'baseline'; before: MemorySnapshot }
  | { type: 'measured'; ends: number; afterExchange: MemorySnapshot; after: MemorySnapshot; failures: number; firstFailure?: string }
  | { type: 'closed' }

async function server(folder: string): Promise<void> {
  // never outlive the measuring process
  process.on('disconnect', () => process.exit(3))
  const path = `${folder}/idle.sock`
  const ends: unknown[] = []
  let failures = 0
  let firstFailure: string | undefined
  const failed = (err: unknown): void => {
    failures++
    firstFailure ??= String((err as Error)?.message ?? err)
  }
  let listener: Listener<Msg, Msg> | undefined
  let netServer: Server | undefined
  let accepting: Promise<void> | undefined
  if (KIND === 'ipc') {
    const l = await listen<Msg, Msg>(`unix:${path}`, { backlog: BACKLOG })
    listener = l
    accepting = (async () => {
      for await (const t of l) {
        ends.push(t)
        // echo the one message
        t.receive()
          .then((m) => t.send(m))
          .catch(failed)
      }
    })()
  } else {
    const s = createServer((socket) => {
      ends.push(socket)
      socket.on('error', noop)
      socket.on('data', (chunk) => socket.write(chunk))
    })
    netServer = s
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.listen({ path, backlog: BACKLOG }, () => {
        s.off('error', reject)
        resolve()
      })
    })
  }
  const closedAll = (list: unknown[]): Promise<unknown> =>
    Promise.all(list.map((e) => (KIND === 'ipc' ? (e as T).closed : (e as Socket).closed ? undefined : new Promise((r) => (e as Socket).once('close', r)))))
  const send = (report: Report): void => void process.send!(report)
  let before: MemorySnapshot | undefined
  process.on('message', (command: Command) => {
    void (async () => {
      switch (command.type) {
        case 'baseline':
          // the warm-up connections: the client has closed them
          await closedAll(ends)
          ends.length = 0
          before = await snapshot()
          send({ type: 'baseline', before })
          return
        case 'measure': {
          // every echo has been sent (the client has received them all)
          const afterExchange = await snapshot()
          await sleep(IDLE_MS)
          const after = await snapshot()
          send({ type: 'measured', ends: ends.length, afterExchange, after, failures, ...(firstFailure !== undefined ? { firstFailure } : {}) })
          return
        }
        case 'close':
          await listener?.close()
          await accepting
          netServer?.close()
          // the client closed its ends; ours follow (for the ipc kind the peer's GOODBYE ends them)
          await Promise.race([closedAll(ends), sleep(10_000)])
          for (const e of ends) KIND === 'ipc' ? void (e as T).close() : (e as Socket).destroy()
          ends.length = 0
          process.send!({ type: 'closed' } satisfies Report, () => process.exit(0))
          return
      }
    })().catch((err) => {
      log(`idle server: ${(err as Error)?.stack ?? err}`)
      process.exit(1)
    })
  })
  send({ type: 'listening', address: path })
}

// ---- the measuring process (client ends) ----

/** Waits for the server's next report of `type` (while the child lives, within `timeoutMs`). */
function next<K extends Report['type']>(child: ChildProcess, type: K, timeoutMs = 60_000): Promise<Extract<Report, { type: K }>> {
  const got = new Promise<Extract<Report, { type: K }>>((resolve) => {
    const on = (m: Report): void => {
      if (m.type !== type) return
      child.off('message', on)
      resolve(m as Extract<Report, { type: K }>)
    }
    child.on('message', on)
  })
  return guard(child, got, `idle: server ${type}`, timeoutMs)
}

function ask<K extends Report['type']>(child: ChildProcess, command: Command, type: K, timeoutMs?: number): Promise<Extract<Report, { type: K }>> {
  const reply = next(child, type, timeoutMs)
  child.send(command)
  return reply
}

/** Opens `count` ends in parallel; on a failure closes those that opened and throws. */
async function openBatch(kind: ClientKind, address: string, count: number): Promise<unknown[]> {
  const settled = await Promise.allSettled(Array.from({ length: count }, () => kind.connect(address)))
  const opened: unknown[] = []
  let failure: unknown
  for (const r of settled) {
    if (r.status === 'fulfilled') opened.push(r.value)
    else failure ??= r.reason
  }
  if (failure !== undefined) {
    await Promise.allSettled(opened.map((e) => kind.close(e)))
    throw failure
  }
  return opened
}

async function closeAll(kind: ClientKind, ends: unknown[]): Promise<void> {
  // in batches: a graceful close queues a GOODBYE frame, which takes a send slab again for a moment
  for (let i = 0; i < ends.length; i += BATCH) await Promise.allSettled(ends.slice(i, i + BATCH).map((e) => kind.close(e)))
  ends.length = 0
}

async function measure(folder: string): Promise<IdleResult> {
  const kind = KIND === 'ipc' ? ipcClient : netClient
  const child = track(fork(distFile('idle.js'), ['--server', folder], { execArgv: ['--expose-gc'], serialization: 'json', stdio: ['ignore', 2, 2, 'ipc'] }))
  const ends: unknown[] = []
  try {
    const { address } = await next(child, 'listening', 15_000)

    // warm-up: one-time costs (code, the codec's scratch memory, timers) stay out of the baseline
    const warm = await openBatch(kind, address, WARMUP)
    await Promise.all(warm.map((e, i) => kind.exchange(e, i)))
    await closeAll(kind, warm)

    const [{ before: serverBefore }, before] = await Promise.all([ask(child, { type: 'baseline' }, 'baseline'), snapshot()])

    let connectMs = 0
    let exchangeMs = 0
    for (let i = 0; i < CONNECTIONS; i += BATCH) {
      const count = Math.min(BATCH, CONNECTIONS - i)
      const t0 = now()
      const batch = await openBatch(kind, address, count)
      connectMs += now() - t0
      ends.push(...batch)
      const t1 = now()
      await Promise.all(batch.map((e, k) => kind.exchange(e, i + k)))
      exchangeMs += now() - t1
    }
    log(`  idle: ${ends.length} connections in ${(connectMs / 1000).toFixed(2)} s (+ ${(exchangeMs / 1000).toFixed(2)} s exchanging); idle ${IDLE_MS} ms…`)

    // both sides: measure right after the exchange, sit idle, measure again
    const measured = ask(child, { type: 'measure' }, 'measured', 30_000)
    const afterExchange = await snapshot()
    await sleep(IDLE_MS)
    const after = await snapshot()
    const s = await measured
    if (s.failures > 0) throw new Error(`idle: ${s.failures} server ends failed: ${s.firstFailure}`)
    if (s.ends !== CONNECTIONS) throw new Error(`idle: the server holds ${s.ends} ends, expected ${CONNECTIONS}`)

    const client = side('client', ends.length, before, afterExchange, after)
    const serverSide = side('server', s.ends, serverBefore, s.afterExchange, s.after)
    return {
      transport: 'unix',
      kind: KIND,
      connections: CONNECTIONS,
      batch: BATCH,
      messageBytes: FRAME.length - 4,
      warmup: WARMUP,
      idleMs: IDLE_MS,
      connectMs: Math.round(connectMs),
      connectsPerSec: Math.round(CONNECTIONS / (connectMs / 1000)),
      exchangeMs: Math.round(exchangeMs),
      targetBytesPerEnd: TARGET,
      client,
      server: serverSide,
      withinTarget: client.withinTarget && serverSide.withinTarget,
    }
  } finally {
    await closeAll(kind, ends)
    if (child.exitCode === null && child.signalCode === null && child.connected) {
      await ask(child, { type: 'close' }, 'closed', 20_000).catch((err) => log(`  idle: server close: ${(err as Error)?.message ?? err}`))
    }
    child.kill('SIGKILL') // if still there
    await reap(child, 2000)
  }
}

async function run(): Promise<void> {
  if (process.argv[2] === '--server') return server(process.argv[3]!)
  // never outlive main.js: when its IPC channel goes, stop (the exit hook kills the server child)
  process.on('disconnect', () => {
    cleanup()
    process.exit(3)
  })
  // main.js passes its private folder (and removes it); run alone, this makes its own
  const own = process.argv[2] === undefined ? makeFolder() : undefined
  try {
    const result = await measure(process.argv[2] ?? own!)
    if (process.send) process.send(result, () => process.exit(0))
    else {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
      process.exitCode = 0
    }
  } finally {
    if (own !== undefined) removeFolder(own)
  }
}

run().catch((err) => {
  log(`idle test: ${(err as Error)?.stack ?? err}`)
  cleanup()
  process.exit(1)
})
