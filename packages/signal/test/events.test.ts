import { type ChildProcess, spawn } from 'node:child_process'
import { copyFileSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { exitOf } from '@ipc/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { SIGRTMIN, type SignalInfo, caughtSignals, sendSignal, signals } from '../src/index.js'
import { ENTRY } from './targets.js'

const require = createRequire(import.meta.url)
const children = new Set<ChildProcess>()
afterEach(() => {
  for (const c of children) c.kill('SIGKILL')
  children.clear()
})

function track(c: ChildProcess): ChildProcess {
  children.add(c)
  return c
}

/** A Node child that sends `count` signals `signo` to us with values 0, 1, …, retrying on a full queue. */
function nodeSender(signo: number, count: number): ChildProcess {
  const script =
    `import(${JSON.stringify(ENTRY)}).then(async ({ sendSignal }) => {` +
    ` for (let i = 0; i < ${count}; ) { try { sendSignal(${process.pid}, ${signo}, i); i++ } catch (e) { if (e.details?.errno !== 'EAGAIN') throw e; await new Promise((r) => setTimeout(r, 1)) } } })` +
    `.catch((e) => { console.error(e); process.exit(1) })`
  return track(spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'inherit', 'inherit'] }))
}

/** A Python child calling libc's sigqueue() (process-directed), values 0, 1, …, retrying on EAGAIN. */
function pythonSender(signo: number, count: number): ChildProcess {
  const script = [
    'import ctypes, sys, time',
    'libc = ctypes.CDLL(None, use_errno=True)',
    'class sigval(ctypes.Union): _fields_ = [("sival_int", ctypes.c_int), ("sival_ptr", ctypes.c_void_p)]',
    'pid, sig, n = map(int, sys.argv[1:4])',
    'i = 0',
    'while i < n:',
    '    if libc.sigqueue(pid, sig, sigval(i)) == 0: i += 1',
    '    elif ctypes.get_errno() == 11: time.sleep(0.0005)',
    '    else: raise OSError(ctypes.get_errno(), "sigqueue")',
  ].join('\n')
  return track(spawn('python3', ['-c', script, String(process.pid), String(signo), String(count)], { stdio: ['ignore', 'inherit', 'inherit'] }))
}

function collect(signo: number, count: number): { infos: SignalInfo[]; all: Promise<SignalInfo[]>; sub: Disposable } {
  const infos: SignalInfo[] = []
  let done: (v: SignalInfo[]) => void = () => {}
  const all = new Promise<SignalInfo[]>((r) => (done = r))
  const sub = signals.on(signo, (info) => {
    infos.push(info)
    if (infos.length === count) done(infos)
  })
  return { infos, all, sub }
}

const caught = (signo: number): boolean => caughtSignals(process.pid)!.has(signo)

describe('signals: names', () => {
  it('refuses standard signals and anything outside SIGRTMIN..SIGRTMAX with ERR_IPC_INVALID_ARGUMENT', () => {
    for (const name of [
      'SIGUSR1',
      'SIGUSR2',
      'SIGPROF',
      'SIGSEGV',
      'SIGKILL',
      'SIGTERM',
      'SIGRTMIN+99',
      'SIGRTMAX+1',
      'SIGRTMIN-1',
      'nope',
      9,
      SIGRTMIN - 1,
      65,
    ]) {
      expect(() => signals.on(name as never, () => {})).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ARGUMENT' }))
      expect(() => sendSignal(process.pid, name as never, 1)).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ARGUMENT' }))
    }
  })
})

describe('signals: receiving', () => {
  it('5,000 queued signals from another Node process arrive in order with its pid, uid, SI_QUEUE and the values', async () => {
    const signo = SIGRTMIN + 5
    const { all, sub } = collect(signo, 5000)
    const sender = nodeSender(signo, 5000)
    const infos = await all
    sub[Symbol.dispose]()
    expect(await exitOf(sender)).toBe(0)
    expect(infos.map((i) => i.value)).toEqual(Array.from({ length: 5000 }, (_, i) => i))
    expect(infos.every((i) => i.pid === sender.pid && i.uid === process.getuid!() && i.code === 'SI_QUEUE' && i.name === 'SIGRTMIN+5')).toBe(true)
  })

  it("a Python sender's process-directed sigqueue(): 20,000 signals, every one in order (order by construction)", async () => {
    const signo = SIGRTMIN + 6
    const { all, sub } = collect(signo, 20_000)
    const sender = pythonSender(signo, 20_000)
    const infos = await all
    sub[Symbol.dispose]()
    expect(await exitOf(sender)).toBe(0)
    const firstWrong = infos.findIndex((info, i) => info.value !== i)
    expect(firstWrong).toBe(-1)
    expect(infos[0]!.pid).toBe(sender.pid)
  }, 60_000)

  it('a kill(1)-style signal (no value) is reported as SI_USER with the sender', async () => {
    const signo = SIGRTMIN + 7
    const { all, sub } = collect(signo, 1)
    const killer = track(spawn('kill', [`-${signo}`, String(process.pid)], { stdio: 'inherit' }))
    const [info] = await all
    sub[Symbol.dispose]()
    expect(await exitOf(killer)).toBe(0)
    expect(info).toMatchObject({ signo, code: 'SI_USER', pid: killer.pid, value: 0 })
  })

  it('the handler shows in SigCgt while someone listens, and the previous disposition comes back after the last listener', () => {
    const signo = SIGRTMIN + 8
    expect(caught(signo)).toBe(false)
    const a = signals.on(signo, () => {})
    const b = signals.on(signo, () => {})
    expect(caught(signo)).toBe(true)
    a.dispose()
    expect(caught(signo)).toBe(true)
    b.dispose()
    expect(caught(signo)).toBe(false)
  })

  it('every thread of the process blocks a claimed signal (one reader takes them all, in order)', () => {
    const signo = SIGRTMIN + 9
    using _ = signals.on(signo, () => {})
    const open = readdirSync('/proc/self/task').filter((tid) => {
      const blk = BigInt(`0x${/^SigBlk:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))![1]}`)
      return ((blk >> BigInt(signo - 1)) & 1n) === 0n
    })
    expect(open).toEqual([])
  })

  it('events() iterates in order; break ends it; an aborted signal rejects the pending next() with ERR_IPC_ABORTED', async () => {
    const signo = SIGRTMIN + 10
    const it = signals.events(signo)
    const first = it.next()
    const sender = nodeSender(signo, 100)
    const values: number[] = [(await first).value!.value]
    for await (const info of it) {
      values.push(info.value)
      if (values.length === 100) break
    }
    expect(values).toEqual(Array.from({ length: 100 }, (_, i) => i))
    expect(await exitOf(sender)).toBe(0)
    expect(caught(signo)).toBe(false) // break released it
    const ac = new AbortController()
    const pending = signals.events(signo, { signal: ac.signal }).next()
    ac.abort()
    await expect(pending).rejects.toMatchObject({ code: 'ERR_IPC_ABORTED' })
    expect(caught(signo)).toBe(false)
  })

  it('a signal another copy of the addon owns is ERR_IPC_ADDRESS_IN_USE', () => {
    const signo = SIGRTMIN + 11
    const built = join(dirname(require.resolve('@ipc/native/package.json')), 'build', 'Release', 'ipc_native.node')
    const copy = join(tmpdir(), `ipc-native-copy-${process.pid}.node`)
    copyFileSync(built, copy)
    try {
      const other = { exports: {} as { SignalReceiver: new (s: number[], cb: () => void) => { close(): void } } }
      process.dlopen(other, copy)
      const theirs = new other.exports.SignalReceiver([signo], () => {})
      try {
        expect(() => signals.on(signo, () => {})).toThrow(expect.objectContaining({ code: 'ERR_IPC_ADDRESS_IN_USE' }))
      } finally {
        theirs.close()
      }
      using _mine = signals.on(signo, () => {}) // free again once they let go
      expect(caught(signo)).toBe(true)
    } finally {
      rmSync(copy, { force: true })
    }
  })

  it('signals.on() inside a Worker gets the signals; terminating the Worker leaves the process and its own listener fine', async () => {
    const signo = SIGRTMIN + 12
    const { all, sub } = collect(signo, 200)
    const source =
      `const { parentPort } = require('node:worker_threads');` +
      `import(${JSON.stringify(ENTRY)}).then(({ signals }) => { let n = 0; signals.on(${signo}, () => { if (++n === 200) parentPort.postMessage(n) }); setInterval(() => {}, 1000); parentPort.postMessage('ready') })` // a listener does not keep the Worker alive (as process.on does not)
    const w = new Worker(source, { eval: true })
    const messages: unknown[] = []
    const counted = new Promise<void>((resolve, reject) => {
      w.on('message', (m) => {
        messages.push(m)
        if (m === 200) resolve()
      })
      w.once('error', reject)
    })
    await new Promise<void>((resolve) => w.once('message', () => resolve()))
    const sender = nodeSender(signo, 200)
    await counted
    await all
    expect(await exitOf(sender)).toBe(0)
    await w.terminate()
    const again = collect(signo, 10)
    const second = nodeSender(signo, 10)
    expect((await again.all).map((i) => i.value)).toEqual(Array.from({ length: 10 }, (_, i) => i))
    expect(await exitOf(second)).toBe(0)
    again.sub[Symbol.dispose]()
    sub[Symbol.dispose]()
    expect(caught(signo)).toBe(false)
  })
})

describe('sendSignal', () => {
  it('never signals a process that does not catch the signal: ERR_IPC_NO_LISTENER, and it stays alive', async () => {
    const sleeper = track(spawn('sleep', ['60'], { stdio: 'ignore' }))
    await new Promise((r) => sleeper.once('spawn', r))
    expect(() => sendSignal(sleeper.pid!, 'SIGRTMIN+3', 1)).toThrow(expect.objectContaining({ code: 'ERR_IPC_NO_LISTENER' }))
    const status = readFileSync(`/proc/${sleeper.pid}/status`, 'utf8')
    expect(status).not.toMatch(/^State:\s+[ZX]/m) // alive
    expect(BigInt(`0x${/^ShdPnd:\s*([0-9a-f]+)$/m.exec(status)![1]}`)).toBe(0n) // and nothing is pending for it
    expect(sleeper.exitCode).toBe(null)
  })

  it('a pid that does not exist is ERR_IPC_PEER_EXITED; a bad value ERR_IPC_INVALID_ARGUMENT', () => {
    expect(() => sendSignal(2 ** 22 + 12345, 'SIGRTMIN', 1)).toThrow(expect.objectContaining({ code: 'ERR_IPC_PEER_EXITED' }))
    expect(() => sendSignal(process.pid, 'SIGRTMIN', 2 ** 40)).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ARGUMENT' }))
    expect(() => sendSignal(0, 'SIGRTMIN', 1)).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ARGUMENT' }))
  })

  // needs root to start a process as another uid; CI runs as root
  it.skipIf(process.getuid!() !== 0)("another user's process: ERR_IPC_PERMISSION", async () => {
    const signo = SIGRTMIN + 13
    using _ = signals.on(signo, () => {})
    const script = `import(${JSON.stringify(ENTRY)}).then(({ sendSignal }) => { try { sendSignal(${process.pid}, ${signo}, 1); console.log('sent') } catch (e) { console.log(e.code) } })`
    const stranger = track(spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], uid: 65534, gid: 65534 }))
    let out = ''
    stranger.stdout!.on('data', (d) => (out += d))
    expect(await exitOf(stranger)).toBe(0)
    expect(out.trim()).toBe('ERR_IPC_PERMISSION')
  })
})
