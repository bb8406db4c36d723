import { type Address, parseAddress, parseSize } from './address.js'
import { IpcError } from './errors.js'
import type { Listener } from './listener.js'
import type { Transport, TransportOptions } from './transport.js'
import type { WaitOptions } from './waits.js'

/** Options of {@link connect}: the transport options, a wait bound, and mechanism options. */
export interface ConnectOptions<In = unknown> extends TransportOptions<In>, WaitOptions {
  /** Mechanism-specific options (see each package's README). */
  [option: string]: unknown
}

/** Options of {@link listen}: the options of every accepted transport, and mechanism options. */
export interface ListenOptions<In = unknown> extends TransportOptions<In> {
  /** Mechanism-specific options (see each package's README). */
  [option: string]: unknown
}

/** What a mechanism package registers for its scheme(s). */
export interface SchemeHandler {
  /** Connects to `address`. `options` already merge the address's query options under the caller's. */
  connect(address: Address, options: ConnectOptions<any>): Promise<Transport<any, any>>
  /** Listens at `address`. */
  listen(address: Address, options: ListenOptions<any>): Promise<Listener<any, any>>
  /** Query options the mechanism understands beyond the common ones (others are rejected). */
  readonly params?: readonly string[]
}

const REGISTRY_KEY = Symbol.for('@ipc/core.registry')
type Registry = Map<string, SchemeHandler>
// One registry per process, also when both the ESM and the CJS build of core are loaded.
const registry: Registry = ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] as Registry | undefined) ??
  ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] = new Map())

/** Makes `scheme` (e.g. `'unix'`) resolve to `handler`. Mechanism packages call this when imported. */
export function registerScheme(scheme: string, handler: SchemeHandler): void {
  registry.set(scheme.toLowerCase(), handler)
}

/** The schemes registered so far, e.g. `['unix', 'tcp', 'pipe']`. */
export function registeredSchemes(): string[] {
  return [...registry.keys()]
}

const COMMON_PARAMS: Record<string, (v: string) => unknown> = {
  maxMessageSize: (v) => parseSize(v, 'maxMessageSize', 1, 0x7fffffff),
  highWaterMark: (v) => parseSize(v, 'highWaterMark', 1),
  closeTimeout: (v) => parseSize(v, 'closeTimeout', 0),
  timeout: (v) => parseSize(v, 'timeout', 0),
  codec: (v) => {
    if (v === 'msgpack' || v === 'json' || v === 'raw') return v
    throw new IpcError('ERR_IPC_INVALID_ADDRESS', `codec must be msgpack, json or raw, got "${v}"`)
  },
}

function resolve(text: string, options: object | undefined): [SchemeHandler, Address, Record<string, unknown>] {
  const address = parseAddress(text)
  const handler = registry.get(address.scheme)
  if (!handler) {
    const known = registeredSchemes()
    throw new IpcError(
      'ERR_IPC_UNSUPPORTED',
      `no transport is registered for "${address.scheme}:" — import the package that provides it (e.g. import '@ipc/socket');` +
        ` registered: ${known.length ? known.join(', ') : 'none'}`,
    )
  }
  const merged: Record<string, unknown> = {}
  for (const [key, value] of address.params) {
    const common = COMMON_PARAMS[key]
    if (common) merged[key] = common(value)
    else if (handler.params?.includes(key)) merged[key] = value
    else {
      throw new IpcError('ERR_IPC_INVALID_ADDRESS', `unknown option "${key}" in address "${text}"`)
    }
  }
  return [handler, address, { ...merged, ...options }]
}

/**
 * Connects to `address` with the transport registered for its scheme.
 *
 * @example
 * ```ts
 * import { connect } from '@ipc/core'
 * import '@ipc/socket'
 * const t = await connect<Request, Reply>('unix:/run/app.sock')
 * ```
 */
export async function connect<Out = unknown, In = unknown>(address: string, options?: ConnectOptions<In> | TransportOptions<In>): Promise<Transport<Out, In>> {
  const [handler, parsed, merged] = resolve(address, options)
  return handler.connect(parsed, merged) as Promise<Transport<Out, In>>
}

/**
 * Listens at `address` with the transport registered for its scheme.
 *
 * @example
 * ```ts
 * import { listen } from '@ipc/core'
 * import '@ipc/socket'
 * const server = await listen<Reply, Request>('unix:/run/app.sock')
 * for await (const conn of server) handle(conn)
 * ```
 */
export async function listen<Out = unknown, In = unknown>(address: string, options?: ListenOptions<In> | TransportOptions<In>): Promise<Listener<Out, In>> {
  const [handler, parsed, merged] = resolve(address, options)
  return handler.listen(parsed, merged) as Promise<Listener<Out, In>>
}
