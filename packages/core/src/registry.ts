import { announceConnection, announceFailure, announceListener } from './diagnostics.js'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { type Address, parseAddress } from './address.js'
import { debug } from './debug.js'
import { IpcError } from './errors.js'
import type { Listener } from './listener.js'
import { type OptionParsers, duration, parseOptions, size } from './options.js'
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
  /**
   * Connects to `address`. `options` merge the address's query options under the caller's, every
   * declared option already parsed (a number is a number).
   */
  connect(address: Address, options: ConnectOptions<any>): Promise<Transport<any, any>>
  /** Listens at `address`, with `options` parsed as for `connect`. */
  listen(address: Address, options: ListenOptions<any>): Promise<Listener<any, any>>
  /**
   * The options the mechanism understands beyond the common ones, each with its parser. Core
   * applies them to address query options and option objects alike; an address option that is
   * neither declared nor common is `ERR_IPC_INVALID_ADDRESS`.
   */
  readonly options?: OptionParsers
  /** @deprecated transitional: option names without parsers; use {@link SchemeHandler.options}. */
  readonly params?: readonly string[]
  /**
   * Example addresses of this scheme whose files (if any) go inside `dir`, a private temporary
   * folder: what the demo and the benchmark run over, without a list of their own.
   */
  sampleAddresses?(dir: string): string[]
}

const REGISTRY_KEY = Symbol.for('@ipc/core.registry')
type Registry = Map<string, SchemeHandler>
// One registry per process, also when both the ESM and the CJS build of core are loaded.
const registry: Registry =
  ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] as Registry | undefined) ?? ((globalThis as Record<symbol, unknown>)[REGISTRY_KEY] = new Map())

/** Which package serves each scheme of the SDK: `connect`/`listen` import it on first use. */
export const SCHEME_PACKAGES: Readonly<Record<string, string>> = {
  unix: '@ipc/socket',
  tcp: '@ipc/socket',
  pipe: '@ipc/pipe',
  fifo: '@ipc/fifo',
  mq: '@ipc/mq',
  'mq+sysv': '@ipc/mq',
  shm: '@ipc/shm',
  sem: '@ipc/sem',
  signal: '@ipc/signal',
  nats: '@ipc/nats',
}

/** Makes `scheme` (e.g. `'unix'`) resolve to `handler`. Mechanism packages call this when imported. */
export function registerScheme(scheme: string, handler: SchemeHandler): void {
  registry.set(scheme.toLowerCase(), handler)
}

/** The schemes registered so far, e.g. `['unix', 'tcp', 'pipe']`. */
export function registeredSchemes(): string[] {
  return [...registry.keys()]
}

/** The handler registered for `scheme`, if any (for tools and the conformance kit). */
export function schemeHandler(scheme: string): SchemeHandler | undefined {
  return registry.get(scheme.toLowerCase())
}

/** Options every scheme understands, with their parsers. */
export const COMMON_OPTIONS: OptionParsers = {
  maxMessageSize: size(1, 0x7fffffff),
  highWaterMark: size(1),
  closeTimeout: duration(0),
  timeout: duration(0),
  codec: (value, name) => {
    if (typeof value === 'string' ? value === 'msgpack' || value === 'json' || value === 'raw' : typeof value === 'object' && value !== null) return value
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `option ${name} must be msgpack, json, raw or a Codec object, got ${JSON.stringify(value)}`, {
      details: { option: name },
    })
  },
}

/**
 * The ES module entry of `pkg` as seen from `file` (its package.json `exports['.'].import`), else
 * whatever `require` resolves: the SDK's packages are loaded as ES modules, as an application that
 * imports them would.
 */
function resolveEntry(pkg: string, file: string): string {
  const require = createRequire(file)
  try {
    const manifest = require.resolve(`${pkg}/package.json`)
    const json = JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Record<string, { import?: string | { default?: string } }>; module?: string }
    const esm = json.exports?.['.']?.import
    const entry = typeof esm === 'string' ? esm : (esm?.default ?? json.module)
    if (entry !== undefined) return join(dirname(manifest), entry)
  } catch (err) {
    debug('%s: no package.json export seen from %s (%s)', pkg, file, (err as Error).message)
  }
  return require.resolve(pkg)
}

/** Candidate places to import a mechanism package from: core's own location, then the application's. */
function importers(pkg: string): (() => Promise<unknown>)[] {
  const fromFile = (file: string) => () => import(pathToFileURL(resolveEntry(pkg, file)).href)
  const out: (() => Promise<unknown>)[] = [() => import(pkg)]
  if (process.argv[1]) out.push(fromFile(process.argv[1]))
  out.push(fromFile(join(process.cwd(), 'noop.js')))
  return out
}

const loading = new Map<string, Promise<void>>()

/**
 * The handler of `scheme`, importing the package that serves it (once) if it is not registered
 * yet; rejects with `ERR_IPC_UNSUPPORTED` naming the package when it is not installed.
 */
export async function loadScheme(scheme: string): Promise<SchemeHandler> {
  const registered = registry.get(scheme)
  if (registered !== undefined) return registered
  const pkg = SCHEME_PACKAGES[scheme]
  const known = registeredSchemes()
  if (pkg === undefined) {
    throw new IpcError(
      'ERR_IPC_UNSUPPORTED',
      `no transport is registered for "${scheme}:" and no package of the SDK serves it; registered: ${known.length ? known.join(', ') : 'none'}`,
    )
  }
  let pending = loading.get(pkg)
  if (pending === undefined) {
    pending = (async () => {
      const failures: string[] = []
      for (const attempt of importers(pkg)) {
        try {
          await attempt()
          return
        } catch (err) {
          failures.push((err as Error)?.message ?? String(err))
        }
      }
      debug('cannot import %s: %s', pkg, failures.join(' | '))
    })()
    loading.set(pkg, pending)
  }
  await pending
  const handler = registry.get(scheme)
  if (handler === undefined) {
    loading.delete(pkg)
    throw new IpcError('ERR_IPC_UNSUPPORTED', `the "${scheme}:" scheme is served by ${pkg}, which is not installed: npm install ${pkg}`, {
      details: { package: pkg },
    })
  }
  return handler
}

async function resolve(text: string, options: object | undefined): Promise<[SchemeHandler, Address, Record<string, unknown>]> {
  const address = parseAddress(text)
  const handler = registry.get(address.scheme) ?? (await loadScheme(address.scheme))
  const declared: OptionParsers = handler.options ?? Object.fromEntries((handler.params ?? []).map((k) => [k, (v: unknown) => v]))
  const fromAddress: Record<string, unknown> = {}
  for (const [key, value] of address.params) {
    if (!Object.hasOwn(COMMON_OPTIONS, key) && !Object.hasOwn(declared, key)) {
      throw new IpcError('ERR_IPC_INVALID_ADDRESS', `unknown option "${key}" in address "${text}"`)
    }
    fromAddress[key] = value
  }
  const merged = { ...fromAddress, ...(options as Record<string, unknown> | undefined) }
  return [handler, address, parseOptions(parseOptions(merged, COMMON_OPTIONS), declared)]
}

/**
 * Connects to `address` with the transport registered for its scheme (importing the package that
 * serves it, if it is installed and not imported yet).
 *
 * @example
 * ```ts
 * import { connect } from '@ipc/core'
 * const t = await connect<Request, Reply>('unix:/run/app.sock')
 * ```
 */
export async function connect<Out = unknown, In = unknown>(address: string, options?: ConnectOptions<In> | TransportOptions<In>): Promise<Transport<Out, In>> {
  try {
    const [handler, parsed, merged] = await resolve(address, options)
    const transport = (await handler.connect(parsed, merged)) as Transport<Out, In>
    announceConnection(address, 'client', transport)
    return transport
  } catch (err) {
    announceFailure(address, 'connect', err)
    throw err
  }
}

/**
 * Listens at `address` with the transport registered for its scheme (importing the package that
 * serves it, if it is installed and not imported yet).
 *
 * @example
 * ```ts
 * import { listen } from '@ipc/core'
 * const server = await listen<Reply, Request>('unix:/run/app.sock')
 * for await (const conn of server) handle(conn)
 * ```
 */
export async function listen<Out = unknown, In = unknown>(address: string, options?: ListenOptions<In> | TransportOptions<In>): Promise<Listener<Out, In>> {
  try {
    const [handler, parsed, merged] = await resolve(address, options)
    const listener = (await handler.listen(parsed, merged)) as Listener<Out, In>
    announceListener(listener.address, listener)
    return listener
  } catch (err) {
    announceFailure(address, 'listen', err)
    throw err
  }
}
