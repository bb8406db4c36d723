import { type ChildProcess, spawn } from 'node:child_process'
import { lookup } from 'node:dns/promises'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { exitOf, firstReport } from '@ipc/core/testing'
import { native } from '@ipc/native'
import { afterEach, describe, expect, it } from 'vitest'
import { SEMVMX, Semaphore } from '../src/index.js'
import { SEM_PROJ_ID } from '../src/names.js'
import { ENTRY } from './targets.js'

const prefix = `t${process.pid}-sem-`
let n = 0
const posixName = (): string => `/${prefix}${++n}`
const keyPath = (): string => join(tmpdir(), `${prefix}${++n}.key`)

const opened = new Set<Semaphore>()
const children = new Set<ChildProcess>()
afterEach(() => {
  for (const c of children) c.kill('SIGKILL')
  children.clear()
  for (const s of opened) {
    try {
      s.unlink()
    } catch {
      // removed by the test
    }
  }
  opened.clear()
  expect(leftovers()).toEqual([])
})

/** This test file's POSIX semaphores in /dev/shm, key files in the temp folder, and System V sets of those key files. */
function leftovers(): string[] {
  const posix = readdirSync('/dev/shm').filter((f) => f.startsWith(`sem.${prefix}`))
  const keys = readdirSync(tmpdir()).filter((f) => f.startsWith(prefix))
  return [...posix, ...keys]
}

async function create(name: string, options?: Parameters<typeof Semaphore.create>[1]): Promise<Semaphore> {
  const s = await Semaphore.create(name, options)
  opened.add(s)
  return s
}

/** A child running `body` (an async function body) with `Semaphore` in scope; prints REPORT lines. */
function child(body: string, options: { uid?: number } = {}): ChildProcess {
  const script =
    `import(${JSON.stringify(ENTRY)}).then(async ({ Semaphore }) => { const report = (o) => console.log('REPORT ' + JSON.stringify(o)); ${body} })` +
    `.catch((err) => { console.log('REPORT ' + JSON.stringify({ error: err.code ?? String(err) })); process.exit(1) })`
  const c = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], ...options })
  children.add(c)
  return c
}

function threads(): number {
  return readdirSync('/proc/self/task').length
}

function sysvSetOf(path: string): number | undefined {
  try {
    return native.semGet(native.ftokKey(path, SEM_PROJ_ID), 1, 0)
  } catch {
    return undefined
  }
}

for (const kind of ['posix', 'sysv'] as const) {
  const fresh = kind === 'posix' ? posixName : keyPath
  describe(`Semaphore (${kind})`, () => {
    it('counts: tryAcquire, release, value, acquire at once when free', async () => {
      const s = await create(fresh(), { kind, initial: 2 })
      expect(s.value).toBe(2)
      expect(s.tryAcquire()).toBe(true)
      await s.acquire()
      expect(s.value).toBe(0)
      expect(s.tryAcquire()).toBe(false)
      s.release(3)
      expect(s.value).toBe(3)
    })

    it('create of an existing name is ERR_IPC_ADDRESS_IN_USE; open of a missing one ERR_IPC_NO_LISTENER', async () => {
      const name = fresh()
      await create(name, { kind })
      await expect(Semaphore.create(name, { kind })).rejects.toMatchObject({ code: 'ERR_IPC_ADDRESS_IN_USE' })
      await expect(Semaphore.open(fresh(), { kind })).rejects.toMatchObject({ code: 'ERR_IPC_NO_LISTENER' })
    })

    it('a release in another process wakes a waiting acquire (the waiter thread), and the count stays right', async () => {
      const name = fresh()
      const s = await create(name, { kind, initial: 0, undo: kind === 'sysv' ? false : undefined })
      const got = s.acquire({ timeout: 10_000 })
      const peer = child(
        `const s = await Semaphore.open(${JSON.stringify(name)}, { kind: '${kind}', undo: false }); s.release(2); s.close(); report({ ok: true })`,
      )
      await got
      expect(await exitOf(peer)).toBe(0)
      expect(s.value).toBe(1)
    })

    it('an acquire aborted while the waiter thread blocks rejects with ERR_IPC_ABORTED within 25 ms, count unchanged', async () => {
      const s = await create(fresh(), { kind, initial: 0 })
      const ac = new AbortController()
      const pending = s.acquire({ signal: ac.signal })
      await new Promise((r) => setTimeout(r, 50)) // let the waiter thread block in its wait
      const t0 = performance.now()
      ac.abort()
      const err = await pending.catch((e) => e)
      const took = performance.now() - t0
      expect(err).toMatchObject({ code: 'ERR_IPC_ABORTED' })
      expect(took).toBeLessThan(25)
      expect(s.value).toBe(0)
      s.release()
      // nobody keeps it: a unit the thread took in its last slice goes straight back (no event tells when)
      const deadline = Date.now() + 1000
      while (s.value !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
      expect(s.value).toBe(1)
      await expect(s.acquire({ timeout: 1000 })).resolves.toBeUndefined()
    })

    it('never takes a unit it does not report: aborts racing releases leave the count exact', async () => {
      const s = await create(fresh(), { kind, initial: 0, undo: false })
      const other = await Semaphore.open(s.name, { kind, undo: false })
      let taken = 0
      for (let i = 0; i < 200; i++) {
        const ac = new AbortController()
        const p = s.acquire({ signal: ac.signal }).then(
          () => 1,
          () => 0,
        )
        if (i % 2 === 0) await new Promise((r) => setImmediate(r))
        other.release()
        ac.abort()
        taken += await p
      }
      other.close()
      // every unit released is either reported as taken or still there (once the thread let go)
      const deadline = Date.now() + 2000
      while (s.value + taken !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
      expect(s.value + taken).toBe(200)
    })

    it('a timeout rejects with ERR_IPC_TIMEOUT; close() rejects pending acquires with ERR_IPC_CLOSED', async () => {
      const s = await create(fresh(), { kind, initial: 0 })
      await expect(s.acquire({ timeout: 30 })).rejects.toMatchObject({ code: 'ERR_IPC_TIMEOUT' })
      const a = s.acquire()
      const b = s.acquire()
      s.close()
      await expect(a).rejects.toMatchObject({ code: 'ERR_IPC_CLOSED' })
      await expect(b).rejects.toMatchObject({ code: 'ERR_IPC_CLOSED' })
      await expect(s.acquire()).rejects.toMatchObject({ code: 'ERR_IPC_CLOSED' })
      expect(() => s.release()).toThrow(expect.objectContaining({ code: 'ERR_IPC_CLOSED' }))
    })

    it('waiters are served in order; lock() is an AsyncDisposable that releases once', async () => {
      const s = await create(fresh(), { kind, initial: 1 })
      const order: number[] = []
      {
        await using held = await s.lock()
        const waits = [1, 2, 3].map((i) => s.acquire({ timeout: 5000 }).then(() => order.push(i)))
        held.release()
        held.release() // once only
        await waits[0]
        s.release()
        await waits[1]
        s.release()
        await waits[2]
      }
      expect(order).toEqual([1, 2, 3])
      expect(s.value).toBe(0)
    })

    it('8 pending acquires leave the libuv threadpool free: fs.readFile and dns.lookup complete meanwhile, on one waiter thread', async () => {
      const s = await create(fresh(), { kind, initial: 0 })
      const before = threads()
      const pending = Array.from({ length: 8 }, () => s.acquire({ timeout: 20_000 }))
      let settled = 0
      for (const p of pending) void p.then(() => settled++)
      const reads = await Promise.all(Array.from({ length: 16 }, () => readFile('/proc/self/status', 'utf8')))
      const addresses = await Promise.all(Array.from({ length: 8 }, () => lookup('localhost')))
      expect(reads.every((r) => r.includes('Threads:'))).toBe(true)
      expect(addresses.length).toBe(8)
      expect(settled).toBe(0) // they were pending all along
      expect(threads() - before).toBeLessThanOrEqual(1) // one waiter thread for all 8 (the pool's threads existed before)
      s.release(8)
      await Promise.all(pending)
    })

    it('a Worker terminated while it waits in acquire(): the process survives, its thread is gone', async () => {
      const name = fresh()
      const s = await create(name, { kind, initial: 0 })
      const before = threads()
      const source =
        `const { parentPort } = require('node:worker_threads');` +
        `import(${JSON.stringify(ENTRY)}).then(async ({ Semaphore }) => { const s = await Semaphore.open(${JSON.stringify(name)}, { kind: '${kind}' }); s.acquire(); setTimeout(() => parentPort.postMessage('waiting'), 50) })`
      for (let i = 0; i < 5; i++) {
        const w = new Worker(source, { eval: true })
        await new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve())
          w.once('error', reject)
        })
        await w.terminate()
      }
      const deadline = Date.now() + 2000
      while (threads() > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
      expect(threads()).toBeLessThanOrEqual(before)
      expect(s.value).toBe(0)
      s.release()
      expect(s.tryAcquire()).toBe(true) // no terminated Worker's thread took it
    })
  })
}

describe('Semaphore: crash behaviour', () => {
  it('System V with undo: a holder SIGKILLed gives its unit back; the next acquirer gets it within 1 s', async () => {
    const name = keyPath()
    const s = await create(name, { kind: 'sysv', initial: 1 })
    const holder = child(
      `const s = await Semaphore.open(${JSON.stringify(name)}, { kind: 'sysv' }); await s.acquire(); report({ held: true }); setInterval(() => {}, 1000)`,
    )
    expect(await firstReport(holder)).toEqual({ held: true })
    expect(s.value).toBe(0)
    const waiting = s.acquire({ timeout: 5000 })
    const t0 = performance.now()
    holder.kill('SIGKILL')
    await waiting
    expect(performance.now() - t0).toBeLessThan(1000)
    expect(s.value).toBe(0) // we hold it now
  })

  it('POSIX named: a holder SIGKILLed keeps its unit for good; acquire({ timeout }) is the way out, unlink() removes it', async () => {
    const name = posixName()
    const s = await create(name, { initial: 1 })
    const holder = child(`const s = await Semaphore.open(${JSON.stringify(name)}); await s.acquire(); report({ held: true }); setInterval(() => {}, 1000)`)
    expect(await firstReport(holder)).toEqual({ held: true })
    holder.kill('SIGKILL')
    await exitOf(holder)
    await expect(s.acquire({ timeout: 200 })).rejects.toMatchObject({ code: 'ERR_IPC_TIMEOUT' })
    expect(s.value).toBe(0)
    s.unlink()
    opened.delete(s)
    expect(existsSync(`/dev/shm/sem.${name.slice(1)}`)).toBe(false)
  })

  it('System V unlink() wakes waiters of other handles with ERR_IPC_CLOSED and removes set and key file', async () => {
    const name = keyPath()
    const s = await create(name, { kind: 'sysv', initial: 0 })
    const other = await Semaphore.open(name, { kind: 'sysv' })
    const waiting = other.acquire()
    await new Promise((r) => setTimeout(r, 30))
    s.unlink()
    opened.delete(s)
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_IPC_CLOSED' })
    other.close()
    expect(existsSync(name)).toBe(false)
    expect(sysvSetOf(name)).toBeUndefined()
  })
})

describe('Semaphore: bad input and limits', () => {
  it('refuses bad names, kinds, values and counts with ERR_IPC_INVALID_ARGUMENT', async () => {
    await expect(Semaphore.create('no-slash')).rejects.toMatchObject({ code: 'ERR_IPC_INVALID_ARGUMENT' })
    await expect(Semaphore.create('/a/b')).rejects.toMatchObject({ code: 'ERR_IPC_INVALID_ARGUMENT' })
    await expect(Semaphore.create(posixName(), { kind: 'nope' as never })).rejects.toMatchObject({ code: 'ERR_IPC_INVALID_ARGUMENT' })
    await expect(Semaphore.create(posixName(), { undo: true })).rejects.toMatchObject({ code: 'ERR_IPC_INVALID_ARGUMENT' })
    await expect(Semaphore.create(posixName(), { initial: -1 })).rejects.toMatchObject({ code: 'ERR_IPC_INVALID_ARGUMENT' })
    await expect(Semaphore.create(keyPath(), { kind: 'sysv', initial: SEMVMX + 1 })).rejects.toMatchObject({ code: 'ERR_IPC_INVALID_ARGUMENT' })
    const s = await create(posixName())
    expect(() => s.release(0)).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ARGUMENT' }))
    expect(() => s.release(1.5)).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ARGUMENT' }))
    await expect(s.acquire({ timeout: -1 })).rejects.toMatchObject({ code: 'ERR_IPC_INVALID_ARGUMENT' })
  })

  it('a release past SEMVMX is ERR_IPC_INVALID_ARGUMENT naming the limit, and gives back nothing', async () => {
    const s = await create(keyPath(), { kind: 'sysv', initial: SEMVMX - 1, undo: false })
    const err = (() => {
      try {
        s.release(2)
      } catch (e) {
        return e
      }
    })()
    expect(err).toMatchObject({ code: 'ERR_IPC_INVALID_ARGUMENT', details: { limit: 'SEMVMX', value: 32767 } })
    expect(s.value).toBe(SEMVMX - 1)
  })

  it('a release past SEM_VALUE_MAX is ERR_IPC_INVALID_ARGUMENT naming the limit', async () => {
    const s = await create(posixName(), { initial: native.semConstants.SEM_VALUE_MAX })
    expect(() => s.release()).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ARGUMENT', details: { limit: 'SEM_VALUE_MAX', value: 2147483647 } }))
  })

  it('a key file that is not owner-only is ERR_IPC_PERMISSION, and left alone', async () => {
    const { writeFileSync, unlinkSync } = await import('node:fs')
    const path = keyPath()
    writeFileSync(path, 'x', { mode: 0o644 })
    try {
      await expect(Semaphore.create(path, { kind: 'sysv' })).rejects.toMatchObject({ code: 'ERR_IPC_PERMISSION' })
      expect(readFileSync(path, 'utf8')).toBe('x')
    } finally {
      unlinkSync(path)
    }
  })

  // needs root to start a process as another uid; CI runs as root
  it.skipIf(process.getuid!() !== 0)('a process of another user cannot open them: ERR_IPC_PERMISSION', async () => {
    const posix = await create(posixName())
    const sysv = await create(keyPath(), { kind: 'sysv' })
    const stranger = child(
      `const r = {}; for (const [name, kind] of [[${JSON.stringify(posix.name)}, 'posix'], [${JSON.stringify(sysv.name)}, 'sysv']]) {` +
        ` try { await Semaphore.open(name, { kind }); r[kind] = 'opened' } catch (e) { r[kind] = e.code } } report(r)`,
      { uid: 65534 },
    )
    expect(await firstReport(stranger)).toEqual({ posix: 'ERR_IPC_PERMISSION', sysv: 'ERR_IPC_PERMISSION' })
  })
})
