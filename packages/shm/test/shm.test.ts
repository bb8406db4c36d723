import { type ChildProcess, spawn } from 'node:child_process'
import { ftruncateSync, readFileSync, readdirSync, readlinkSync, writeSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { type Listener, type Transport, connect, isIpcError, listen } from '@ipc/core'
import { type Address, encodeFrame } from '@ipc/core/mechanism'
import { exitOf, firstReport, peerCommand } from '@ipc/core/testing'
import { native } from '@ipc/native'
import { afterEach, describe, expect, it } from 'vitest'
import { readRendezvous, rendezvousPath } from '../src/rendezvous.js'
import { encodeHello, rawClient } from '../src/testing.js'
import { ENTRY, TESTING_ENTRY, shmNames } from './targets.js'

const names = shmNames('unit')
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

/** A listener at a fresh address, closed after the test whatever happens. */
async function serve(options?: Parameters<typeof listen>[1]): Promise<Listener<any, any>> {
  const server = await listen(names.fresh(), options)
  servers.add(server)
  return server
}

function track(child: ChildProcess): ChildProcess {
  children.add(child)
  return child
}

/** A child running `body` (an async function body) with `rawClient`, `encodeFrame` and `msgpack` in scope. */
function rawChild(body: string): ChildProcess {
  const script =
    `Promise.all([import(${url(TESTING_ENTRY)}), import(${url(MECHANISM_ENTRY)}), import(${url(CORE_ENTRY)})])` +
    `.then(async ([{ rawClient }, { encodeFrame }, { msgpack }]) => { ${body} })` +
    `.catch((err) => { console.error(err); process.exit(1) })`
  return track(spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] }))
}

const frameOf = (value: unknown): Uint8Array => encodeFrame(Buffer.from(JSON.stringify(value)))

describe('shm: crash safety', () => {
  it('commit-last: bytes a producer copied but did not publish are never delivered; its death is seen within 100 ms', async () => {
    const server = await serve({ codec: 'json' })
    const child = rawChild(
      `const c = await rawClient(${JSON.stringify(server.address)});` +
        ` c.write(encodeFrame(Buffer.from(JSON.stringify({ n: 1 }))));` +
        ` c.writeUncommitted(encodeFrame(Buffer.from(JSON.stringify({ n: 2, pad: 'x'.repeat(300) }))));` +
        ` setInterval(() => {}, 1000)`, // it waits, holding uncommitted bytes, until it is killed
    )
    const t = await server.accept({ timeout: 10_000 })
    expect(await t.receive({ timeout: 5000 })).toEqual({ n: 1 })
    // killed only once the listener has the connection (a self-kill could land mid-handshake under load)
    const exited = exitOf(child)
    child.kill('SIGKILL')
    const info = await t.closed
    const gone = performance.now()
    expect(await exited).toBe('SIGKILL')
    expect(performance.now() - gone).toBeLessThan(100)
    expect(info.reason).toBe('peer-exited')
    await expect(t.receive({ timeout: 200 })).rejects.toThrow()
    await server.close()
  })

  it('a soak of 1,000 SIGKILLs at random moments of a checksummed stream: every message whole, in order, never twice', async () => {
    const server = (await serve()) as Listener<never, { i: number; seed: number; data: Uint8Array; sum: number }>
    const source = (seed: number): string =>
      `const { connect } = await import(${url(CORE_ENTRY)}); await import(${url(ENTRY)});` +
      ` const t = await connect(${JSON.stringify(server.address)}, { capacity: '16KiB' });` +
      ` for (let i = 0; ; i++) { const data = new Uint8Array((i * ${seed}) % 3000).map((_, k) => (k * 7 + i) & 255);` +
      ` let sum = i + ${seed}; for (const b of data) sum = (sum * 31 + b) >>> 0; await t.send({ i, seed: ${seed}, data, sum }) }`
    let delivered = 0
    const byPid = new Map<number, ChildProcess>()
    const one = async (k: number): Promise<void> => {
      const spawned = track(spawn(process.execPath, ['--input-type=module', '-e', source(13 + (k % 17))], { stdio: ['ignore', 'ignore', 'inherit'] }))
      byPid.set(spawned.pid!, spawned)
      // connections are accepted in any order: kill the child this one came from
      const t = await server.accept({ timeout: 20_000 })
      const child = byPid.get(t.peer!.pid)!
      byPid.delete(t.peer!.pid)
      // killed at a random moment within 20 ms of its first message (or, if none comes, after 2 s), so
      // a slow machine still kills mid-stream rather than before anything was sent
      let kill = setTimeout(() => child.kill('SIGKILL'), 2000)
      // each message also says which child (seed) sent it
      let expected = 0
      let seed: number | undefined
      try {
        for await (const m of t) {
          if (seed === undefined) {
            clearTimeout(kill)
            kill = setTimeout(() => child.kill('SIGKILL'), Math.random() * 20)
          }
          seed ??= m.seed
          let sum = m.i + m.seed
          for (const b of m.data) sum = (sum * 31 + b) >>> 0
          if (m.i !== expected || m.seed !== seed || m.sum !== sum || m.data.length !== (m.i * seed) % 3000)
            throw new Error(`connection ${k}: message ${m.i} (expected ${expected}) is not whole: ${m.data.length} bytes, sum ${m.sum} vs ${sum}`)
          expected++
        }
      } catch (err) {
        if (!isIpcError(err, 'ERR_IPC_PEER_EXITED') && !isIpcError(err, 'ERR_IPC_CLOSED')) throw err
      }
      clearTimeout(kill)
      expect((await t.closed).reason).toBe('peer-exited')
      await exitOf(child)
      children.delete(child)
      delivered += expected
    }
    const next = { k: 0 }
    const worker = async (): Promise<void> => {
      for (let k = next.k++; k < 1000; k = next.k++) await one(k)
    }
    await Promise.all([worker(), worker(), worker(), worker()])
    expect(delivered).toBeGreaterThan(0)
    await server.close()
  }, 240_000)

  it('a consumer killed while the producer waits on a full ring: send() rejects within 100 ms', async () => {
    const server = await serve()
    const child = track(
      spawn(process.execPath, peerCommand(ENTRY, { connect: `${server.address}?capacity=4KiB` }, 'stall'), { stdio: ['ignore', 'pipe', 'inherit'] }),
    )
    const t = await server.accept({ timeout: 10_000 })
    await firstReport(child)
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
    child.kill('SIGKILL')
    const outcome = await failed
    expect(performance.now() - killedAt).toBeLessThan(100)
    expect(isIpcError(outcome, 'ERR_IPC_PEER_EXITED')).toBe(true)
    await server.close()
  })
})

describe('shm: hostile peers', () => {
  it('cannot truncate or grow the segment (sealed), so nobody dies of SIGBUS; the connection keeps working', async () => {
    const server = await serve({ codec: 'json' })
    const c = await rawClient(server.address)
    const t = await server.accept({ timeout: 10_000 })
    const { seals, size } = native.fdInfo(c.memfd)
    const { F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_SEAL } = native.shmConstants
    expect(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)).toBe(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
    for (const length of [0, 4096, size * 2]) expect(() => ftruncateSync(c.memfd, length)).toThrow(/EPERM/)
    expect(native.fdInfo(c.memfd).size).toBe(size)
    c.write(frameOf({ still: 'works' }))
    expect(await t.receive({ timeout: 5000 })).toEqual({ still: 'works' })
    c.end()
    await t.closed
    await server.close()
  })

  it('an impossible head (beyond tail + capacity) is ERR_IPC_DECODE for that connection only; no out-of-bounds read', async () => {
    const server = await serve({ codec: 'json' })
    const c = await rawClient(server.address)
    const t = await server.accept({ timeout: 10_000 })
    const good = await connect(server.address, { codec: 'json' })
    const other = await server.accept({ timeout: 10_000 })
    c.setHead(c.capacity * 3 + 5)
    c.ring()
    const info = await t.closed
    expect(info.reason).toBe('error')
    expect(isIpcError(info.error, 'ERR_IPC_DECODE'), String(info.error)).toBe(true)
    await good.send({ after: 'garbage' })
    expect(await other.receive({ timeout: 5000 })).toEqual({ after: 'garbage' })
    c.end()
    await good.close()
    await other.close()
    await server.close()
  })

  it('a segment that is not a sealed memfd of this SDK is refused (counted), and the listener keeps working', async () => {
    const server = await serve({ codec: 'json' })
    const c = await rawClient(server.address)
    const t = await server.accept({ timeout: 10_000 })
    const rejectedBefore = server.stats.rejected
    // a hello naming a pipe instead of a memfd
    const r = readRendezvous(rendezvousPath({ text: server.address, target: server.address.slice('shm:'.length) } as Address), 'test')
    const pipe = native.doorbellPipe()
    const hello = native.openPeerFd(r.pid, r.helloFd, native.fdConstants.O_WRONLY | native.fdConstants.O_NONBLOCK)
    writeSync(hello, encodeHello({ pid: process.pid, segmentFd: pipe.read, doorbellFd: pipe.read, nonceLow: 1, nonceHigh: 2 }))
    native.closeFd(hello)
    for (let i = 0; i < 200 && server.stats.rejected === rejectedBefore; i++) await new Promise((r) => setTimeout(r, 5))
    expect(server.stats.rejected).toBe(rejectedBefore + 1)
    native.closeFd(pipe.read)
    native.closeFd(pipe.write)
    c.write(frameOf({ ok: 1 }))
    expect(await t.receive({ timeout: 5000 })).toEqual({ ok: 1 })
    c.end()
    await server.close()
  })
})

describe('shm: who may connect', () => {
  // needs root to start a process as another uid; CI runs as root
  it.skipIf(process.getuid!() !== 0)('a process of another user gets ERR_IPC_PERMISSION naming the cause, and nothing of it reaches the listener', async () => {
    const server = await serve()
    const script =
      `const { connect } = await import(${url(CORE_ENTRY)}); await import(${url(ENTRY)});` +
      ` connect(${JSON.stringify(server.address)}, { timeout: 5000 }).then(() => console.log('CONNECTED'), (e) => console.log(e.code, e.message))`
    const stranger = track(spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], uid: 65534, gid: 65534 }))
    let out = ''
    stranger.stdout!.on('data', (d) => (out += d))
    expect(await exitOf(stranger)).toBe(0)
    expect(out).toMatch(/^ERR_IPC_PERMISSION /)
    expect(server.stats.rejected).toBe(0)
    await expect(server.accept({ timeout: 50 })).rejects.toThrow(/timed out/)
  })
})

describe('shm: resources', () => {
  const count = (dir: string): number => readdirSync(dir).length
  const memfdMaps = (): number =>
    readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .filter((l) => l.includes('/memfd:ipc-shm')).length
  const memfdFds = (): number =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith('/memfd:ipc-shm')
      } catch {
        return false
      }
    }).length
  const rss = (): number => process.memoryUsage().rss

  it('10,000 connect/close cycles: descriptors, mappings, threads and RSS come back to their baseline', async () => {
    const server = await serve()
    const cycle = async (i: number): Promise<void> => {
      const [c, s] = await Promise.all([connect(`${server.address}?capacity=4KiB`), server.accept({ timeout: 10_000 })])
      await c.send(i)
      expect(await s.receive()).toBe(i)
      await c.close()
      await s.closed
      await s.close()
    }
    for (let i = 0; i < 200; i++) await cycle(i) // warm up (JIT, pools)
    const before = { fds: count('/proc/self/fd'), threads: count('/proc/self/task'), maps: memfdMaps(), memfds: memfdFds(), rss: rss() }
    for (let i = 0; i < 10_000; i++) await cycle(i)
    await new Promise((r) => setTimeout(r, 50))
    expect(count('/proc/self/fd')).toBe(before.fds)
    expect(count('/proc/self/task')).toBe(before.threads)
    expect(memfdMaps()).toBe(0)
    expect(memfdFds()).toBe(0)
    expect(before.maps).toBe(0)
    expect(rss() - before.rss).toBeLessThan(32 * 1024 * 1024)
    await server.close()
  }, 120_000)

  it('a process that exits without closing its listener leaves no rendezvous file', async () => {
    const address = names.fresh()
    const script = `const { listen } = await import(${url(CORE_ENTRY)}); await import(${url(ENTRY)}); await listen(${JSON.stringify(address)}); process.exit(0)`
    const child = track(spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' }))
    expect(await exitOf(child)).toBe(0)
    expect(await names.leftovers()).toEqual([])
  })

  it('a segment larger than the process may make is a coded error at connect(), never a SIGBUS later', async () => {
    const server = await serve()
    // RLIMIT_FSIZE bounds what ftruncate/fallocate may reserve, as a full tmpfs or memory cgroup would
    const script =
      `const { connect } = await import(${url(CORE_ENTRY)}); await import(${url(ENTRY)});` +
      ` connect(${JSON.stringify(server.address)}, { capacity: '4MiB', timeout: 5000 }).then(() => console.log('CONNECTED'), (e) => console.log(e.code, e.message))`
    const child = track(spawn('prlimit', ['--fsize=1048576', process.execPath, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] }))
    let out = ''
    child.stdout!.on('data', (d) => (out += d))
    expect(await exitOf(child)).toBe(0)
    expect(out).toMatch(/^ERR_IPC_SYSTEM .*cannot reserve a 8392704-byte shared segment/)
    await server.close()
  })
})

describe('shm: wake-ups', () => {
  it('an idle connection uses no CPU: both sides sleep on their doorbells', async () => {
    const server = await serve()
    const [c, s] = await Promise.all([connect(server.address), server.accept({ timeout: 10_000 })])
    await c.send('warm')
    expect(await s.receive()).toBe('warm')
    const before = process.cpuUsage()
    await new Promise((r) => setTimeout(r, 1000))
    const used = process.cpuUsage(before)
    expect((used.user + used.system) / 1000).toBeLessThan(30) // ms of CPU in a second of idleness (timers of the runner included)
    await s.send('still there')
    expect(await c.receive()).toBe('still there')
    await c.close()
    await s.close()
  })

  it('never loses a wake-up: 1,000,000 sleeping round trips and a 30 s stream, both sides pausing at random, under a watchdog', async () => {
    const server = await serve()
    const echo = track(spawn(process.execPath, peerCommand(ENTRY, { connect: server.address }, 'echo:5000'), { stdio: ['ignore', 'pipe', 'inherit'] }))
    const t = (await server.accept({ timeout: 10_000 })) as Transport<number, number>
    for (let i = 0; i < 1_000_000; i++) {
      if (Math.random() < 0.0002) await new Promise((r) => setTimeout(r, Math.random() * 2))
      await t.send(i)
      expect(await t.receive({ timeout: 5000 })).toBe(i) // the watchdog: a lost wake-up hangs here
    }
    await t.close()
    await exitOf(echo)
    const source = track(
      spawn(process.execPath, peerCommand(ENTRY, { connect: `${server.address}?capacity=8KiB` }, 'source:1000000000:40:20000'), {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    )
    const s = (await server.accept({ timeout: 10_000 })) as Transport<never, { i: number }>
    const until = performance.now() + 30_000
    let expected = 0
    while (performance.now() < until) {
      if (Math.random() < 0.0002) await new Promise((r) => setTimeout(r, Math.random() * 5))
      expect((await s.receive({ timeout: 5000 })).i).toBe(expected)
      expected++
    }
    expect(expected).toBeGreaterThan(100_000)
    await s.close()
    await exitOf(source)
  }, 180_000)
})
