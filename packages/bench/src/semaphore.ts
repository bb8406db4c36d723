/**
 * `node dist/semaphore.js <folder> [--quick]`: the `semaphore` rows — `@ipc/sem`'s `Semaphore` API
 * for each kind: uncontended `await acquire()` + `release()` pairs per second, `tryAcquire()` per
 * second (a `release(n)` every 10 000 included), and the cross-process hand-off: this process
 * releases `ping` and awaits `pong`, a child awaits `ping` and releases `pong`; a hand-off is half a
 * round trip (each round trip is two: a release here waking an acquire there, and back). Prints
 * one JSON line: `SemaphoreRow[]`.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { Semaphore, type SemaphoreKind } from '@ipc/sem'
import { percentile } from './common.js'

/** One kind's figures. */
export interface SemaphoreRow {
  kind: SemaphoreKind
  pairsPerSec: number
  tryAcquirePerSec: number
  handoffP50Us: number
  handoffP99Us: number
  handoffs: number
}

const [folder, ...flags] = process.argv.slice(2) as [string, ...string[]]
const quick = flags.includes('--quick')
const SECONDS = quick ? 0.3 : 1

function nameOf(kind: SemaphoreKind, tag: string): string {
  return kind === 'posix' ? `/${folder.split('/').pop()}-${tag}` : join(folder, `${tag}.key`)
}

async function pairs(kind: SemaphoreKind): Promise<number> {
  const s = await Semaphore.create(nameOf(kind, 'pairs'), { kind, initial: 1 })
  try {
    let n = 0
    const end = performance.now() + SECONDS * 1000
    const t0 = performance.now()
    while (performance.now() < end) {
      for (let i = 0; i < 1000; i++) {
        await s.acquire()
        s.release()
      }
      n += 1000
    }
    return n / ((performance.now() - t0) / 1000)
  } finally {
    s.unlink()
  }
}

async function tryAcquires(kind: SemaphoreKind): Promise<number> {
  const batch = 10_000
  const s = await Semaphore.create(nameOf(kind, 'try'), { kind, initial: batch, undo: false })
  try {
    let n = 0
    const end = performance.now() + SECONDS * 1000
    const t0 = performance.now()
    while (performance.now() < end) {
      for (let i = 0; i < batch; i++) if (!s.tryAcquire()) throw new Error('tryAcquire found no unit')
      s.release(batch)
      n += batch
    }
    return n / ((performance.now() - t0) / 1000)
  } finally {
    s.unlink()
  }
}

async function handoff(kind: SemaphoreKind): Promise<{ p50: number; p99: number; n: number }> {
  const ping = await Semaphore.create(nameOf(kind, 'ping'), { kind, initial: 0, undo: false })
  const pong = await Semaphore.create(nameOf(kind, 'pong'), { kind, initial: 0, undo: false })
  const rounds = quick ? 2000 : 20_000
  const warmup = quick ? 500 : 2000
  const entry = JSON.stringify(new URL(import.meta.resolve('@ipc/sem')).pathname)
  const script =
    `import(${entry}).then(async ({ Semaphore }) => {` +
    ` const ping = await Semaphore.open(${JSON.stringify(ping.name)}, { kind: '${kind}', undo: false });` +
    ` const pong = await Semaphore.open(${JSON.stringify(pong.name)}, { kind: '${kind}', undo: false });` +
    ` for (let i = 0; i < ${rounds + warmup}; i++) { await ping.acquire(); pong.release() } ping.close(); pong.close() })`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'inherit', 'inherit'] })
  try {
    const samples = new Float64Array(rounds)
    for (let i = 0; i < rounds + warmup; i++) {
      const t0 = performance.now()
      ping.release()
      await pong.acquire({ timeout: 10_000 })
      if (i >= warmup) samples[i - warmup] = (performance.now() - t0) * 1000
    }
    samples.sort()
    return { p50: percentile(samples, 50) / 2, p99: percentile(samples, 99) / 2, n: samples.length }
  } finally {
    child.kill('SIGKILL')
    ping.unlink()
    pong.unlink()
  }
}

const rows: SemaphoreRow[] = []
for (const kind of ['posix', 'sysv'] as const) {
  const pairsPerSec = await pairs(kind)
  const tryAcquirePerSec = await tryAcquires(kind)
  const h = await handoff(kind)
  rows.push({ kind, pairsPerSec, tryAcquirePerSec, handoffP50Us: h.p50, handoffP99Us: h.p99, handoffs: h.n })
}
process.stdout.write(`${JSON.stringify(rows)}\n`)
