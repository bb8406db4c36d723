import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { type StandardSchemaV1, type Transport, connect, isIpcError, listen, memoryPair } from '@ipc/core'
import '@ipc/socket'
import { exitOf } from '@ipc/core/testing'
import { afterAll, describe, expect, it } from 'vitest'
import { type CallContext, RpcError, client, isRpcError, serve } from '../src/index.js'
import { T } from '../src/rpc-wire.js'

const require = createRequire(import.meta.url)
const CORE_ENTRY = join(dirname(require.resolve('@ipc/core/package.json')), 'dist', 'index.js')
const SOCKET_ENTRY = join(dirname(require.resolve('@ipc/socket/package.json')), 'dist', 'index.js')
const ENTRY = join(dirname(require.resolve('@ipc/patterns/package.json')), 'dist', 'index.js')

/** A schema for `{ n: number }` in the Standard Schema shape (any validator library would do). */
const numberArg: StandardSchemaV1<unknown, { n: number }> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (v) =>
      typeof v === 'object' && v !== null && typeof (v as { n?: unknown }).n === 'number'
        ? { value: v as { n: number } }
        : { issues: [{ message: 'n must be a number', path: ['n'] }] },
  },
}

/** A gate the handlers wait on: how many run at once, and the most at once. */
function gate() {
  let open: () => void = () => {}
  let opened = new Promise<void>((r) => (open = r))
  const g = {
    running: 0,
    most: 0,
    async pass() {
      g.running++
      g.most = Math.max(g.most, g.running)
      await opened
      g.running--
    },
    open() {
      open()
    },
    reset() {
      opened = new Promise<void>((r) => (open = r))
    },
  }
  return g
}

const dir = mkdtempSync(join(tmpdir(), 'ipc-rpc-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

/** Carriers: the in-memory pair, and a real unix socket. */
const carriers: [string, () => Promise<{ server: Transport<unknown, unknown>; client: Transport<unknown, unknown>; done(): Promise<void> }>][] = [
  [
    'memory',
    async () => {
      const [a, b] = memoryPair()
      return { server: a, client: b, done: async () => void (await Promise.all([a.close(), b.close()])) }
    },
  ],
  [
    'unix',
    async () => {
      const l = await listen(`unix:${join(dir, `s${++n}.sock`)}`)
      const [c, s] = await Promise.all([connect(l.address), l.accept({ timeout: 10_000 })])
      await l.close()
      return { server: s, client: c, done: async () => void (await Promise.all([c.close(), s.close()])) }
    },
  ],
]

for (const [name, open] of carriers) {
  describe(`rpc over ${name}`, () => {
    it('calls return results; an unknown procedure is NOT_FOUND; an RpcError keeps its code and data; other errors are INTERNAL without a stack', async () => {
      const { server, client: c, done } = await open()
      const served = serve(server, {
        add: ({ a, b }: { a: number; b: number }) => a + b,
        refuse: () => {
          throw new RpcError('OUT_OF_STOCK', 'no more widgets', { left: 0 })
        },
        crash: () => {
          throw new Error('boom')
        },
      })
      const api = client<{ add: (x: { a: number; b: number }) => number; refuse: () => void; crash: () => void; nope: () => void }>(c)
      expect(await api.call('add', { a: 2, b: 3 })).toBe(5)
      const nf = await api.call('nope', undefined).catch((e) => e)
      expect(isRpcError(nf, 'NOT_FOUND')).toBe(true)
      const refused = await api.call('refuse', undefined).catch((e) => e)
      expect(refused).toMatchObject({ name: 'RpcError', code: 'OUT_OF_STOCK', message: 'no more widgets', data: { left: 0 } })
      expect(isIpcError(refused)).toBe(false)
      const crashed = await api.call('crash', undefined).catch((e) => e)
      expect(crashed).toMatchObject({ code: 'INTERNAL', message: 'boom' })
      expect(JSON.stringify(crashed.data ?? null)).not.toMatch(/at .*\.(js|ts)/) // no stack crosses over
      await done()
      await served
    })

    it('a malformed request closes that transport and serve() resolves (never an unhandled rejection)', async () => {
      const { server, client: c, done } = await open()
      const served = serve(server, { ok: () => 1 })
      await c.send({ t: T.CALL, m: 42 })
      await expect(served).resolves.toBeUndefined()
      expect((await c.closed).reason).toBe('peer')
      await done()
    })

    it('a result that cannot be sent reaches the caller as UNSENDABLE (the caller never waits for ever)', async () => {
      const { server, client: c, done } = await open()
      const served = serve(server, { fn: () => () => 1, huge: () => 2n ** 70n, ok: () => 'fine' })
      const api = client<{ fn: () => unknown; huge: () => bigint; ok: () => string }>(c)
      expect(await api.call('fn', undefined).catch((e) => e)).toMatchObject({ code: 'UNSENDABLE' })
      expect(await api.call('huge', undefined).catch((e) => e)).toMatchObject({ code: 'UNSENDABLE' })
      expect(await api.call('ok', undefined)).toBe('fine') // the connection goes on
      await done()
      await served
    })

    it('at most maxConcurrent calls run at once; the rest wait in the transport (backpressure), and all complete', async () => {
      const { server, client: c, done } = await open()
      const g = gate()
      const served = serve(
        server,
        {
          slow: async (i: number) => {
            await g.pass()
            return i
          },
        },
        { maxConcurrent: 16 },
      )
      const api = client<{ slow: (i: number) => number }>(c)
      const calls = Array.from({ length: 500 }, (_, i) => api.call('slow', i))
      await new Promise((r) => setTimeout(r, 50))
      expect(g.running).toBe(16)
      g.open()
      expect(await Promise.all(calls)).toEqual(Array.from({ length: 500 }, (_, i) => i))
      expect(g.most).toBe(16)
      await done()
      await served
    })

    it("the client's timeout travels as the deadline: the handler's signal fires within 20 ms of it", async () => {
      const { server, client: c, done } = await open()
      let firedAfter = -1
      let deadlineLeft = -1
      const served = serve(server, {
        wait: (_: unknown, ctx: CallContext) =>
          new Promise((_, reject) => {
            const t0 = performance.now()
            deadlineLeft = ctx.deadline! - t0
            ctx.signal.addEventListener('abort', () => {
              firedAfter = performance.now() - t0
              reject(ctx.signal.reason)
            })
          }),
      })
      const api = client<{ wait: (x: unknown) => void }>(c)
      await expect(api.call('wait', undefined, { timeout: 150 })).rejects.toMatchObject({ code: 'ERR_IPC_TIMEOUT' })
      await new Promise((r) => setTimeout(r, 40))
      expect(deadlineLeft).toBeGreaterThan(100)
      expect(firedAfter).toBeGreaterThan(deadlineLeft - 1)
      expect(firedAfter - deadlineLeft).toBeLessThan(20)
      expect(api.pending).toBe(0)
      await done()
      await served
    })

    it("an aborted call aborts the handler (its signal), and the late result is dropped; the transport's close aborts running handlers", async () => {
      const { server, client: c, done } = await open()
      const aborted: string[] = []
      const served = serve(server, {
        hold: (tag: string, ctx: CallContext) =>
          new Promise((resolve) => {
            ctx.signal.addEventListener('abort', () => {
              aborted.push(tag)
              resolve('late')
            })
          }),
      })
      const api = client<{ hold: (tag: string) => string }>(c)
      const ac = new AbortController()
      const first = api.call('hold', 'cancelled', { signal: ac.signal })
      await new Promise((r) => setTimeout(r, 20))
      ac.abort()
      await expect(first).rejects.toMatchObject({ code: 'ERR_IPC_ABORTED' })
      const second = api.call('hold', 'closed').catch((e) => e)
      await new Promise((r) => setTimeout(r, 20))
      while (!aborted.includes('cancelled')) await new Promise((r) => setTimeout(r, 5))
      await done()
      await served
      expect(aborted).toEqual(['cancelled', 'closed'])
      expect(isIpcError(await second)).toBe(true)
    })

    it('a bad argument is INVALID_ARGUMENT with the issues; the connection stays open; notify and metadata reach the handler', async () => {
      const { server, client: c, done } = await open()
      const seen: unknown[] = []
      const served = serve(server, {
        double: { input: numberArg, handler: ({ n }: { n: number }) => n * 2 },
        note: (text: string, ctx: CallContext) => void seen.push([text, ctx.metadata]),
        who: (_: unknown, ctx: CallContext) => ctx.metadata.user,
      })
      const api = client<{ double: (x: { n: number }) => number; note: (t: string) => void; who: (x: unknown) => string }>(c)
      const bad = await api.call('double', { n: 'two' } as never).catch((e) => e)
      expect(bad).toMatchObject({ code: 'INVALID_ARGUMENT', data: { issues: [{ message: 'n must be a number', path: ['n'] }] } })
      expect(await api.call('double', { n: 21 })).toBe(42)
      await api.notify('note', 'hello', { metadata: { trace: 'abc' } })
      expect(await api.call('who', undefined, { metadata: { user: 'ada' } })).toBe('ada')
      expect(seen).toEqual([['hello', { trace: 'abc' }]])
      await done()
      await served
    })
  })
}

describe('rpc with real processes', () => {
  it('10,000 concurrent calls from another process: all answered, never more than maxConcurrent running', async () => {
    const path = join(dir, 'flood.sock')
    const l = await listen(`unix:${path}`)
    let running = 0
    let most = 0
    const serving: Promise<void>[] = []
    const accepting = (async () => {
      const t = await l.accept({ timeout: 20_000 })
      serving.push(
        serve(t, {
          work: async (i: number) => {
            running++
            most = Math.max(most, running)
            await new Promise((r) => setImmediate(r))
            running--
            return i * 2
          },
        }),
      )
    })()
    const script =
      `Promise.all([import(${JSON.stringify(CORE_ENTRY)}), import(${JSON.stringify(SOCKET_ENTRY)}), import(${JSON.stringify(ENTRY)})]).then(async ([{ connect }, , { client }]) => {` +
      ` const t = await connect(${JSON.stringify(l.address)}); const api = client(t);` +
      ` const r = await Promise.all(Array.from({ length: 10000 }, (_, i) => api.call('work', i)));` +
      ` if (!r.every((v, i) => v === i * 2)) process.exit(2); await t.close() })` +
      `.catch((e) => { console.error(e); process.exit(1) })`
    const child = spawn(process.execPath, ['-e', script], { stdio: 'inherit' })
    await accepting
    expect(await exitOf(child)).toBe(0)
    await Promise.all(serving)
    expect(most).toBeLessThanOrEqual(64)
    expect(most).toBeGreaterThan(1)
    await l.close()
  }, 60_000)
})

for (const [name, open] of carriers) {
  describe(`rpc streams over ${name}`, () => {
    it('a procedure returning an async iterable streams its items in order; break cancels it on the server', async () => {
      const { server, client: c, done } = await open()
      let closedOnServer = false
      const served = serve(server, {
        count: async function* (n: number, ctx: CallContext) {
          try {
            for (let i = 0; i < n; i++) yield i
          } finally {
            closedOnServer = ctx.signal.aborted || closedOnServer
          }
        },
        forever: async function* (_: unknown, ctx: CallContext) {
          try {
            for (let i = 0; ; i++) yield i
          } finally {
            closedOnServer = ctx.signal.aborted
          }
        },
      })
      const api = client<{ count: (n: number) => AsyncIterable<number>; forever: (x: unknown) => AsyncIterable<number> }>(c)
      const got: number[] = []
      for await (const v of api.stream('count', 1000, { window: 8 })) got.push(v)
      expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => i))
      let k = 0
      for await (const v of api.stream('forever', undefined)) {
        expect(v).toBe(k)
        if (++k === 50) break
      }
      while (!closedOnServer) await new Promise((r) => setTimeout(r, 5)) // the cancel reaches the server
      expect(api.pending).toBe(0)
      await done()
      await served
    })

    it('credit bounds what is in flight: a slow reader of 100,000 items never has more than the window ahead; an unread stream blocks no other', async () => {
      const { server, client: c, done } = await open()
      let produced = 0
      let most = 0
      let consumed = 0
      const served = serve(server, {
        items: async function* (n: number) {
          for (let i = 0; i < n; i++) {
            produced++
            most = Math.max(most, produced - consumed)
            yield i
          }
        },
      })
      const api = client<{ items: (n: number) => AsyncIterable<number> }>(c)
      const idle = api.stream('items', 1_000_000, { window: 4 })
      await idle.next() // started, then left unread
      let expected = 0
      for await (const v of api.stream('items', 100_000, { window: 32 })) {
        if (v !== expected) expect(v).toBe(expected)
        expected++
        consumed++
        if (expected % 10_000 === 0) await new Promise((r) => setTimeout(r, 2)) // a slow reader now and then
      }
      expect(expected).toBe(100_000)
      expect(most).toBeLessThanOrEqual(32 + 4 + 2) // this stream's window, the idle one's, the items between
      await idle.return!()
      await done()
      await served
    }, 60_000)

    it("a failure mid-stream rejects the reader's next() with its RpcError; a non-stream procedure is refused", async () => {
      const { server, client: c, done } = await open()
      const served = serve(server, {
        broken: async function* () {
          yield 1
          throw new RpcError('TORN', 'the tape tore', { at: 1 })
        },
        plain: () => 5,
      })
      const api = client<{ broken: () => AsyncIterable<number>; plain: () => number }>(c)
      const it = api.stream('broken', undefined)
      expect(await it.next()).toEqual({ value: 1, done: false })
      await expect(it.next()).rejects.toMatchObject({ name: 'RpcError', code: 'TORN', data: { at: 1 } })
      const plain = api.stream('plain', undefined)
      await expect(plain.next()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
      expect(await api.call('plain', undefined)).toBe(5)
      await done()
      await served
    })
  })
}
