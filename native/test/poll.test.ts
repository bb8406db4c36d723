// FdWatcher: readiness of any fd on the event loop (uv_poll).
import { closeSync, readSync, writeSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { native } from '../lib/index.js'
import { DIST, errorOf, run } from './helpers.js'

const open: number[] = []
afterEach(() => {
  for (const fd of open.splice(0)) closeSync(fd)
})

function pipe(): [number, number] {
  const fds = native.pipe2(native.O_NONBLOCK)
  open.push(...fds)
  return fds
}

/** Resolves with the events of the next onReady call. */
function next(fd: number, events: number): { events: Promise<number>; watcher: ReturnType<typeof watch> } {
  let resolve!: (e: number) => void
  const p = new Promise<number>((r) => (resolve = r))
  const watcher = watch(fd, resolve)
  watcher.start(events)
  return { events: p, watcher }
}

function watch(fd: number, onReady: (events: number) => void) {
  return new native.FdWatcher(fd, onReady)
}

describe('FdWatcher', () => {
  it('reports READABLE once data arrives and WRITABLE while there is room', async () => {
    const [r, w] = pipe()
    const readable = next(r, native.READABLE)
    writeSync(w, 'x')
    expect(await readable.events).toBe(native.READABLE)
    readable.watcher.close()
    const writable = next(w, native.WRITABLE)
    expect(await writable.events).toBe(native.WRITABLE)
    writable.watcher.close()
  })

  it('start(0) stops watching; close() stops for good and leaves the fd open', async () => {
    const [r, w] = pipe()
    let calls = 0
    const watcher = watch(r, () => calls++)
    watcher.start(native.READABLE)
    watcher.start(0)
    writeSync(w, 'x')
    // a second watcher on a ready fd: once it has fired, the loop has polled both
    const [r2, w2] = pipe()
    writeSync(w2, 'y')
    const other = next(r2, native.READABLE)
    await other.events
    other.watcher.close()
    await new Promise((res) => setImmediate(res))
    expect(calls).toBe(0)
    watcher.start(native.READABLE)
    await new Promise<void>((res) => {
      const poll = (): void => (calls > 0 ? res() : void setImmediate(poll))
      poll()
    })
    watcher.close()
    const seen = calls
    const again = next(r2, native.READABLE) // r2 is still readable: wait for one more poll
    await again.events
    again.watcher.close()
    expect(calls).toBe(seen)
    const buf = Buffer.alloc(4)
    expect(readSync(r, buf, 0, 4, null)).toBe(1) // the fd is still the caller's, open
    expect(() => watcher.start(native.READABLE)).toThrow('FdWatcher is closed')
    watcher.close() // idempotent
  })

  it('a bad fd is an errno error of uv_poll_init', () => {
    const e = errorOf(() => watch(987654, () => {}))
    expect(e.code).toBe('EBADF')
    expect(e.syscall).toBe('uv_poll_init')
  })

  it('a watcher nobody references still fires (it lives until close())', async () => {
    const script = `
      const { native } = await import(${JSON.stringify(DIST)})
      const { writeSync } = await import('node:fs')
      const [r, w] = native.pipe2(native.O_NONBLOCK)
      new native.FdWatcher(r, () => { console.log('fired'); process.exit(0) }).start(native.READABLE)
      globalThis.gc()
      setTimeout(() => { globalThis.gc(); writeSync(w, 'x') }, 20)
    `
    const { code, stdout } = await run(['--expose-gc', '--input-type=module', '-e', script], 10_000)
    expect(stdout).toBe('fired\n')
    expect(code).toBe(0)
  }, 15_000)

  it('unref() lets the process exit while watching', async () => {
    const script = `
      const { native } = await import(${JSON.stringify(DIST)})
      const [r] = native.pipe2(native.O_NONBLOCK)
      const w = new native.FdWatcher(r, () => {})
      w.start(native.READABLE)
      w.unref()
      process.on('exit', () => console.log('exited'))
    `
    const { code, stdout } = await run(['--input-type=module', '-e', script], 10_000)
    expect(stdout).toBe('exited\n')
    expect(code).toBe(0)
  }, 15_000)
})
