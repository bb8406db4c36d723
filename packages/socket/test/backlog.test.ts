import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { type Socket, connect as netConnect } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Worker } from 'node:worker_threads'
import { afterAll, describe, expect, it } from 'vitest'
import { type Listener, type Transport, connect, isIpcError, listen } from '@ipc/core'
import '../src/index.js'
import { socketDiagnostics } from '../src/debug.js'
import { ENTRY, socketFolder } from './targets.js'

const folder = socketFolder()
afterAll(() => folder.dispose())

let names = 0
const abstractName = (): string => `ipc-backlog-${process.pid}-${++names}`
const CLIENTS = 500

/** Serves every connection: echoes each message until the client closes. */
function serveEcho(server: Listener<number, number>): Promise<void> {
  return (async () => {
    for await (const conn of server) {
      void (async () => {
        for await (const m of conn) await conn.send(m)
        await conn.close()
      })()
    }
  })()
}

/** `CLIENTS` simultaneous connect() calls, each exchanging one message; returns the retries they needed. */
async function burst(address: string): Promise<number> {
  const server = await listen<number, number>(address)
  const serving = serveEcho(server)
  const retries = socketDiagnostics.connectRetries
  const dropped = socketDiagnostics.droppedConnections
  const results = await Promise.allSettled(
    Array.from({ length: CLIENTS }, async (_, i) => {
      const t = await connect<number, number>(server.address)
      try {
        await t.send(i)
        return await t.receive({ timeout: 30_000 })
      } finally {
        await t.close()
      }
    }),
  )
  await server.close()
  await serving
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [`${r.reason?.code}: ${r.reason?.message}`] : []))
  expect(failures).toEqual([])
  expect(results.map((r) => (r as PromiseFulfilledResult<number>).value)).toEqual(Array.from({ length: CLIENTS }, (_, i) => i))
  expect(socketDiagnostics.droppedConnections).toBe(dropped) // the listener closed nothing unread
  return socketDiagnostics.connectRetries - retries
}

/** One raw connect: `'connected'` (the socket is kept in `keep`) or the errno code. */
function rawConnect(target: { path: string } | { host: string; port: number }, keep: Socket[]): Promise<string> {
  return new Promise((resolve) => {
    const s = netConnect(target)
    s.once('connect', () => {
      keep.push(s)
      resolve('connected')
    })
    s.once('error', (err: NodeJS.ErrnoException) => {
      s.destroy()
      resolve(err.code ?? err.message)
    })
  })
}

/**
 * A real listening socket that never accepts: a worker thread listens (backlog 1), then blocks its
 * own event loop in Atomics.wait, so the kernel queues connections and nobody takes them.
 * `release()` wakes the worker, which closes the server (removing its socket file) and exits.
 */
async function blockedListener(listenOn: { path: string } | { host: string; port: number }) {
  const gate = new SharedArrayBuffer(4)
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads')
     const server = require('node:net').createServer()
     server.listen({ ...workerData.listenOn, backlog: 1 }, () => {
       parentPort.postMessage(server.address())
       Atomics.wait(new Int32Array(workerData.gate), 0, 0)
       server.close()
       parentPort.close()
     })`,
    { eval: true, workerData: { listenOn, gate } },
  )
  const [bound] = (await once(worker, 'message')) as [string | { port: number }]
  const held: Socket[] = []
  return {
    bound,
    held,
    async release() {
      for (const s of held) s.destroy()
      Atomics.store(new Int32Array(gate), 0, 1)
      Atomics.notify(new Int32Array(gate), 0)
      await once(worker, 'exit')
    },
  }
}

/** Fills a blocked Unix listener's backlog with raw connects until the kernel refuses one (EAGAIN). */
async function fillUnixBacklog(path: string, held: Socket[]): Promise<string[]> {
  const outcomes: string[] = []
  while (outcomes.length < 10 && outcomes.at(-1) !== 'EAGAIN') outcomes.push(await rawConnect({ path }, held))
  return outcomes
}

describe('a connect() burst larger than the listen backlog', () => {
  it(`${CLIENTS} clients on a unix: path with ?backlog=4 all connect and exchange a message, retrying EAGAIN`, async () => {
    const retries = await burst(`${folder.fresh()}?backlog=4`)
    expect(retries).toBeGreaterThan(0) // the kernel refused at least once and connect() retried
    expect(await folder.leftovers()).toEqual([])
  })

  it(`${CLIENTS} clients on an abstract unix:@name with ?backlog=4 all connect and exchange a message, retrying EAGAIN`, async () => {
    expect(await burst(`unix:@${abstractName()}?backlog=4`)).toBeGreaterThan(0)
  })

  it(`${CLIENTS} clients on an abstract unix:@name with the default backlog all connect and exchange a message`, async () => {
    await burst(`unix:@${abstractName()}`)
  })

  it(`${CLIENTS} clients on tcp://127.0.0.1:0 with the default backlog all connect and exchange a message`, async () => {
    await burst('tcp://127.0.0.1:0')
  })
})

describe('the default backlog is 511, as net.Server', () => {
  it('unix: the kernel queues 511 (+1) connections, and the listener holds 511 for accept()', async () => {
    const server = await listen(`unix:@${abstractName()}`)
    const path = `\0${server.address.slice('unix:@'.length)}`
    const held: Socket[] = []
    const dropped = once(socketDiagnostics, 'dropped')
    // All connect() syscalls run before this event loop can accept one: only the kernel backlog counts.
    const outcomes = await Promise.all(Array.from({ length: 600 }, () => rawConnect({ path }, held)))
    // Linux queues backlog + 1 connections on a listening Unix socket, then connect() gets EAGAIN
    expect(outcomes.filter((o) => o === 'connected').length).toBe(512)
    expect(outcomes.filter((o) => o !== 'connected')).toEqual(Array(600 - 512).fill('EAGAIN'))
    // nobody calls accept(): the listener keeps 511 and closes the next one unread (and says so)
    const [report] = (await dropped) as [{ why: string }]
    expect(report.why).toMatch(/backlog \(511\) is full/)
    const accepted: Transport[] = []
    for (let i = 0; i < 511; i++) accepted.push(await server.accept({ timeout: 10_000 }))
    expect(isIpcError(await server.accept({ timeout: 50 }).catch((e) => e), 'ERR_IPC_TIMEOUT')).toBe(true) // the 512th was dropped
    await Promise.all(accepted.map((t) => t.close()))
    for (const s of held) s.destroy()
    await server.close()
  })

  it('tcp: the kernel backlog is 511 (ss), and ?backlog=N sets it', async () => {
    if (!existsSync('/usr/bin/ss') && !existsSync('/bin/ss')) return // iproute2 missing: nothing to read the kernel's value with
    const listenBacklog = async (address: string): Promise<string> => {
      const server = await listen(address)
      const port = server.address.split(':').at(-1)
      const { stdout } = await promisify(execFile)('ss', ['-ltnH', `sport = :${port}`])
      await server.close()
      return stdout.trim().split(/\s+/)[2]!
    }
    expect(await listenBacklog('tcp://127.0.0.1:0')).toBe('511')
    expect(await listenBacklog('tcp://127.0.0.1:0?backlog=37')).toBe('37')
  })

  it('refuses a bad backlog with ERR_IPC_INVALID_ARGUMENT', async () => {
    for (const bad of ['0', 'abc', '70000', '1.5', '-3']) {
      const err = await listen(`unix:@${abstractName()}?backlog=${bad}`).catch((e) => e)
      expect(isIpcError(err, 'ERR_IPC_INVALID_ARGUMENT'), `backlog=${bad}: ${err?.code}`).toBe(true)
      expect(isIpcError(await listen('tcp://127.0.0.1:0', { backlog: bad as unknown as number }).catch((e) => e), 'ERR_IPC_INVALID_ARGUMENT')).toBe(true)
    }
  })
})

describe('a connect() that cannot complete', () => {
  it('unix: a listener that never accepts (backlog full) gives ERR_IPC_TIMEOUT within the timeout', async () => {
    const path = join(folder.dir, 'blocked.sock')
    const blocked = await blockedListener({ path })
    try {
      expect(await fillUnixBacklog(path, blocked.held)).toEqual([...blocked.held.map(() => 'connected'), 'EAGAIN'])
      const retries = socketDiagnostics.connectRetries
      const started = performance.now()
      const err = await connect(`unix:${path}`, { timeout: 300 }).catch((e) => e)
      const elapsed = performance.now() - started
      expect(isIpcError(err, 'ERR_IPC_TIMEOUT'), String(err)).toBe(true)
      expect(err.message).toMatch(/timed out after 300 ms .*EAGAIN: the listener's backlog is full/)
      expect((err.cause as NodeJS.ErrnoException).code).toBe('EAGAIN')
      expect(elapsed).toBeGreaterThanOrEqual(299)
      expect(elapsed).toBeLessThan(300 + 250)
      expect(socketDiagnostics.connectRetries - retries).toBeGreaterThan(3) // backed off, but kept trying
      expect(socketDiagnostics.connectRetries - retries).toBeLessThan(300 / 16) // and never spun
    } finally {
      await blocked.release()
    }
    expect(await folder.leftovers()).toEqual([])
  })

  it('unix: listen() at the path of a live server whose backlog is full is ERR_IPC_ADDRESS_IN_USE, the file untouched', async () => {
    const path = join(folder.dir, 'busy.sock')
    const blocked = await blockedListener({ path })
    try {
      expect((await fillUnixBacklog(path, blocked.held)).at(-1)).toBe('EAGAIN')
      const err = await listen(`unix:${path}`).catch((e) => e)
      expect(isIpcError(err, 'ERR_IPC_ADDRESS_IN_USE'), String(err)).toBe(true)
      expect(existsSync(path)).toBe(true)
    } finally {
      await blocked.release()
    }
    expect(await folder.leftovers()).toEqual([])
  })

  it('unix: an abort while retrying gives ERR_IPC_ABORTED with the reason as cause', async () => {
    const name = abstractName()
    const blocked = await blockedListener({ path: `\0${name}` })
    try {
      expect((await fillUnixBacklog(`\0${name}`, blocked.held)).at(-1)).toBe('EAGAIN')
      const ac = new AbortController()
      const reason = new Error('shutting down')
      const pending = connect(`unix:@${name}`, { signal: ac.signal }).catch((e) => e) // no timeout: the 10 s bound applies
      const [retry] = (await once(socketDiagnostics, 'connect-retry')) as [{ code: string; label: string }]
      expect(retry).toMatchObject({ code: 'EAGAIN', label: `unix:@${name}` })
      const aborted = performance.now()
      ac.abort(reason)
      const err = await pending
      expect(isIpcError(err, 'ERR_IPC_ABORTED'), String(err)).toBe(true)
      expect(err.cause).toBe(reason)
      expect(performance.now() - aborted).toBeLessThan(100)
      // an already aborted signal never starts
      expect(isIpcError(await connect(`unix:@${name}`, { signal: ac.signal }).catch((e) => e), 'ERR_IPC_ABORTED')).toBe(true)
    } finally {
      await blocked.release()
    }
  })

  it('tcp: a full accept queue holds the SYN (kernel retransmission, no error from Node): ERR_IPC_TIMEOUT, no retries', async () => {
    const blocked = await blockedListener({ host: '127.0.0.1', port: 0 })
    const { port } = blocked.bound as { port: number }
    try {
      // backlog 1: the kernel completes two handshakes; the next SYN is dropped and retransmitted after ~1 s
      expect(await Promise.all([rawConnect({ host: '127.0.0.1', port }, blocked.held), rawConnect({ host: '127.0.0.1', port }, blocked.held)])).toEqual([
        'connected',
        'connected',
      ])
      const retries = socketDiagnostics.connectRetries
      const started = performance.now()
      const err = await connect(`tcp://127.0.0.1:${port}`, { timeout: 300 }).catch((e) => e)
      const elapsed = performance.now() - started
      expect(isIpcError(err, 'ERR_IPC_TIMEOUT'), String(err)).toBe(true)
      expect(elapsed).toBeGreaterThanOrEqual(299)
      expect(elapsed).toBeLessThan(300 + 250)
      expect(socketDiagnostics.connectRetries).toBe(retries)
    } finally {
      await blocked.release()
    }
  })

  it('nothing listening is ERR_IPC_NO_LISTENER at once, never retried', async () => {
    const retries = socketDiagnostics.connectRetries
    const started = performance.now()
    expect(isIpcError(await connect(`unix:@${abstractName()}`, { timeout: 5000 }).catch((e) => e), 'ERR_IPC_NO_LISTENER')).toBe(true) // ECONNREFUSED
    expect(isIpcError(await connect(folder.fresh(), { timeout: 5000 }).catch((e) => e), 'ERR_IPC_NO_LISTENER')).toBe(true) // ENOENT
    expect(isIpcError(await connect('tcp://127.0.0.1:1', { timeout: 5000 }).catch((e) => e), 'ERR_IPC_NO_LISTENER')).toBe(true)
    expect(performance.now() - started).toBeLessThan(1000)
    expect(socketDiagnostics.connectRetries).toBe(retries)
  })

  it('a bad timeout is ERR_IPC_INVALID_ARGUMENT', async () => {
    const server = await listen(`unix:@${abstractName()}`)
    expect(isIpcError(await connect(server.address, { timeout: -5 }).catch((e) => e), 'ERR_IPC_INVALID_ARGUMENT')).toBe(true)
    await server.close()
  })
})

describe('NODE_DEBUG=ipc', () => {
  it('logs a connect that retried a full backlog, and how it ended', async () => {
    const script = `
      const { connect, listen } = await import(${JSON.stringify(ENTRY)})
      const server = await listen('unix:@${abstractName()}?backlog=1')
      ;(async () => { for await (const c of server) void c.close() })()
      await Promise.all(Array.from({ length: 50 }, () => connect(server.address).then((t) => t.close())))
      await server.close()`
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, NODE_DEBUG: 'ipc' },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    const [code] = await once(child, 'exit')
    expect(code, stderr).toBe(0)
    expect(stderr).toMatch(
      /^IPC \d+: connect unix:@\S+: EAGAIN: the listener's backlog is full, retrying with backoff \(for up to 10000 ms: no timeout given\)$/m,
    )
    expect(stderr).toMatch(/^IPC \d+: connect unix:@\S+: connected after \d+ retries in \d+ ms$/m)
  })
})
