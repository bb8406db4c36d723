import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { type Listener, connect, isIpcError, listen } from '@ipc/core'
import { encodeFrame } from '@ipc/core/mechanism'
import { exitOf, firstReport, peerCommand } from '@ipc/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { rawClient } from '../src/testing.js'
import { ENTRY, TESTING_ENTRY, semNames } from './targets.js'

const names = semNames('unit')
const require = createRequire(import.meta.url)
const CORE_ENTRY = join(dirname(require.resolve('@ipc/core/package.json')), 'dist', 'index.js')
const MECHANISM_ENTRY = join(dirname(CORE_ENTRY), 'mechanism', 'index.js')
const url = (path: string): string => JSON.stringify(pathToFileURL(path).href)

const children = new Set<ChildProcess>()
const servers = new Set<Listener<any, any>>()
afterEach(async () => {
  for (const c of children) c.kill('SIGKILL')
  children.clear()
  for (const s of servers) await s.close()
  servers.clear()
  expect(await names.leftovers()).toEqual([])
})

async function serve(options?: Parameters<typeof listen>[1]): Promise<Listener<any, any>> {
  const server = await listen(names.fresh(), options)
  servers.add(server)
  return server
}

function track(child: ChildProcess): ChildProcess {
  children.add(child)
  return child
}

/** A child running `body` (an async function body) with `rawClient`, `encodeFrame`, `connect` in scope. */
function child(body: string): ChildProcess {
  const script =
    `Promise.all([import(${url(TESTING_ENTRY)}), import(${url(MECHANISM_ENTRY)}), import(${url(CORE_ENTRY)}), import(${url(ENTRY)})])` +
    `.then(async ([{ rawClient }, { encodeFrame }, { connect }]) => { ${body} })` +
    `.catch((err) => { console.error(err); process.exit(1) })`
  return track(spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] }))
}

const frameOf = (value: unknown): Uint8Array => encodeFrame(Buffer.from(JSON.stringify(value)))
const threads = (): number => readdirSync('/proc/self/task').length

describe('sem: crash safety', () => {
  it('a producer that sends N messages and exits normally before the consumer reads: all N arrive (no undo on empty/full)', async () => {
    const server = await serve()
    const producer = child(
      `const t = await connect(${JSON.stringify(server.address)}, { slots: 16, slotSize: '4KiB' });` +
        ` for (let i = 0; i < 500; i++) t.send({ i, pad: 'p'.repeat(i % 40) }); await t.close(); process.exit(0)`,
    )
    expect(await exitOf(producer)).toBe(0) // its units all fit in the slots: it is gone before anyone accepts
    const t = await server.accept({ timeout: 10_000 })
    const got: number[] = []
    for await (const m of t as AsyncIterable<{ i: number }>) got.push(m.i)
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => i))
  })

  it('commit-last: a producer SIGKILLed between taking a slot and posting it delivers nothing partial; peer-exited within 100 ms', async () => {
    const server = await serve({ codec: 'json' })
    const producer = child(
      `const c = await rawClient(${JSON.stringify(server.address)});` +
        ` c.write(encodeFrame(Buffer.from(JSON.stringify({ n: 1 }))));` +
        ` c.writeUncommitted(encodeFrame(Buffer.from(JSON.stringify({ n: 2, pad: 'x'.repeat(300) }))));` +
        ` process.kill(process.pid, 'SIGKILL')`,
    )
    const t = await server.accept({ timeout: 10_000 })
    expect(await t.receive({ timeout: 5000 })).toEqual({ n: 1 })
    const exited = exitOf(producer)
    const info = await t.closed
    const seen = performance.now()
    expect(await exited).toBe('SIGKILL')
    expect(performance.now() - seen).toBeLessThan(100)
    expect(info.reason).toBe('peer-exited')
    await expect(t.receive({ timeout: 200 })).rejects.toThrow()
  })

  it('a consumer killed while the producer waits for a free slot: send() rejects within 100 ms', async () => {
    const server = await serve()
    const consumer = track(
      spawn(process.execPath, peerCommand(ENTRY, { connect: `${server.address}?slots=2&slotSize=4KiB` }, 'stall'), { stdio: ['ignore', 'pipe', 'inherit'] }),
    )
    const t = await server.accept({ timeout: 10_000 })
    await firstReport(consumer)
    const pad = new Uint8Array(1000)
    let pending: Promise<void> | undefined
    for (let i = 0; i < 100_000 && pending === undefined; i++) {
      const sent = t.send({ i, pad })
      const settled = await Promise.race([sent.then(() => true), new Promise((r) => setTimeout(() => r(false), 20))])
      if (!settled) pending = sent
    }
    expect(pending).toBeDefined()
    const failed = pending!.then(
      () => 'resolved',
      (err: Error) => err,
    )
    const killedAt = performance.now()
    consumer.kill('SIGKILL')
    const outcome = await failed
    expect(performance.now() - killedAt).toBeLessThan(100)
    expect(isIpcError(outcome, 'ERR_IPC_PEER_EXITED')).toBe(true)
  })
})

describe('sem: hostile peers', () => {
  it('a slot with the wrong number, or a length past the slot, is ERR_IPC_DECODE for that connection only', async () => {
    const server = await serve({ codec: 'json' })
    for (const [seq, len] of [
      [5, 10],
      [0, 1 << 20],
      [0, 0],
    ] as const) {
      const c = await rawClient(server.address)
      const t = await server.accept({ timeout: 10_000 })
      const good = await connect(server.address, { codec: 'json' })
      const other = await server.accept({ timeout: 10_000 })
      c.writeRaw(seq, len, frameOf({ hostile: true }))
      const info = await t.closed
      expect(info.reason).toBe('error')
      expect(isIpcError(info.error, 'ERR_IPC_DECODE')).toBe(true)
      await good.send({ fine: seq })
      expect(await other.receive({ timeout: 5000 })).toEqual({ fine: seq })
      c.end()
      await good.close()
      await other.close()
    }
  })
})

describe('sem: resources', () => {
  const memfdMaps = (): number =>
    readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .filter((l) => l.includes('/memfd:ipc-sem')).length
  const memfdFds = (): number =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith('/memfd:ipc-sem')
      } catch {
        return false
      }
    }).length

  it('2,000 connect/close cycles: descriptors, mappings and waiter threads come back to their baseline', async () => {
    const server = await serve()
    const cycle = async (i: number): Promise<void> => {
      const [c, s] = await Promise.all([connect(`${server.address}?slots=2&slotSize=4KiB`), server.accept({ timeout: 10_000 })])
      await c.send(i)
      expect(await s.receive()).toBe(i)
      await c.close()
      await s.closed
      await s.close()
    }
    for (let i = 0; i < 100; i++) await cycle(i)
    const settle = async (want: number): Promise<number> => {
      const deadline = Date.now() + 2000 // waiter threads end after their kick, asynchronously; no event tells when
      while (threads() > want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
      return threads()
    }
    const before = { fds: readdirSync('/proc/self/fd').length, threads: await settle(0) }
    for (let i = 0; i < 2000; i++) await cycle(i)
    expect(await settle(before.threads)).toBeLessThanOrEqual(before.threads)
    expect(readdirSync('/proc/self/fd').length).toBe(before.fds)
    expect(memfdMaps()).toBe(0)
    expect(memfdFds()).toBe(0)
  }, 120_000)

  it('an idle connection uses no CPU: its waiter threads block without a time limit (no wake-ups in a second)', async () => {
    const server = await serve()
    const [c, s] = await Promise.all([connect(server.address), server.accept({ timeout: 10_000 })])
    await c.send('warm')
    expect(await s.receive()).toBe('warm')
    const waiters = (): Map<string, number> => {
      const out = new Map<string, number>()
      for (const tid of readdirSync('/proc/self/task')) {
        try {
          if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== 'ipc-sem-wait') continue
          const status = readFileSync(`/proc/self/task/${tid}/status`, 'utf8')
          out.set(tid, Number(/^voluntary_ctxt_switches:\s*(\d+)$/m.exec(status)![1]) + Number(/^nonvoluntary_ctxt_switches:\s*(\d+)$/m.exec(status)![1]))
        } catch {
          // a thread that just ended
        }
      }
      return out
    }
    const before = waiters()
    expect(before.size).toBeGreaterThanOrEqual(2) // each side's consumer waits on its full semaphore
    await new Promise((r) => setTimeout(r, 1000))
    const after = waiters()
    for (const [tid, switches] of before) expect(after.get(tid), `thread ${tid}`).toBe(switches) // it never woke
    await s.send('still there')
    expect(await c.receive()).toBe('still there')
    await c.close()
    await s.close()
  })

  it('bad layouts are ERR_IPC_INVALID_ARGUMENT before anything is made', async () => {
    const server = await serve()
    for (const q of ['slots=0', 'slots=70000', 'slotSize=100', 'slotSize=1000', 'slots=65536&slotSize=16MiB']) {
      await expect(connect(`${server.address}?${q}`)).rejects.toMatchObject({ code: expect.stringMatching(/ERR_IPC_INVALID_(ARGUMENT|ADDRESS)/) })
    }
  })
})

describe('sem: wake-ups', () => {
  it('never loses a wake-up: 200,000 round trips with an echo that pauses now and then, every one answered in order', async () => {
    const server = await serve()
    const echo = track(
      spawn(process.execPath, peerCommand(ENTRY, { connect: `${server.address}?slots=4&slotSize=4KiB` }, 'echo:5000'), {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    )
    const t = await server.accept({ timeout: 10_000 })
    for (let i = 0; i < 200_000; i++) {
      await t.send(i)
      const back = await t.receive({ timeout: 5000 })
      if (back !== i) expect(back).toBe(i)
    }
    await t.close()
    expect(await exitOf(echo)).toBe(0)
  }, 120_000)
})
