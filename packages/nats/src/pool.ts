/**
 * One client connection per server (and credentials and TLS setting) per process, shared by every
 * transport and listener on it, closed when the last of them is released — so a process exits by
 * itself. Its ups and downs go to every user.
 */
import { readFileSync } from 'node:fs'
import { IpcError } from '@ipc/core'
import { debug } from '@ipc/core/mechanism'
import { type ConnectionOptions, type NatsConnection, connect, credsAuthenticator } from '@nats-io/transport-node'
import type { NatsAddress } from './address.js'
import type { NatsCommonOptions } from './options.js'

/** What a user of the shared connection is told. */
export interface ConnectionWatcher {
  down(): void
  up(): void
  failed(error: Error): void
}

/** A user's hold on a shared connection. */
export interface Lease {
  readonly nc: NatsConnection
  /** `true` while connected. */
  readonly up: boolean
  /** The server's `max_payload`. */
  readonly maxPayload: number
  /** `nats://host:port`, for messages. */
  readonly broker: string
  watch(w: ConnectionWatcher): () => void
  /** Another hold on the same connection (for a transport a listener accepts). */
  fork(): Lease
  /** Gives the hold back; the connection closes with the last one. */
  release(): void
}

interface Entry {
  key: string
  broker: string
  nc: NatsConnection | undefined
  opening: Promise<NatsConnection>
  refs: number
  up: boolean
  watchers: Set<ConnectionWatcher>
  closing: boolean
}

const pool = new Map<string, Entry>()

/** Connections open now, for tests (the process must be able to exit when they end). */
export function openConnections(): number {
  return pool.size
}

/** A hold on the shared connection to `address`'s server, connecting if none is open. */
export async function acquire(address: NatsAddress, options: NatsCommonOptions, timeout: number | undefined): Promise<Lease> {
  const tls = options.tls ?? (address.loopback ? false : undefined)
  if (tls === undefined) {
    throw new IpcError(
      'ERR_IPC_PERMISSION',
      `${address.host} is not on loopback: refusing to talk to it in plain text (add tls=1 and a ca=, or write tls=0 to accept that the network sees everything)`,
      { details: { broker: address.server } },
    )
  }
  const connectOptions = clientOptions(address, options, tls, timeout)
  const key = JSON.stringify([
    address.server,
    connectOptions.user,
    options.credsFile,
    options.tokenFile,
    options.auth?.token ? 'token' : '',
    tls,
    options.ca,
    options.cert,
  ])
  let entry = pool.get(key)
  if (entry === undefined || entry.closing) {
    const fresh: Entry = {
      key,
      broker: `nats://${address.server}`,
      nc: undefined,
      opening: undefined as never,
      refs: 0,
      up: true,
      watchers: new Set(),
      closing: false,
    }
    fresh.opening = open(fresh, connectOptions)
    pool.set(key, fresh)
    entry = fresh
  }
  entry.refs++
  let nc: NatsConnection
  try {
    nc = await entry.opening
  } catch (err) {
    entry.refs--
    if (pool.get(key) === entry) pool.delete(key)
    throw err
  }
  return lease(entry, nc)
}

function lease(entry: Entry, nc: NatsConnection): Lease {
  let released = false
  const mine = new Set<ConnectionWatcher>()
  return {
    nc,
    get up() {
      return entry.up
    },
    maxPayload: nc.info?.max_payload ?? 1024 * 1024,
    broker: entry.broker,
    watch(w) {
      entry.watchers.add(w)
      mine.add(w)
      return () => {
        entry.watchers.delete(w)
        mine.delete(w)
      }
    },
    fork() {
      entry.refs++
      return lease(entry, nc)
    },
    release() {
      if (released) return
      released = true
      for (const w of mine) entry.watchers.delete(w)
      entry.refs--
      if (entry.refs > 0) return
      // the last one: close after this turn (a transport opened right after reuses it)
      setImmediate(() => {
        if (entry.refs > 0 || entry.closing) return
        entry.closing = true
        if (pool.get(entry.key) === entry) pool.delete(entry.key)
        nc.close().catch((err) => debug('nats: closing the connection to %s: %s', entry.broker, (err as Error)?.message))
      })
    },
  }
}

async function open(entry: Entry, options: ConnectionOptions): Promise<NatsConnection> {
  let nc: NatsConnection
  try {
    nc = await connect(options)
  } catch (err) {
    throw connectError(err, entry.broker)
  }
  entry.nc = nc
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        entry.up = false
        debug('nats: disconnected from %s', entry.broker)
        for (const w of [...entry.watchers]) w.down()
      } else if (s.type === 'reconnect') {
        entry.up = true
        debug('nats: reconnected to %s', entry.broker)
        for (const w of [...entry.watchers]) w.up()
      } else if (s.type === 'slowConsumer') {
        debug('nats: the client library reports a slow consumer on %s (%d pending)', entry.broker, s.pending)
      }
    }
  })()
  void nc.closed().then((err) => {
    if (pool.get(entry.key) === entry) pool.delete(entry.key)
    if (entry.closing) return
    entry.closing = true
    const error = err instanceof Error ? err : new Error('the connection closed')
    debug('nats: the connection to %s closed: %s', entry.broker, error.message)
    for (const w of [...entry.watchers]) w.failed(error)
  })
  return nc
}

function clientOptions(address: NatsAddress, options: NatsCommonOptions, tls: boolean, timeout: number | undefined): ConnectionOptions {
  const o: ConnectionOptions = {
    servers: address.server,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 10_000,
    timeout: timeout ?? 5000,
    name: options.name ?? `ipc:${process.pid}`,
  }
  try {
    if (options.credsFile !== undefined) o.authenticator = credsAuthenticator(readFileSync(options.credsFile))
    if (options.tokenFile !== undefined) o.token = readFileSync(options.tokenFile, 'utf8').trim()
  } catch (err) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `cannot read a credentials file: ${(err as Error).message}`, { cause: err })
  }
  if (options.auth?.token !== undefined) o.token = options.auth.token
  if (options.auth?.user !== undefined) o.user = options.auth.user
  if (options.auth?.pass !== undefined) o.pass = options.auth.pass
  if (tls) {
    o.tls = {}
    if (options.ca !== undefined) o.tls.caFile = options.ca
    if (options.cert !== undefined) o.tls.certFile = options.cert
    if (options.key !== undefined) o.tls.keyFile = options.key
  } else {
    o.tls = null
  }
  return o
}

/** A coded error for a failed connect to the server. */
export function connectError(err: unknown, broker: string): IpcError {
  const e = err as Error & { code?: string }
  const text = `${e?.name ?? ''} ${e?.message ?? ''} ${e?.code ?? ''}`
  if (/certificate|self.signed|tls|ssl/i.test(text)) {
    return new IpcError('ERR_IPC_PERMISSION', `TLS with the server ${broker} failed: ${e?.message}`, { cause: err, details: { broker } })
  }
  if (/Authorization|authentication|permission/i.test(text)) {
    return new IpcError('ERR_IPC_PERMISSION', `the server ${broker} refused the credentials: ${e?.message}`, { cause: err, details: { broker } })
  }
  return new IpcError('ERR_IPC_NO_LISTENER', `cannot reach the server ${broker}: ${e?.message}`, { cause: err, details: { broker } })
}
