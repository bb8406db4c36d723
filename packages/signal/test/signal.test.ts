import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { type Listener, connect, listen } from '@ipc/core'
import { exitOf, firstReport, peerCommand } from '@ipc/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { SIGRTMIN } from '../src/index.js'
import { DEFAULT_DATA_OFFSET } from '../src/wire.js'
import { ENTRY } from './targets.js'

const require = createRequire(import.meta.url)
const CORE_ENTRY = join(dirname(require.resolve('@ipc/core/package.json')), 'dist', 'index.js')
const D = SIGRTMIN + DEFAULT_DATA_OFFSET

const children = new Set<ChildProcess>()
const servers = new Set<Listener<any, any>>()
afterEach(async () => {
  for (const c of children) c.kill('SIGKILL')
  children.clear()
  for (const s of servers) await s.close()
  servers.clear()
})

async function serve(options?: Parameters<typeof listen>[1]): Promise<Listener<any, any>> {
  const server = await listen('signal:', options)
  servers.add(server)
  return server
}

function track(c: ChildProcess): ChildProcess {
  children.add(c)
  return c
}

const pending = (pid: number): bigint => BigInt(`0x${/^ShdPnd:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]}`)

describe('signal: never kills by mistake', () => {
  it('connect to a pid that does not catch the signals: ERR_IPC_NO_LISTENER, nothing sent, it stays alive', async () => {
    const sleeper = track(spawn('sleep', ['60'], { stdio: 'ignore' }))
    await new Promise((r) => sleeper.once('spawn', r))
    await expect(connect(`signal:${sleeper.pid}`)).rejects.toMatchObject({ code: 'ERR_IPC_NO_LISTENER' })
    expect(readFileSync(`/proc/${sleeper.pid}/status`, 'utf8')).not.toMatch(/^State:\s+[ZX]/m)
    expect(pending(sleeper.pid!)).toBe(0n)
    expect(sleeper.exitCode).toBe(null)
  })

  it('a second listener in the same process is ERR_IPC_ADDRESS_IN_USE; another signal set is fine', async () => {
    await serve()
    await expect(listen('signal:')).rejects.toMatchObject({ code: 'ERR_IPC_ADDRESS_IN_USE' })
    const other = await serve({ sig: 'SIGRTMIN+24' } as never)
    expect(other.address).toBe(`signal:${process.pid}?sig=SIGRTMIN+24`)
  })
})

describe('signal: limits and hostile senders', () => {
  it('a sender under prlimit --sigpending=64: a long stream arrives complete and in order (EAGAIN is backpressure)', async () => {
    const server = await serve()
    const sender = track(
      spawn('prlimit', ['--sigpending=64', process.execPath, ...peerCommand(ENTRY, { connect: server.address }, 'source:3000:40')], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    )
    const t = await server.accept({ timeout: 20_000 })
    let expected = 0
    for await (const m of t as AsyncIterable<{ i: number; pad: Uint8Array }>) {
      if (m.i !== expected || m.pad.length !== 40) expect({ i: m.i, pad: m.pad.length }).toEqual({ i: expected, pad: 40 })
      if (++expected === 3000) break
    }
    expect(await firstReport(sender)).toEqual({ sent: 3000 })
    await t.close()
  }, 60_000)

  it('a same-uid process queueing garbage on all three signals: no crash, nothing changes on the live connection', async () => {
    const server = await serve()
    const echo = track(spawn(process.execPath, peerCommand(ENTRY, { connect: server.address }, 'echo'), { stdio: ['ignore', 'pipe', 'inherit'] }))
    const t = await server.accept({ timeout: 20_000 })
    const script = [
      'import ctypes, random, sys',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'class sigval(ctypes.Union): _fields_ = [("sival_int", ctypes.c_int), ("sival_ptr", ctypes.c_void_p)]',
      'pid, first = int(sys.argv[1]), int(sys.argv[2])',
      'for n in range(3000):',
      '    libc.sigqueue(pid, first + n % 3, sigval(sival_ptr=random.getrandbits(64)))',
    ].join('\n')
    const hostile = track(spawn('python3', ['-c', script, String(process.pid), String(D)], { stdio: 'inherit' }))
    for (let i = 0; i < 2000; i++) {
      await t.send({ i })
      const back = (await t.receive({ timeout: 10_000 })) as { i: number }
      if (back.i !== i) expect(back.i).toBe(i)
    }
    expect(await exitOf(hostile)).toBe(0)
    expect(t.isOpen).toBe(true)
    await t.close()
    expect(await exitOf(echo)).toBe(0)
  }, 60_000)
})

describe('signal: beside Node’s own signal handling', () => {
  it('streams while SIGUSR2 handlers run on both sides, the peer runs --cpu-prof (SIGPROF) and fs work goes on: nothing lost, no EINTR', async () => {
    const server = await serve()
    const dir = mkdtempSync(join(tmpdir(), 'ipc-signal-prof-'))
    try {
      const peer =
        `process.on('SIGUSR2', () => {});` +
        `Promise.all([import(${JSON.stringify(CORE_ENTRY)}), import(${JSON.stringify(ENTRY)})]).then(async ([{ connect }]) => {` +
        ` const t = await connect(${JSON.stringify(server.address)}); const fs = require('node:fs');` +
        ` for await (const m of t) { fs.readFileSync('/proc/self/status'); await t.send(m) } })` +
        `.catch((e) => { console.error(e); process.exit(1) })`
      const child = track(spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '-e', peer], { stdio: ['ignore', 'ignore', 'inherit'] }))
      const t = await server.accept({ timeout: 20_000 })
      let usr2 = 0
      const onUsr2 = (): void => {
        usr2++
      }
      process.on('SIGUSR2', onUsr2)
      const storm = setInterval(() => {
        process.kill(process.pid, 'SIGUSR2')
        process.kill(child.pid!, 'SIGUSR2')
      }, 1)
      let reads = 0
      let reading = true
      const fsWork = (async () => {
        while (reading) {
          await Promise.all(Array.from({ length: 8 }, () => readFile('/proc/self/status', 'utf8')))
          reads++
        }
      })()
      try {
        const pad = 'p'.repeat(200)
        for (let i = 0; i < 3000; i++) {
          await t.send({ i, pad })
          const back = (await t.receive({ timeout: 10_000 })) as { i: number; pad: string }
          if (back.i !== i || back.pad !== pad) expect(back).toEqual({ i, pad })
        }
      } finally {
        clearInterval(storm)
        reading = false
        process.off('SIGUSR2', onUsr2)
      }
      await fsWork
      expect(usr2).toBeGreaterThan(0)
      expect(reads).toBeGreaterThan(0)
      await t.close()
      expect(await exitOf(child)).toBe(0)
      expect(readdirSync(dir).some((f) => f.endsWith('.cpuprofile'))).toBe(true) // the profiler did run
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
