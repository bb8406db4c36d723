/**
 * RPC v2 over any `Transport`: calls with deadlines that the server honours, cancellation both
 * ways, per-procedure validation with any Standard Schema validator, remote failures as
 * `RpcError`, notifications, metadata, and bounded concurrency (a flood of calls meets the
 * transport's backpressure, never unbounded memory).
 */
import { IpcError, type PeerInfo, type StandardSchemaV1, type Transport, type WaitOptions, isIpcError } from '@ipc/core'
import { abortError, checkTimeout, debug, timeoutError } from '@ipc/core/mechanism'
import { RpcError } from './rpc-error.js'
import { type CallEnvelope, type ErrorBody, type Reply, type Request, T, parseReply, parseRequest } from './rpc-wire.js'

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
  /** Calls running at once; past it the server stops reading and the transport's backpressure slows the client. Default 64. */
  maxConcurrent?: number
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
  const running = new Map<number, AbortController>()
  let inFlight = 0
  let room: (() => void) | undefined
  const closedSignal = new AbortController()
  void transport.closed.then(() => closedSignal.abort(new IpcError('ERR_IPC_CLOSED', 'rpc: the transport closed')))
  const finished = new Set<Promise<void>>()

  const run = async (req: CallEnvelope): Promise<void> => {
    const ac = new AbortController()
    running.set(req.i, ac)
    const onClosed = (): void => ac.abort(closedSignal.signal.reason)
    closedSignal.signal.addEventListener('abort', onClosed, { once: true })
    const timer = req.d === undefined ? undefined : setTimeout(() => ac.abort(timeoutError(req.d!, `rpc ${req.m}`)), req.d)
    const ctx: CallContext = { signal: ac.signal, metadata: req.md ?? {} }
    if (req.d !== undefined) ctx.deadline = performance.now() + req.d
    if (transport.peer !== undefined) ctx.peer = transport.peer
    let reply: Reply
    try {
      reply = { t: T.OK, i: req.i, r: await invoke(procedures, req.m, req.a, ctx) }
    } catch (err) {
      reply = { t: T.ERROR, i: req.i, e: errorBody(err) }
    } finally {
      if (timer !== undefined) clearTimeout(timer)
      closedSignal.signal.removeEventListener('abort', onClosed)
      running.delete(req.i)
    }
    if (ac.signal.aborted) {
      debug('rpc: the result of %s (call %d) came after its deadline or cancellation; dropped', req.m, req.i)
      return
    }
    try {
      await transport.send(reply)
    } catch (err) {
      if (!transport.isOpen) return
      try {
        await transport.send({
          t: T.ERROR,
          i: req.i,
          e: { code: 'UNSENDABLE', message: `rpc: the result of ${req.m} could not be sent: ${(err as Error).message}` },
        })
      } catch (again) {
        debug('rpc: not even the error reply of call %d could be sent: %s', req.i, (again as Error).message)
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
    inFlight++
    const done: Promise<void> = run(req).finally(() => {
      finished.delete(done)
      inFlight--
      const r = room
      room = undefined
      r?.()
    })
    finished.add(done)
  }
  for (const ac of running.values()) ac.abort(closedSignal.signal.reason ?? new IpcError('ERR_IPC_CLOSED', 'rpc: the transport closed'))
  await Promise.all(finished)
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
  /** Sends `name(arg)` with no reply (resolves once queued). */
  notify<K extends keyof P & string>(name: K, arg: ArgOf<P[K]>, options?: Pick<CallOptions, 'metadata'>): Promise<void>
  /** Calls waiting for their reply. */
  readonly pending: number
}

interface Pending {
  resolve(v: unknown): void
  reject(e: unknown): void
  disarm(): void
}

/**
 * The client of one transport: it reads the transport's replies (do not read it elsewhere).
 *
 * @example
 * ```ts
 * const api = client<typeof procedures>(transport)
 * const sum = await api.call('add', { a: 1, b: 2 }, { timeout: 1000 })
 * ```
 */
export function client<P extends Procedures>(transport: Transport<unknown, unknown>): RpcClient<P> {
  const pending = new Map<number, Pending>()
  let next = 0
  let failure: unknown
  const fail = (err: unknown): void => {
    failure ??= err
    for (const p of pending.values()) {
      p.disarm()
      p.reject(err)
    }
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
        pending.delete(reply.i)
        p.disarm()
        if (reply.t === T.OK) p.resolve(reply.r)
        else p.reject(new RpcError(reply.e.code, reply.e.message, reply.e.data))
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
        let timer: NodeJS.Timeout | undefined
        const cancel = (err: IpcError): void => {
          if (!pending.delete(i)) return
          disarm()
          reject(err)
          transport.send({ t: T.CANCEL, i }).catch(() => {}) // the server's ctx.signal aborts too
        }
        const onAbort = (): void => cancel(abortError(options.signal!, `rpc ${name}`))
        const disarm = (): void => {
          if (timer !== undefined) clearTimeout(timer)
          options.signal?.removeEventListener('abort', onAbort)
        }
        pending.set(i, { resolve: resolve as (v: unknown) => void, reject, disarm })
        options.signal?.addEventListener('abort', onAbort, { once: true })
        if (options.timeout !== undefined) timer = setTimeout(() => cancel(timeoutError(options.timeout!, `rpc ${name}`)), options.timeout)
        transport.send(envelope).catch((err) => {
          if (!pending.delete(i)) return
          disarm()
          reject(err)
        })
      })
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
