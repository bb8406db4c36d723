/**
 * The conformance kit's Worker host, run in a child process:
 *
 *   node worker-host.js --module <mechanism entry> --address <address> --side client|listener
 *
 * One side of each connection lives in a `worker_threads` Worker of this process, the other on
 * the main thread. Phase 1: 1,000 messages both ways, then the Worker exits by itself. Phase 2:
 * the Worker is terminated mid-stream; the main thread's transport must see the end. The host
 * prints one `REPORT <json>` line and must then exit by itself (nothing may keep it alive).
 */
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { connect, listen } from '../registry.js'
import type { Transport } from '../transport.js'

const COUNT = 1000

interface Job {
  module: string
  address: string
  role: 'duplex' | 'source' | 'listen-echo'
}

async function load(module: string): Promise<void> {
  await import(pathToFileURL(module).href)
}

/** Sends COUNT numbered messages and reads COUNT echoes back; resolves whether all came in order. */
async function duplex(t: Transport<any, any>): Promise<boolean> {
  const sending = (async () => {
    for (let i = 0; i < COUNT; i++) await t.send({ i })
  })()
  let ok = true
  for (let i = 0; i < COUNT; i++) {
    const m = (await t.receive({ timeout: 20_000 })) as { i: number }
    if (m.i !== i) ok = false
  }
  await sending
  return ok
}

async function echo(t: Transport<any, any>): Promise<number> {
  let n = 0
  for await (const m of t) {
    n++
    await t.send(m).catch(() => undefined)
  }
  return n
}

async function worker(job: Job): Promise<void> {
  await load(job.module)
  if (job.role === 'listen-echo') {
    const server = await listen(job.address)
    parentPort!.postMessage({ ready: true, address: server.address })
    for await (const conn of server) void echo(conn)
    return
  }
  const t = await connect(job.address, { timeout: 20_000 })
  if (job.role === 'duplex') {
    const ok = await duplex(t)
    parentPort!.postMessage({ ok })
    await t.close()
    return // the Worker must now exit by itself
  }
  // source: send until terminated
  const pad = new Uint8Array(512).fill(5)
  for (let i = 0; ; i++) await t.send({ i, pad })
}

function startWorker(job: Job): Worker {
  return new Worker(fileURLToPath(import.meta.url), { workerData: job })
}

function exitOf(w: Worker): Promise<number> {
  return new Promise((resolve) => w.once('exit', resolve))
}

function firstMessage(w: Worker): Promise<any> {
  return new Promise((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  })
}

async function workerAsClient(module: string, address: string): Promise<Record<string, unknown>> {
  const server = await listen(address)
  address = server.address // the real one (tcp://…:0 gets a port)
  try {
    // phase 1
    const w1 = startWorker({ module, address, role: 'duplex' })
    const result1 = firstMessage(w1)
    const exit1 = exitOf(w1)
    const c1 = await server.accept({ timeout: 20_000 })
    const echoed = echo(c1)
    const { ok } = await result1
    const exitCode1 = await exit1
    const count1 = await echoed
    // phase 2
    const w2 = startWorker({ module, address, role: 'source' })
    const exit2 = exitOf(w2)
    const c2 = await server.accept({ timeout: 20_000 })
    for (let k = 0; k < 200; k++) await c2.receive({ timeout: 20_000 })
    const killedAt = performance.now()
    await w2.terminate()
    const draining = (async () => {
      try {
        while (true) await c2.receive()
      } catch (err) {
        return (err as { code?: string }).code
      }
    })()
    const info = await c2.closed
    const noticedMs = performance.now() - killedAt
    const receiveCode = await draining
    await exit2
    return { ok, exitCode1, count1, reason: info.reason, noticedMs, receiveCode }
  } finally {
    await server.close()
  }
}

async function workerAsListener(module: string, address: string): Promise<Record<string, unknown>> {
  const w = startWorker({ module, address, role: 'listen-echo' })
  const exit = exitOf(w)
  const ready = (await firstMessage(w)) as { address: string }
  const t = await connect(ready.address, { timeout: 20_000 })
  const ok = await duplex(t)
  // keep traffic flowing while the Worker is terminated
  let streaming = true
  const pad = new Uint8Array(512).fill(5)
  const pump = (async () => {
    for (let i = 0; streaming; i++) await t.send({ i, pad })
  })().catch(() => undefined)
  const reading = (async () => {
    try {
      while (true) await t.receive()
    } catch (err) {
      return (err as { code?: string }).code
    }
  })()
  for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r))
  const killedAt = performance.now()
  await w.terminate()
  const info = await t.closed
  const noticedMs = performance.now() - killedAt
  streaming = false
  await pump
  const receiveCode = await reading
  await exit
  return { ok, exitCode1: 0, count1: COUNT, reason: info.reason, noticedMs, receiveCode }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { module: { type: 'string' }, address: { type: 'string' }, side: { type: 'string' } } })
  await load(values.module!)
  const report = values.side === 'listener' ? await workerAsListener(values.module!, values.address!) : await workerAsClient(values.module!, values.address!)
  process.stdout.write(`REPORT ${JSON.stringify(report)}\n`)
  // no process.exit(): the host must end by itself
}

if (isMainThread) {
  main().catch((err) => {
    process.stderr.write(`worker host failed: ${(err as Error)?.stack ?? String(err)}\n`)
    process.exitCode = 1
  })
} else {
  void worker(workerData as Job)
}
