// Liveness marks: LivenessMark (owner) and MarkWatcher (observer), within a process, across
// processes and across Workers.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { native } from '../lib/index.js'
import { DIST, FIXTURES, errorOf, fdTarget, lineOf, within } from './helpers.js'

interface MarkId {
  pid: number
  fd: number
  ino: number
}

/** A ref'd watcher; resolves (with the time) when the mark ends. */
function gone(mark: MarkId): { at: Promise<number>; watcher: ReturnType<typeof watch>; calls: () => number } {
  let calls = 0
  let resolve!: (t: number) => void
  const at = new Promise<number>((r) => (resolve = r))
  const watcher = watch(mark, () => {
    calls++
    resolve(performance.now())
  })
  watcher.ref()
  return { at, watcher, calls: () => calls }
}

function watch(mark: MarkId, onGone: () => void) {
  return new native.MarkWatcher(mark.pid, mark.fd, mark.ino, onGone)
}

describe('LivenessMark / MarkWatcher', () => {
  it('a mark is a pipe named by { pid, fd, ino }; release() ends it and onGone runs once', async () => {
    const mark = new native.LivenessMark()
    expect(mark.pid).toBe(process.pid)
    expect(fdTarget(mark.fd)).toBe(`pipe:[${mark.ino}]`)
    const a = gone(mark)
    const b = gone(mark) // any number of observers
    mark.release()
    mark.release() // idempotent
    await a.at
    await b.at
    await new Promise((r) => setImmediate(r))
    expect(a.calls()).toBe(1)
    expect(b.calls()).toBe(1)
    expect(fdTarget(mark.fd)).not.toBe(`pipe:[${mark.ino}]`)
  })

  it('close() stops a watcher: onGone does not run', async () => {
    const mark = new native.LivenessMark()
    const closed = gone(mark)
    const open = gone(mark)
    closed.watcher.close()
    mark.release()
    await open.at
    await new Promise((r) => setImmediate(r))
    expect(closed.calls()).toBe(0)
  })

  it('a mark that is gone or never was: ENOENT; a reused fd number: ESTALE (syscall open)', () => {
    const mark = new native.LivenessMark()
    const id = { pid: mark.pid, fd: mark.fd, ino: mark.ino }
    const stale = errorOf(() => watch({ ...id, ino: id.ino + 1 }, () => {}))
    expect(stale).toMatchObject({ code: 'ESTALE', syscall: 'open' })
    expect(errorOf(() => watch({ ...id, fd: 0x7fffff }, () => {}))).toMatchObject({ code: 'ENOENT', syscall: 'open' })
    mark.release()
    const e = errorOf(() => watch(id, () => {}))
    expect(['ENOENT', 'ESTALE']).toContain(e.code) // the number may be reused by now
    expect(errorOf(() => watch({ ...id, pid: 0x3fffffff }, () => {}))).toMatchObject({ code: 'ENOENT', syscall: 'open' })
  })

  it('across processes: a child that owns a mark is killed with SIGKILL; onGone within 100 ms', async () => {
    const child = spawn(process.execPath, [join(FIXTURES, 'mark-owner.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      const mark = JSON.parse(await within(lineOf(child, 'MARK '), 10_000, 'the child prints its mark')) as MarkId
      expect(mark.pid).toBe(child.pid)
      const g = gone(mark)
      await new Promise((r) => setImmediate(r))
      expect(g.calls()).toBe(0) // alive: nothing happens
      const killedAt = performance.now()
      child.kill('SIGKILL')
      const at = await within(g.at, 1000, 'onGone')
      expect(at - killedAt).toBeLessThan(100)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it("across a Worker: the main thread watches a Worker's mark; terminate() ends it within 1 s", async () => {
    const worker = new Worker(join(FIXTURES, 'mark-worker.mjs'))
    try {
      const { mark } = await within(new Promise<{ mark: MarkId }>((r) => worker.once('message', r)), 10_000, 'the worker posts its mark')
      expect(mark.pid).toBe(process.pid)
      const g = gone(mark)
      const killedAt = performance.now()
      await worker.terminate()
      const at = await within(g.at, 1000, 'onGone')
      expect(at - killedAt).toBeLessThan(1000)
    } finally {
      await worker.terminate()
    }
  })

  it("and the other way: a Worker watches the main thread's mark; release() reaches it", async () => {
    const mark = new native.LivenessMark()
    const code = `
      const { parentPort, workerData } = require('node:worker_threads')
      import(${JSON.stringify(pathToFileURL(DIST).href)}).then(({ native }) => {
        const { pid, fd, ino } = workerData
        const w = new native.MarkWatcher(pid, fd, ino, () => parentPort.postMessage('gone'))
        w.ref()
        parentPort.postMessage('watching')
      })
    `
    const worker = new Worker(code, { eval: true, workerData: { pid: mark.pid, fd: mark.fd, ino: mark.ino } })
    const exit = new Promise<number>((r) => worker.once('exit', r)) // (it may exit as soon as it has posted 'gone')
    try {
      const messages: string[] = []
      const next = (): Promise<string> =>
        new Promise((r) =>
          worker.once('message', (m) => {
            messages.push(m)
            r(m)
          }),
        )
      expect(await within(next(), 10_000, 'watching')).toBe('watching')
      const goneMsg = next()
      mark.release()
      expect(await within(goneMsg, 1000, 'gone')).toBe('gone')
      // the Worker's watcher fired and closed: nothing keeps the Worker alive now
      expect(await within(exit, 5000, 'the Worker exits by itself')).toBe(0)
    } finally {
      await worker.terminate()
    }
  })
})
