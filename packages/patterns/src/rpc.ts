/**
 * RPC v2 over any `Transport`: calls with deadlines that the server honours, cancellation both
 * ways, per-procedure validation with any Standard Schema validator, remote failures as
 * `RpcError`, notifications, metadata, and bounded concurrency (a flood of calls meets the
 * transport's backpressure, never unbounded memory).
 */
import { IpcError, type PeerInfo, type StandardSchemaV1, type Transport, type WaitOptions, isIpcError } from '@ipc/core'
import { abortError, checkTimeout, debug, timeoutError } from '@ipc/core/mechanism'
import { RpcError } from './rpc-error.js'
import { type CallEnvelope, type ErrorBody, MAX_WINDOW, type Reply, type Request, type StreamEnvelope, T, parseReply, parseRequest } from './rpc-wire.js'

/** What a handler gets besides its argument. */
export interface CallContext {
  /**
   * Aborts when the call's deadline passes (the client's `timeout`), when the client cancels it
   * (its `AbortSignal`), and when the transport closes. A result after that is dropped.
   */
  signal: AbortSignal
  /** When the client stops waiting (`performance.now()` time of this process), if it set a timeout. */
  deadline?: number
  /** The client's metadata for this call (`{}` if none). */
  metadata: Record<string, unknown>
  /** The client process, where the mechanism knows it. */
  peer?: PeerInfo
}

/** A procedure: a function of its argument, or one with schemas for its input (and output). */
export type Procedure =
  | ((arg: any, ctx: CallContext) => unknown)
  | { input?: StandardSchemaV1<any, any>; output?: StandardSchemaV1<any, any>; handler: (arg: any, ctx: CallContext) => unknown }

/** A set of procedures by name. */
export type Procedures = { [name: string]: Procedure }

/** The handler of a procedure (itself, or its `handler`). */
export type HandlerOf<P> = P extends { handler: infer H } ? H : P
/** The argument type of a procedure. */
export type ArgOf<P> = HandlerOf<P> extends (arg: infer A, ...rest: any[]) => unknown ? A : never
/** The result type of a procedure (awaited). */
export type ResultOf<P> = HandlerOf<P> extends (...args: any[]) => infer R ? Awaited<R> : never

/** Options of {@link serve}. */
export interface ServeOptions {
  /**
   * Calls (and streams producing an item) running at once; past it the server stops reading and
   * the transport's backpressure slows the client. A stream waiting for the client's credit does
   * not count.
   * @defaultValue `64`
   */
  maxConcurrent?: number
  /**
   * Streams open at once; a stream beyond it is refused (`RESOURCE_EXHAUSTED`).
   * @defaultValue `1024`
   */
  maxStreams?: number
}

/** Options of {@link RpcClient.stream}. */
export interface StreamOptions extends CallOptions {
  /**
   * Items the server may send ahead of the reader (its credit); more wait on the server.
   * @defaultValue `16`
   */
  window?: number
}

/** Options of one call. */
export interface CallOptions extends WaitOptions {
  /** Sent with the call; the handler reads it as `ctx.metadata`. */
  metadata?: Record<string, unknown>
}

/**
 * Serves `procedures` on one transport until it closes, then resolves (it never rejects). Calls
 * run concurrently, up to `maxConcurrent`. A malformed request closes that transport (the server
 * goes on with its others); a reply that cannot be sent becomes an `UNSENDABLE` error reply.
 *
 * @example
 * ```ts
 * const api = { add: ({ a, b }: { a: number; b: number }) => a + b }
 * for await (const conn of server) void serve(conn, api)
 * ```
 */
export async function serve(transport: Transport<unknown, unknown>, procedures: Procedures, options: ServeOptions = {}): Promise<void> {
  const max = options.maxConcurrent ?? 64
  if (!Number.isSafeInteger(max) || max < 1) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `maxConcurrent must be a positive integer, got ${String(max)}`)
  const maxStreams = options.maxStreams ?? 1024
  if (!Number.isSafeInteger(maxStreams) || maxStreams < 1)
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `maxStreams must be a positive integer, got ${String(maxStreams)}`)
  const running = new Map<number, CallAbort>()
  const streams = new Map<number, { grant(n: number): void }>()
  let inFlight = 0
  let room: (() => void) | undefined
  const closedSignal = new AbortController()
  void transport.closed.then(() => {
    const reason = new IpcError('ERR_IPC_CLOSED', 'rpc: the transport closed')
    closedSignal.abort(reason)
    for (const a of running.values()) a.abort(reason)
  })
  const finished = new Set<Promise<void>>()

  /** The abort controller and context of call or stream `req`, and what undoes them. */
  const begin = (req: CallEnvelope | StreamEnvelope): { ac: CallAbort; ctx: CallContext; end(): void } => {
    const ac = new CallAbort()
    running.set(req.i, ac)
    if (closedSignal.signal.aborted) ac.abort(closedSignal.signal.reason)
    const timer = req.d === undefined ? undefined : setTimeout(() => ac.abort(timeoutError(req.d!, `rpc ${req.m}`)), req.d)
    const ctx: CallContext = {
      get signal() {
        return ac.signal
      },
      metadata: req.md ?? {},
    }
    if (req.d !== undefined) ctx.deadline = performance.now() + req.d
    if (transport.peer !== undefined) ctx.peer = transport.peer
    return {
      ac,
      ctx,
      end() {
        if (timer !== undefined) clearTimeout(timer)
        running.delete(req.i)
      },
    }
  }

  /** Sends `reply`; one that cannot be sent becomes an UNSENDABLE error reply. False if nothing could be sent. */
  const answer = async (reply: Reply, what: string): Promise<boolean> => {
    try {
      await transport.send(reply)
      return true
    } catch (err) {
      if (!transport.isOpen) return false
      try {
        await transport.send({ t: T.ERROR, i: reply.i, e: { code: 'UNSENDABLE', message: `rpc: ${what} could not be sent: ${(err as Error).message}` } })
      } catch (again) {
        debug('rpc: not even the error reply of call %d could be sent: %s', reply.i, (again as Error).message)
      }
      return false
    }
  }

  const run = async (req: CallEnvelope): Promise<void> => {
    const { ac, ctx, end } = begin(req)
    let reply: Reply
    try {
      reply = { t: T.OK, i: req.i, r: await invoke(procedures, req.m, req.a, ctx) }
    } catch (err) {
      reply = { t: T.ERROR, i: req.i, e: errorBody(err) }
    } finally {
      end()
    }
    if (ac.aborted) {
      debug('rpc: the result of %s (call %d) came after its deadline or cancellation; dropped', req.m, req.i)
      return
    }
    await answer(reply, `the result of ${req.m}`)
  }

  /** Runs stream `req`: its items while the client gives credit; `active` says when it counts as running. */
  const runStream = async (req: StreamEnvelope, active: (on: boolean) => void): Promise<void> => {
    const { ac, ctx, end } = begin(req)
    let credit = req.w
    let wake: (() => void) | undefined
    streams.set(req.i, {
      grant(n) {
        credit += n
        const w = wake
        wake = undefined
        w?.()
      },
    })
    ac.onAbort = () => {
      const w = wake
      wake = undefined
      w?.()
    }
    let iterator: AsyncIterator<unknown> | undefined
    try {
      const result = await invoke(procedures, req.m, req.a, ctx)
      if (result === null || typeof (result as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
        throw new RpcError('INVALID_ARGUMENT', `rpc: ${req.m} does not return a stream (an async iterable)`)
      }
      iterator = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      for (;;) {
        if (credit === 0 && !ac.aborted) {
          active(false) // parked on the client's credit: it does not hold a concurrency slot
          await new Promise<void>((r) => (wake = r))
          active(true)
        }
        if (ac.aborted) return
        const next = await iterator.next()
        if (ac.aborted) return
        if (next.done) {
          await answer({ t: T.END, i: req.i }, `the end of ${req.m}`)
          return
        }
        credit--
        if (!(await answer({ t: T.ITEM, i: req.i, v: next.value }, `an item of ${req.m}`))) return
      }
    } catch (err) {
      if (!ac.aborted) await answer({ t: T.ERROR, i: req.i, e: errorBody(err) }, `the failure of ${req.m}`)
    } finally {
      ac.onAbort = undefined
      streams.delete(req.i)
      end()
      if (iterator?.return !== undefined) {
        try {
          await iterator.return()
        } catch (err) {
          debug('rpc: closing the stream of %s failed: %s', req.m, (err as Error)?.message)
        }
      }
    }
  }

  for (;;) {
    if (inFlight >= max) await new Promise<void>((r) => (room = r))
    let message: unknown
    try {
      message = await transport.receive()
    } catch {
      break // closed
    }
    const req: Request | string = parseRequest(message)
    if (typeof req === 'string') {
      debug('rpc: a malformed request (%s); closing that transport', req)
      await transport.close()
      break
    }
    if (req.t === T.CANCEL) {
      running.get(req.i)?.abort(new IpcError('ERR_IPC_ABORTED', 'rpc: the client cancelled the call'))
      continue
    }
    if (req.t === T.CREDIT) {
      streams.get(req.i)?.grant(req.n)
      continue
    }
    if (req.t === T.NOTIFY) {
      const ctx: CallContext = { signal: closedSignal.signal, metadata: req.md ?? {} }
      if (transport.peer !== undefined) ctx.peer = transport.peer
      void invoke(procedures, req.m, req.a, ctx).catch((err) => debug('rpc: notification %s failed: %s', req.m, (err as Error)?.message))
      continue
    }
    if (running.has(req.i)) {
      debug('rpc: call id %d is already running; closing that transport', req.i)
      await transport.close()
      break
    }
    let counted = true
    inFlight++
    const active = (on: boolean): void => {
      if (on === counted) return
      counted = on
      inFlight += on ? 1 : -1
      if (!on) {
        const r = room
        room = undefined
        r?.()
      }
    }
    let work: Promise<void>
    if (req.t === T.STREAM) {
      if (streams.size >= maxStreams) {
        active(false)
        void answer({ t: T.ERROR, i: req.i, e: { code: 'RESOURCE_EXHAUSTED', message: `rpc: ${maxStreams} streams are open already` } }, 'a refusal')
        continue
      }
      work = runStream(req, active)
    } else {
      work = run(req)
    }
    const done: Promise<void> = work.finally(() => {
      finished.delete(done)
      active(false)
    })
    finished.add(done)
  }
  for (const a of running.values()) a.abort(closedSignal.signal.reason ?? new IpcError('ERR_IPC_CLOSED', 'rpc: the transport closed'))
  await Promise.all(finished)
}

/**
 * A call's cancellation. Its `AbortSignal` (Node's EventTarget costs microseconds) is made only
 * when the handler reads `ctx.signal`; until then aborting just records the reason.
 */
class CallAbort {
  aborted = false
  reason: unknown
  /** Called once on abort (a stream waiting for credit wakes up). */
  onAbort: (() => void) | undefined
  private ac: AbortController | undefined

  get signal(): AbortSignal {
    if (this.ac === undefined) {
      this.ac = new AbortController()
      if (this.aborted) this.ac.abort(this.reason)
    }
    return this.ac.signal
  }

  abort(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    this.ac?.abort(reason)
    this.onAbort?.()
  }
}

async function invoke(procedures: Procedures, name: string, arg: unknown, ctx: CallContext): Promise<unknown> {
  const p = Object.hasOwn(procedures, name) ? procedures[name] : undefined
  if (p === undefined) throw new RpcError('NOT_FOUND', `rpc: no procedure "${name}"`)
  const handler = typeof p === 'function' ? p : p.handler
  if (typeof handler !== 'function') throw new RpcError('NOT_FOUND', `rpc: no procedure "${name}"`)
  let input = arg
  if (typeof p !== 'function' && p.input !== undefined) {
    const result = await p.input['~standard'].validate(arg)
    if (result.issues !== undefined) {
      throw new RpcError('INVALID_ARGUMENT', `rpc: the argument of ${name} is invalid: ${result.issues.map((i) => i.message).join('; ')}`, {
        issues: result.issues.map((i) => ({ message: i.message, path: i.path?.map((s) => (typeof s === 'object' ? String(s.key) : String(s))) })),
      })
    }
    input = result.value
  }
  const output = await handler(input, ctx)
  if (typeof p !== 'function' && p.output !== undefined) {
    const result = await p.output['~standard'].validate(output)
    if (result.issues !== undefined)
      throw new RpcError('UNSENDABLE', `rpc: the result of ${name} failed its output schema: ${result.issues.map((i) => i.message).join('; ')}`)
    return result.value
  }
  return output
}

/** A thrown value as an error reply: an `RpcError`'s code and data; anything else `INTERNAL`, its message only. */
function errorBody(err: unknown): ErrorBody {
  if (err instanceof RpcError || (err instanceof Error && err.name === 'RpcError')) {
    const e = err as RpcError
    return e.data === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, data: e.data }
  }
  if (isIpcError(err)) return { code: 'INTERNAL', message: err.message, data: { ipcCode: err.code } }
  return { code: 'INTERNAL', message: (err as Error)?.message ?? String(err) }
}

/** The client side of procedures `P`. */
export interface RpcClient<P extends Procedures> {
  /**
   * Calls `name(arg)` and resolves with its result. Rejects with an `RpcError` when the procedure
   * failed (its code and data), with `ERR_IPC_TIMEOUT`/`ERR_IPC_ABORTED` from `options` (the
   * server's `ctx.signal` aborts too: the timeout travels as the call's deadline), or with the
   * transport's close error.
   */
  call<K extends keyof P & string>(name: K, arg: ArgOf<P[K]>, options?: CallOptions): Promise<ResultOf<P[K]>>
  /**
   * Calls a procedure that returns an async iterable and iterates its items as they come, with
   * credit-based flow control per stream (`window` items ahead; an unread stream never blocks the
   * others). `break` (or the `signal`, or the `timeout` for the whole stream) cancels it on the
   * server. A failure of the procedure rejects the pending `next()` with its `RpcError`.
   */
  stream<K extends keyof P & string>(name: K, arg: ArgOf<P[K]>, options?: StreamOptions): AsyncIterableIterator<StreamItem<ResultOf<P[K]>>>
  /** Sends `name(arg)` with no reply (resolves once queued). */
  notify<K extends keyof P & string>(name: K, arg: ArgOf<P[K]>, options?: Pick<CallOptions, 'metadata'>): Promise<void>
  /** Calls and streams waiting for the server. */
  readonly pending: number
}

/** The item type of a procedure that returns `AsyncIterable<T>`. */
export type StreamItem<R> = R extends AsyncIterable<infer T> ? T : unknown

/** A call or stream waiting for the server: what to do with its replies, and with a failure of the whole client. */
interface Pending {
  reply(r: Reply): void
  fail(err: unknown): void
}

/**
 * The client of one transport: it reads the transport's replies (do not read it elsewhere).
 *
 * @example
 * ```ts
 * const api = client<typeof procedures>(transport)
 * const sum = await api.call('add', { a: 1, b: 2 }, { timeout: 1000 })
 * for await (const row of api.stream('rows', 'today')) console.log(row)
 * ```
 */
export function client<P extends Procedures>(transport: Transport<unknown, unknown>): RpcClient<P> {
  const pending = new Map<number, Pending>()
  let next = 0
  let failure: unknown
  const fail = (err: unknown): void => {
    failure ??= err
    for (const p of [...pending.values()]) p.fail(err)
    pending.clear()
  }
  void (async () => {
    try {
      for await (const message of transport) {
        const reply = parseReply(message)
        if (typeof reply === 'string') {
          fail(new IpcError('ERR_IPC_DECODE', `rpc: a malformed reply (${reply})`))
          await transport.close()
          return
        }
        const p = pending.get(reply.i)
        if (p === undefined) {
          debug('rpc: a reply for call %d, which is not pending (cancelled or timed out); dropped', reply.i)
          continue
        }
        p.reply(reply)
      }
      const info = await transport.closed
      fail(info.error ?? new IpcError('ERR_IPC_CLOSED', `rpc: the transport closed (${info.reason})`))
    } catch (err) {
      fail(err)
    }
  })()

  const newId = (): number => {
    do next = next >= 2 ** 31 - 1 ? 0 : next + 1
    while (pending.has(next))
    return next
  }

  /** Arms `options`' signal and timeout for request `i`; `cancel(err)` runs once if either fires. */
  const arm = (options: CallOptions, what: string, cancel: (err: IpcError) => void): (() => void) => {
    let timer: NodeJS.Timeout | undefined
    const onAbort = (): void => cancel(abortError(options.signal!, what))
    options.signal?.addEventListener('abort', onAbort, { once: true })
    if (options.timeout !== undefined) timer = setTimeout(() => cancel(timeoutError(options.timeout!, what)), options.timeout)
    return () => {
      if (timer !== undefined) clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  const sendCancel = (i: number): void => {
    transport.send({ t: T.CANCEL, i }).catch(() => {}) // the server's ctx.signal aborts too
  }

  return {
    get pending() {
      return pending.size
    },
    call(name, arg, options = {}) {
      if (failure !== undefined) return Promise.reject(failure)
      try {
        checkTimeout(options.timeout)
      } catch (err) {
        return Promise.reject(err)
      }
      if (options.signal?.aborted) return Promise.reject(abortError(options.signal, `rpc ${name}`))
      const i = newId()
      const envelope: CallEnvelope = { t: T.CALL, i, m: name }
      if (arg !== undefined) envelope.a = arg
      if (options.timeout !== undefined) envelope.d = options.timeout
      if (options.metadata !== undefined) envelope.md = options.metadata
      return new Promise((resolve, reject) => {
        const settle = (): boolean => {
          if (!pending.delete(i)) return false
          disarm()
          return true
        }
        const disarm = arm(options, `rpc ${name}`, (err) => {
          if (!settle()) return
          reject(err)
          sendCancel(i)
        })
        pending.set(i, {
          reply(r) {
            if (!settle()) return
            if (r.t === T.OK) resolve(r.r as never)
            else if (r.t === T.ERROR) reject(new RpcError(r.e.code, r.e.message, r.e.data))
            else reject(new IpcError('ERR_IPC_DECODE', `rpc: a stream reply for the call ${name}`))
          },
          fail(err) {
            if (settle()) reject(err)
          },
        })
        transport.send(envelope).catch((err) => {
          if (settle()) reject(err)
        })
      })
    },
    stream(name, arg, options = {}) {
      const window = options.window ?? 16
      const what = `rpc stream ${name}`
      const items: unknown[] = []
      let head = 0
      let done = false
      let error: unknown
      let waiter: { resolve(r: IteratorResult<any>): void; reject(e: unknown): void } | undefined
      let consumed = 0
      let i = -1
      let disarm: () => void = () => {}
      const finish = (err?: unknown): void => {
        if (done) return
        done = true
        if (err !== undefined) error = err
        pending.delete(i)
        disarm()
        const w = waiter
        waiter = undefined
        if (w) error !== undefined ? w.reject(error) : w.resolve({ value: undefined, done: true })
      }
      const start = (): void => {
        if (i >= 0 || done) return
        if (failure !== undefined) {
          finish(failure)
          return
        }
        try {
          checkTimeout(options.timeout)
          if (!Number.isSafeInteger(window) || window < 1 || window > MAX_WINDOW) {
            throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `window must be an integer from 1 to ${MAX_WINDOW}, got ${String(window)}`)
          }
        } catch (err) {
          finish(err)
          return
        }
        if (options.signal?.aborted) {
          finish(abortError(options.signal, what))
          return
        }
        i = newId()
        const envelope: StreamEnvelope = { t: T.STREAM, i, m: name, w: window }
        if (arg !== undefined) envelope.a = arg
        if (options.timeout !== undefined) envelope.d = options.timeout
        if (options.metadata !== undefined) envelope.md = options.metadata
        const id = i
        disarm = arm(options, what, (err) => {
          if (done) return
          finish(err)
          sendCancel(id)
        })
        pending.set(id, {
          reply(r) {
            if (done) return
            if (r.t === T.ITEM) {
              const w = waiter
              if (w) {
                waiter = undefined
                credit()
                w.resolve({ value: r.v, done: false })
              } else if (items.length - head >= window) {
                finish(new IpcError('ERR_IPC_DECODE', `rpc: the server sent more items of ${name} than its credit (${window})`))
                sendCancel(id)
              } else items.push(r.v)
            } else if (r.t === T.END) finish()
            else if (r.t === T.ERROR) finish(new RpcError(r.e.code, r.e.message, r.e.data))
            else finish(new IpcError('ERR_IPC_DECODE', `rpc: a call reply for the stream ${name}`))
          },
          fail: (err) => finish(err),
        })
        transport.send(envelope).catch((err) => finish(err))
      }
      /** One item taken by the reader: credit goes back in halves of the window. */
      const credit = (): void => {
        consumed++
        if (consumed >= Math.max(1, window >> 1) && !done) {
          transport.send({ t: T.CREDIT, i, n: consumed }).catch(() => {})
          consumed = 0
        }
      }
      const it: AsyncIterableIterator<any> = {
        next() {
          start()
          if (head < items.length) {
            const value = items[head++]
            if (head === items.length) {
              items.length = 0
              head = 0
            }
            credit()
            return Promise.resolve({ value, done: false })
          }
          if (done) return error !== undefined ? Promise.reject(error) : Promise.resolve({ value: undefined, done: true })
          return new Promise((resolve, reject) => {
            waiter = { resolve, reject }
          })
        },
        async return() {
          if (!done && i >= 0) {
            const id = i
            finish()
            sendCancel(id)
          } else finish()
          return { value: undefined, done: true }
        },
        [Symbol.asyncIterator]() {
          return it
        },
      }
      return it
    },
    async notify(name, arg, options = {}) {
      if (failure !== undefined) throw failure
      const envelope: Request = { t: T.NOTIFY, m: name }
      if (arg !== undefined) envelope.a = arg
      if (options.metadata !== undefined) envelope.md = options.metadata
      await transport.send(envelope)
    },
  }
}
