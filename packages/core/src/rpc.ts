import { IpcError, type IpcErrorCode, isIpcError } from './errors.js'
import type { Transport } from './transport.js'
import { type WaitOptions, armWait, checkTimeout } from './waits.js'

/** A set of procedures: each takes one argument and returns a value or a promise of one. */
export type Procedures = { [name: string]: (arg: any) => unknown }

/** A request on the wire. */
export interface RpcRequest {
  /** Call id, unique per client while the call is pending. */
  i: number
  /** Procedure name. */
  m: string
  /** The argument. */
  a?: unknown
}

/** A reply on the wire: `r` on success, `e` on failure. */
export interface RpcReply {
  i: number
  r?: unknown
  e?: { code: string; message: string }
}

/** The client side of {@link Procedures} `P`: one typed `call`. */
export interface RpcClient<P extends Procedures> {
  /**
   * Calls `name(arg)` on the server and resolves with its result. Rejects with the server's error
   * (as an {@link IpcError}; a plain thrown error arrives with code `ERR_IPC_SYSTEM`), with
   * `ERR_IPC_TIMEOUT`/`ERR_IPC_ABORTED` from `options`, or with the transport's close error.
   * Many calls may be pending at once; replies are matched by id.
   */
  call<K extends keyof P & string>(name: K, arg: Parameters<P[K]>[0], options?: WaitOptions): Promise<Awaited<ReturnType<P[K]>>>
  /** Calls now pending. */
  readonly pending: number
}

interface PendingCall {
  resolve(value: unknown): void
  reject(err: unknown): void
  disarm(): void
}

/**
 * @deprecated Use `serve` of `@ipc/patterns` (RPC v2: deadlines, cancellation, validation, bounded
 * concurrency, a malformed request closes only its transport). Kept for one minor version.
 *
 * Serves `procedures` on one transport until it closes: every request is answered, in the order
 * the answers become ready (calls run concurrently). An unknown procedure or a thrown error is
 * answered as an error; the server keeps going.
 *
 * @example
 * ```ts
 * const api = { add: ({ a, b }: { a: number; b: number }) => a + b }
 * for await (const conn of server) void serve(conn, api)
 * ```
 */
export async function serve<P extends Procedures>(transport: Transport<RpcReply, RpcRequest>, procedures: P): Promise<void> {
  const inFlight = new Set<Promise<void>>()
  for await (const req of transport) {
    if (typeof req !== 'object' || req === null || typeof req.i !== 'number' || typeof req.m !== 'string') {
      throw new IpcError('ERR_IPC_DECODE', 'rpc: a request must be { i: number, m: string, a?: unknown }')
    }
    const { i, m, a } = req
    const reply = (async (): Promise<RpcReply> => {
      const fn = Object.hasOwn(procedures, m) ? procedures[m] : undefined
      if (typeof fn !== 'function') return { i, e: { code: 'ERR_IPC_UNSUPPORTED', message: `rpc: no procedure "${m}"` } }
      try {
        return { i, r: await fn(a) }
      } catch (err) {
        const code = isIpcError(err) ? err.code : 'ERR_IPC_SYSTEM'
        return { i, e: { code, message: (err as Error)?.message ?? String(err) } }
      }
    })()
    const sending: Promise<void> = reply
      .then((r) => transport.send(r))
      .catch(() => {}) // the transport closed; its closed promise tells why
      .finally(() => inFlight.delete(sending))
    inFlight.add(sending)
  }
  await Promise.all(inFlight)
}

/**
 * @deprecated Use `client` of `@ipc/patterns` (RPC v2). Kept for one minor version.
 *
 * A typed client for procedures `P` served on the other end of `transport` (see {@link serve}).
 * The client reads every message of the transport: do not call `receive()` on it yourself.
 *
 * @example
 * ```ts
 * const api = client<typeof procedures>(await connect('unix:/run/calc.sock'))
 * const sum = await api.call('add', { a: 1, b: 2 }) // number
 * ```
 */
export function client<P extends Procedures>(transport: Transport<RpcRequest, RpcReply>): RpcClient<P> {
  const pending = new Map<number, PendingCall>()
  let nextId = 1
  let failure: unknown

  const failAll = (err: unknown): void => {
    failure = err
    for (const call of pending.values()) {
      call.disarm()
      call.reject(err)
    }
    pending.clear()
  }

  void (async () => {
    try {
      for await (const reply of transport) {
        const call = pending.get(reply?.i)
        if (call === undefined) continue // a reply to a call that timed out or was aborted
        pending.delete(reply.i)
        call.disarm()
        if (reply.e) call.reject(new IpcError(reply.e.code as IpcErrorCode, reply.e.message))
        else call.resolve(reply.r)
      }
      const info = await transport.closed
      failAll(
        info.error ?? new IpcError(info.reason === 'peer-exited' ? 'ERR_IPC_PEER_EXITED' : 'ERR_IPC_CLOSED', `rpc: the transport closed (${info.reason})`),
      )
    } catch (err) {
      failAll(err)
    }
  })()

  return {
    get pending() {
      return pending.size
    },
    call(name, arg, options) {
      if (failure !== undefined) return Promise.reject(failure)
      checkTimeout(options?.timeout)
      if (options?.signal?.aborted) return Promise.reject(new IpcError('ERR_IPC_ABORTED', `rpc call ${name} was aborted`, { cause: options.signal.reason }))
      const i = nextId
      nextId = nextId >= 0x7fffffff ? 1 : nextId + 1
      return new Promise((resolve, reject) => {
        const call: PendingCall = { resolve, reject, disarm: () => {} }
        call.disarm = armWait(options, `rpc call ${name}`, (err) => {
          pending.delete(i)
          reject(err)
        })
        pending.set(i, call)
        transport.send({ i, m: name, a: arg }, options).catch((err) => {
          if (pending.delete(i)) {
            call.disarm()
            reject(err)
          }
        })
      }) as Promise<any>
    },
  }
}
