/**
 * `@ipc/core/testing` — the conformance kit. Every transport runs the same cases, with real
 * child processes as peers, through one call of {@link describeConformance}.
 *
 * @example
 * ```ts
 * import { describeConformance, peerCommand } from '@ipc/core/testing'
 * describeConformance({
 *   name: 'unix',
 *   async startPeer(role, options) { ... spawn `node ...peerCommand(...)` and return our end ... },
 *   killedPeerReason: 'peer',
 * })
 * ```
 *
 * @packageDocumentation
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { isIpcError } from '../errors.js'
import type { CloseReason } from '../link.js'
import type { Listener } from '../listener.js'
import { connect, listen } from '../registry.js'
import type { StandardSchemaV1 } from '../schema.js'
import type { Transport, TransportOptions } from '../transport.js'

/** Our end of a connection to a peer process, and that process. */
export interface PeerConnection {
  /** This side's transport. */
  transport: Transport<any, any>
  /** The peer process (spawned with `stdio[1]` a pipe, so its report can be read). */
  child: ChildProcess
}

/** How the kit starts peers and probes one mechanism. */
export interface ConformanceTarget {
  /** Shown in test names, e.g. `'unix'`. */
  name: string
  /**
   * Starts a peer child process playing `role` (see {@link peerCommand}) with these transport
   * options on both ends, and returns our end once connected. Spawn `process.execPath` with the
   * arguments from {@link peerCommand}, `stdio[1]` a pipe.
   */
  startPeer(role: string, options: TransportOptions<any>): Promise<PeerConnection>
  /**
   * Connects a misbehaving peer that writes exactly `bytes` (no framing) and then ends its side
   * if `end` is true; returns our end. Omit for mechanisms that cannot carry raw bytes.
   */
  injectRaw?(bytes: Uint8Array, end: boolean, options: TransportOptions<any>): Promise<{ transport: Transport<any, any>; child?: ChildProcess }>
  /** For mechanisms with listeners: a fresh address per call and how to listen there. */
  listener?: {
    fresh(): string
    listen(address: string, options: TransportOptions<any>): Promise<Listener<any, any>>
    /** Starts a peer process that connects to `address` and plays `role`. */
    spawnClient(address: string, role: string, options: TransportOptions<any>): ChildProcess
    /** Connects to `address` as a misbehaving client that writes `bytes` raw (and ends if `end`). */
    injectRaw?(address: string, bytes: Uint8Array, end: boolean): Promise<void>
    /**
     * Starts a listener at `address` in a child process (echoing, printing READY) — for the crash
     * and reclaim case. Omit where an address cannot be listened at twice (e.g. `tcp://…:0`).
     */
    spawnListener?(address: string): { child: ChildProcess; ready: Promise<void> }
  }
  /** How `closed` reports a peer killed with SIGKILL: `'peer'` (connection-based) or `'peer-exited'`. */
  killedPeerReason: Exclude<CloseReason, 'local' | 'error'>
  /** Message sizes at this mechanism's internal boundaries (PIPE_BUF, max unit, …); ±1 is added. */
  boundaries?: number[]
  /** Kernel objects and files this mechanism left behind; checked to be empty after every case. */
  leftovers?(): Promise<string[]>
}

const here = dirname(fileURLToPath(import.meta.url))

/** The peer program's path (`peer.js` beside this module). */
export const PEER_SCRIPT = join(here, 'peer.js')

/**
 * Arguments for `node` to run the kit's peer program: it imports `module` (an absolute path to the
 * mechanism's built entry), opens its end with `connect(address)` or by calling the export named
 * `call` (e.g. `fromParent`), and plays `role`.
 */
export function peerCommand(module: string, open: { connect: string } | { call: string }, role: string, options: TransportOptions<any> = {}): string[] {
  const how = 'connect' in open ? ['--connect', open.connect] : ['--call', open.call]
  return [PEER_SCRIPT, '--module', module, ...how, '--role', role, '--options', JSON.stringify(options)]
}

/** What {@link addressTarget} needs to know about a mechanism with listeners. */
export interface AddressTargetOptions {
  name: string
  /** Absolute path of the mechanism's built entry (peers import it). */
  entry: string
  /** A fresh address per call. */
  fresh(): string
  killedPeerReason: ConformanceTarget['killedPeerReason']
  /**
   * Connects a misbehaving client to `address` that writes `bytes` raw after whatever handshake the
   * mechanism needs, then ends its side if `end`. Returns the client process if it made one.
   */
  rawClient?(address: string, bytes: Uint8Array, end: boolean): Promise<ChildProcess | void>
  /** `false` where `fresh()` gives addresses that cannot be listened at again (e.g. `tcp://…:0`). */
  reusable?: boolean
  boundaries?: number[]
  leftovers?(): Promise<string[]>
}

/**
 * A {@link ConformanceTarget} for any mechanism with `listen()`/`connect()` addresses: peers are
 * child processes that `connect()`; this side listens and accepts.
 */
export function addressTarget(o: AddressTargetOptions): ConformanceTarget {
  const spawnClient = (address: string, role: string, options: TransportOptions<any>): ChildProcess =>
    spawn(process.execPath, peerCommand(o.entry, { connect: address }, role, options), { stdio: ['ignore', 'pipe', 'inherit'] })
  const target: ConformanceTarget = {
    name: o.name,
    killedPeerReason: o.killedPeerReason,
    async startPeer(role, options) {
      const server = await listen(o.fresh(), options)
      try {
        const child = spawnClient(server.address, role, options)
        return { transport: await server.accept({ timeout: 20_000 }), child }
      } finally {
        await server.close()
      }
    },
    listener: { fresh: o.fresh, listen: (address, options) => listen(address, options), spawnClient },
  }
  if (o.reusable !== false) target.listener!.spawnListener = (address) => spawnEchoListener(o.entry, address)
  if (o.rawClient) {
    const raw = o.rawClient.bind(o)
    target.injectRaw = async (bytes, end, options) => {
      const server = await listen(o.fresh(), options)
      try {
        const child = await raw(server.address, bytes, end)
        const transport = await server.accept({ timeout: 20_000 })
        return child ? { transport, child } : { transport }
      } finally {
        await server.close()
      }
    }
    target.listener!.injectRaw = async (address, bytes, end) => void (await raw(address, bytes, end))
  }
  if (o.boundaries) target.boundaries = o.boundaries
  if (o.leftovers) target.leftovers = o.leftovers.bind(o)
  return target
}

/** Starts a child process that listens at `address` (importing `entry`), echoes every message, and prints READY. */
export function spawnEchoListener(entry: string, address: string): { child: ChildProcess; ready: Promise<void> } {
  const script =
    `import(${JSON.stringify(pathToFileURL(entry).href)}).then(async () => {` +
    ` const { listen } = await import(${JSON.stringify(pathToFileURL(join(here, '..', 'index.js')).href)});` +
    ` const l = await listen(${JSON.stringify(address)}); process.stdout.write('READY\\n');` +
    ` for await (const c of l) void (async () => { for await (const m of c) await c.send(m) })() })`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => (String(d).includes('READY') ? resolve() : undefined))
    child.once('exit', (code) => reject(new Error(`listener child exited (${code})`)))
  })
  return { child, ready }
}

/** Connects to `address`, sends `value`, returns the reply, and closes. */
export async function roundTrip(address: string, value: unknown): Promise<unknown> {
  const t = await connect(address, { timeout: 10_000 })
  await t.send(value)
  const back = await t.receive({ timeout: 10_000 })
  await t.close()
  return back
}

/** Resolves with the peer's `REPORT` lines (parsed) once its stdout closes. */
export function peerReports(child: ChildProcess): Promise<Record<string, any>[]> {
  const reports: Record<string, any>[] = []
  if (!child.stdout) return Promise.resolve(reports)
  const lines = createInterface({ input: child.stdout })
  lines.on('line', (line) => {
    if (line.startsWith('REPORT ')) reports.push(JSON.parse(line.slice(7)))
  })
  return new Promise((resolve) => lines.once('close', () => resolve(reports)))
}

/** The first `REPORT` line the peer prints (resolves as soon as it is printed). */
export function firstReport(child: ChildProcess): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    if (!child.stdout) return reject(new Error('peer has no stdout pipe'))
    const lines = createInterface({ input: child.stdout })
    lines.on('line', (line) => {
      if (line.startsWith('REPORT ')) {
        resolve(JSON.parse(line.slice(7)))
        lines.close()
      }
    })
    lines.once('close', () => reject(new Error('peer ended without a report')))
  })
}

/** Resolves with the exit code (or signal name) of `child`. */
export function exitOf(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode)
  if (child.signalCode !== null) return Promise.resolve(child.signalCode)
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
}

function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size)
  for (let j = 0; j < size; j++) out[j] = (seed * 131 + j * 7) & 0xff
  return out
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

/** Resolves `true` if `p` settles within `ms`, else `false` (to observe that something waits). */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    p.then(
      () => {
        clearTimeout(timer)
        resolve(true)
      },
      () => {
        clearTimeout(timer)
        resolve(true)
      },
    )
  })
}

/** A Standard Schema that accepts `{ i: number }` only. */
const numberedSchema: StandardSchemaV1<unknown, { i: number }> = {
  '~standard': {
    version: 1,
    vendor: 'ipc-conformance',
    validate: (v) =>
      typeof v === 'object' && v !== null && typeof (v as { i?: unknown }).i === 'number'
        ? { value: v as { i: number } }
        : { issues: [{ message: 'expected { i: number }', path: ['i'] }] },
  },
}

/** maxMessageSize used by the size cases (small enough to keep the suite fast). */
const MAX = 2 * 1024 * 1024 + 17
/** highWaterMark used by the size and backpressure cases. */
const HWM = 256 * 1024

/**
 * Instantiates the conformance cases for one transport (inside the caller's vitest file).
 * Every case uses real child processes through `target.startPeer`.
 */
export function describeConformance(target: ConformanceTarget): void {
  const cleanups: (() => unknown)[] = []
  const track = (p: PeerConnection): PeerConnection => {
    cleanups.push(() => p.transport.close(), () => (p.child.exitCode === null && p.child.signalCode === null ? p.child.kill('SIGKILL') : undefined))
    return p
  }

  describe(`conformance: ${target.name}`, () => {
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c()
      if (target.leftovers) expect(await target.leftovers()).toEqual([])
    })

    it('delivers every size, whole, in order, exactly once; rejects maxMessageSize + 1', async () => {
      const options = { codec: 'raw' as const, maxMessageSize: MAX, highWaterMark: HWM }
      const p = track(await target.startPeer('echo', options))
      const base = [0, 1, 2, 3, 4, 5, 4092, 4096, 16 * 1024, 64 * 1024, HWM, 256 * 1024, 1024 * 1024, MAX - 4, MAX]
      const sizes = new Set<number>()
      for (const b of [...base, ...(target.boundaries ?? [])]) for (const d of [-1, 0, 1]) if (b + d >= 0 && b + d <= MAX) sizes.add(b + d)
      const list = [...sizes].sort((a, b) => a - b)
      const sent = list.map((size, k) => pattern(size, k))
      const receiving = (async () => {
        const got: Uint8Array[] = []
        for (let k = 0; k < sent.length; k++) got.push(new Uint8Array(await p.transport.receive({ timeout: 30_000 })))
        return got
      })()
      for (const m of sent) await p.transport.send(m)
      const got = await receiving
      expect(got.map((g) => g.length)).toEqual(list)
      expect(got.every((g, k) => equalBytes(g, sent[k]!))).toBe(true)
      const over = await p.transport.send(new Uint8Array(MAX + 1)).catch((e) => e)
      expect(isIpcError(over, 'ERR_IPC_MESSAGE_TOO_LARGE')).toBe(true)
      // the transport still works after the refused message
      await p.transport.send(Uint8Array.of(42))
      expect(Array.from(await p.transport.receive({ timeout: 10_000 }))).toEqual([42])
      expect(p.transport.stats.messagesOut).toBe(list.length + 1)
      expect(p.transport.stats.messagesIn).toBe(list.length + 1)
    })

    it('full duplex: 100,000 small messages each way at once, every id checked', async () => {
      const total = 100_000
      const p = track(await target.startPeer(`duplex:${total}`, {}))
      const report = firstReport(p.child)
      const sending = (async () => {
        for (let i = 0; i < total; i++) await p.transport.send({ i })
      })()
      let expected = 0
      let inOrder = true
      while (expected < total) {
        const m = (await p.transport.receive({ timeout: 30_000 })) as { i: number }
        if (m.i !== expected) inOrder = false
        expected++
      }
      await sending
      expect(inOrder).toBe(true)
      expect(expected).toBe(total)
      expect(await report).toEqual({ received: total, ok: true })
      expect((await p.transport.closed).reason).toBe('peer')
      expect(await exitOf(p.child)).toBe(0)
    })

    it('a reader that stops reading makes send() wait, memory stays bounded, nothing is lost', async () => {
      const options = { highWaterMark: HWM }
      const p = track(await target.startPeer('stall', options))
      const reports = peerReports(p.child)
      const pad = new Uint8Array(64 * 1024).fill(3)
      const before = process.memoryUsage().arrayBuffers
      let accepted = 0
      // send until one send() has not resolved for 300 ms: the peer reads nothing, so it must wait
      while (true) {
        const pending = p.transport.send({ i: accepted, pad })
        if (!(await settlesWithin(pending, 300))) {
          accepted++ // queued behind the others; it resolves once the reader resumes
          const grown = process.memoryUsage().arrayBuffers - before
          expect(grown).toBeLessThan(64 * 1024 * 1024)
          expect(p.transport.stats.queuedBytes).toBeLessThanOrEqual(HWM + 2 * (pad.length + 64))
          p.child.kill('SIGUSR1')
          await pending
          break
        }
        await pending
        accepted++
        expect(accepted * pad.length).toBeLessThan(256 * 1024 * 1024) // it must block long before this
      }
      const total = accepted + 200
      for (let i = accepted; i < total; i++) await p.transport.send({ i, pad })
      await p.transport.send({ done: true })
      const all = await reports
      expect(all[1]).toEqual({ received: total, ok: true, bytes: total * pad.length })
    })

    it('a peer killed with SIGKILL mid-stream: whole messages only, closed within 100 ms, pending calls reject', async () => {
      const p = track(await target.startPeer('source:100000000:1000', {}))
      let count = 0
      let whole = true
      let killedAt = 0
      const consuming = (async () => {
        try {
          while (true) {
            const m = (await p.transport.receive()) as { i: number; pad: Uint8Array }
            if (m.i !== count || m.pad.length !== 1000 || m.pad[999] !== 7) whole = false
            count++
            if (count === 2000) {
              killedAt = performance.now()
              p.child.kill('SIGKILL')
            }
          }
        } catch (err) {
          return err
        }
      })()
      const info = await p.transport.closed
      const detectedAfter = performance.now() - killedAt
      const err = await consuming
      expect(killedAt).toBeGreaterThan(0)
      expect(info.reason).toBe(target.killedPeerReason)
      expect(detectedAfter).toBeLessThan(100)
      expect(whole).toBe(true)
      expect(count).toBeGreaterThanOrEqual(2000)
      expect(isIpcError(err, target.killedPeerReason === 'peer' ? 'ERR_IPC_CLOSED' : 'ERR_IPC_PEER_EXITED')).toBe(true)
      const sendErr = await p.transport.send({ i: -1 }).catch((e) => e)
      expect(isIpcError(sendErr)).toBe(true)
      expect(await exitOf(p.child)).toBe('SIGKILL')
    })

    it('close() by the peer: this side sees it, and everything is released', async () => {
      const p = track(await target.startPeer('close-after:3', {}))
      const report = firstReport(p.child)
      for (let i = 0; i < 3; i++) await p.transport.send({ i })
      const info = await p.transport.closed
      expect(info.reason).toBe('peer')
      expect(info.error).toBeUndefined()
      expect(await report).toEqual({ closed: true })
      expect(await exitOf(p.child)).toBe(0)
      const err = await p.transport.receive().catch((e) => e)
      expect(isIpcError(err, 'ERR_IPC_CLOSED')).toBe(true)
    })

    it('close() by this side: the peer sees it, queued messages are flushed first', async () => {
      const p = track(await target.startPeer('echo', {}))
      const report = firstReport(p.child)
      for (let i = 0; i < 1000; i++) void p.transport.send({ i })
      await p.transport.close()
      expect((await p.transport.closed).reason).toBe('local')
      expect(await report).toEqual({ count: 1000, reason: 'peer' })
      expect(await exitOf(p.child)).toBe(0)
      const sendErr = await p.transport.send({ i: 0 }).catch((e) => e)
      expect(isIpcError(sendErr, 'ERR_IPC_CLOSED')).toBe(true)
      const recvErr = await p.transport.receive().catch((e) => e)
      expect(isIpcError(recvErr, 'ERR_IPC_CLOSED')).toBe(true)
    })

    it('receive() honours timeout and AbortSignal; the transport keeps working', async () => {
      const p = track(await target.startPeer('echo', {}))
      const t = p.transport
      const timedOut = await t.receive({ timeout: 20 }).catch((e) => e)
      expect(isIpcError(timedOut, 'ERR_IPC_TIMEOUT')).toBe(true)
      const ac = new AbortController()
      const aborted = t.receive({ signal: ac.signal }).catch((e) => e)
      ac.abort(new Error('stop'))
      expect(isIpcError(await aborted, 'ERR_IPC_ABORTED')).toBe(true)
      const pre = await t.receive({ signal: AbortSignal.abort() }).catch((e) => e)
      expect(isIpcError(pre, 'ERR_IPC_ABORTED')).toBe(true)
      const bad = await Promise.resolve()
        .then(() => t.receive({ timeout: -1 }))
        .catch((e) => e)
      expect(isIpcError(bad, 'ERR_IPC_INVALID_ARGUMENT')).toBe(true)
      await t.send({ hello: 'again' })
      expect(await t.receive({ timeout: 10_000 })).toEqual({ hello: 'again' })
      await t.close()
      const afterClose = await t.send({}).catch((e) => e)
      expect(isIpcError(afterClose, 'ERR_IPC_CLOSED')).toBe(true)
    })

    if (target.injectRaw) {
      const inject = target.injectRaw.bind(target)
      const header = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]
      const cases: { name: string; bytes: number[]; end: boolean; codes: string[]; schema?: boolean }[] = [
        { name: 'a 4 GiB length prefix', bytes: [0xff, 0xff, 0xff, 0xff, 1, 2, 3], end: false, codes: ['ERR_IPC_MESSAGE_TOO_LARGE'] },
        { name: 'a truncated frame, then EOF', bytes: [...header(100), 0x92, 1], end: true, codes: ['ERR_IPC_DECODE'] },
        {
          name: 'random garbage',
          bytes: Array.from({ length: 4096 }, (_, k) => (k * 7919 + 13) & 0xff),
          end: false,
          codes: ['ERR_IPC_MESSAGE_TOO_LARGE', 'ERR_IPC_DECODE'],
        },
        { name: 'undecodable msgpack', bytes: [...header(3), 0xc1, 0xc1, 0xc1], end: false, codes: ['ERR_IPC_DECODE'] },
        { name: 'a message that fails schema', bytes: [...header(2), 0x91, 0x01], end: false, codes: ['ERR_IPC_DECODE'], schema: true },
      ]
      for (const c of cases) {
        it(`bad bytes — ${c.name}: a coded error, that connection closed, no large allocation`, async () => {
          const options: TransportOptions<any> = { maxMessageSize: 1024 * 1024 }
          if (c.schema) options.schema = numberedSchema
          const before = process.memoryUsage().arrayBuffers
          const { transport, child } = await inject(Uint8Array.from(c.bytes), c.end, options)
          cleanups.push(() => transport.close())
          if (child) cleanups.push(() => (child.exitCode === null ? child.kill('SIGKILL') : undefined))
          const info = await transport.closed
          expect(c.codes).toContain(info.error?.code)
          expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024)
          const err = await transport.receive().catch((e) => e)
          expect(isIpcError(err)).toBe(true)
        })
      }
    }

    const lt = target.listener
    if (lt) {
      it('many clients on one listener at once, each with its own conversation', async () => {
        const address = lt.fresh()
        const server = await lt.listen(address, {})
        cleanups.push(() => server.close())
        const clients = Array.from({ length: 6 }, () => lt.spawnClient(server.address, 'echo', {}))
        for (const c of clients) cleanups.push(() => (c.exitCode === null ? c.kill('SIGKILL') : undefined))
        const reports = clients.map((c) => firstReport(c))
        const conns: Transport<any, any>[] = []
        for (let k = 0; k < clients.length; k++) conns.push(await server.accept({ timeout: 20_000 }))
        await Promise.all(
          conns.map(async (conn, k) => {
            for (let i = 0; i < 500; i++) await conn.send({ k, i })
            for (let i = 0; i < 500; i++) expect(await conn.receive({ timeout: 20_000 })).toEqual({ k, i })
            await conn.close()
          }),
        )
        expect((await Promise.all(reports)).map((r) => r.count)).toEqual(clients.map(() => 500))
        const pids = new Set(conns.map((c) => c.peer?.pid).filter((pid) => pid !== undefined))
        if (pids.size > 0) expect(pids).toEqual(new Set(clients.map((c) => c.pid)))
        for (const c of clients) expect(await exitOf(c)).toBe(0)
      })

      if (lt.spawnListener) {
        const spawnListener = lt.spawnListener.bind(lt)
        it("a crashed listener's address is reclaimed by the next listen() (50 kill-and-restart cycles)", async () => {
          const address = lt.fresh()
          for (let cycle = 0; cycle < 50; cycle++) {
            const { child, ready } = spawnListener(address)
            cleanups.push(() => (child.exitCode === null && child.signalCode === null ? child.kill('SIGKILL') : undefined))
            await ready
            if (cycle % 10 === 0) expect(await roundTrip(address, { cycle })).toEqual({ cycle })
            // once, a client stays connected: it must see its listener's death
            const witness = cycle === 25 ? await connect(address, { timeout: 10_000 }) : undefined
            if (witness) cleanups.push(() => witness.close())
            const killedAt = performance.now()
            child.kill('SIGKILL')
            await exitOf(child)
            if (witness) {
              const info = await witness.closed
              expect(info.reason).toBe(target.killedPeerReason)
              expect(performance.now() - killedAt).toBeLessThan(1000)
            }
          }
          // what the last crash left is not a listener, and the next listen() takes it over
          expect(isIpcError(await connect(address).catch((e) => e), 'ERR_IPC_NO_LISTENER')).toBe(true)
          const server = await lt.listen(address, {})
          cleanups.push(() => server.close())
          const served = (async () => {
            for await (const c of server) for await (const m of c) await c.send(m)
          })()
          expect(await roundTrip(address, 'after 50 crashes')).toBe('after 50 crashes')
          await server.close()
          await served
        }, 120_000)
      }

      if (lt.injectRaw) {
        const injectAt = lt.injectRaw.bind(lt)
        it('the listener and other connections keep working after a connection sent garbage', async () => {
          const address = lt.fresh()
          const server = await lt.listen(address, {})
          cleanups.push(() => server.close())
          const before = lt.spawnClient(server.address, 'echo', {})
          cleanups.push(() => (before.exitCode === null ? before.kill('SIGKILL') : undefined))
          const beforeConn = await server.accept({ timeout: 20_000 })
          await injectAt(server.address, Uint8Array.from([0xff, 0xff, 0xff, 0x7f, 0, 0]), false)
          const badConn = await server.accept({ timeout: 20_000 })
          cleanups.push(() => badConn.close())
          expect((await badConn.closed).error?.code).toBe('ERR_IPC_MESSAGE_TOO_LARGE')
          const after = lt.spawnClient(server.address, 'echo', {})
          cleanups.push(() => (after.exitCode === null ? after.kill('SIGKILL') : undefined))
          const afterConn = await server.accept({ timeout: 20_000 })
          for (const conn of [beforeConn, afterConn]) {
            await conn.send({ ok: 1 })
            expect(await conn.receive({ timeout: 10_000 })).toEqual({ ok: 1 })
            await conn.close()
          }
          expect(await exitOf(before)).toBe(0)
          expect(await exitOf(after)).toBe(0)
        })
      }
    }
  })
}
