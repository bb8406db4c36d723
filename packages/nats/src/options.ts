/** Options of `nats://` addresses and of `connect()`/`listen()` for them. */
import type { ConnectOptions, ListenOptions } from '@ipc/core'
import { IpcError } from '@ipc/core'
import { count, duration, flag, size } from '@ipc/core/mechanism'

/** What both ends accept. */
export interface NatsCommonOptions {
  /**
   * Milliseconds of silence after which the peer is asked for a sign of life; three of them end the transport.
   * @defaultValue `2000`
   */
  heartbeat?: number
  /**
   * Milliseconds without sending after which a probe goes out (the server reports at once when nobody receives any more).
   * @defaultValue `100`
   */
  probe?: number
  /**
   * Milliseconds the server may be unreachable before transports end with `ERR_IPC_CLOSED`; within it, everything is sent again.
   * @defaultValue `30_000`
   */
  resume?: number
  /**
   * Bytes this end accepts beyond what it acknowledged (its credit window).
   * @defaultValue 1 MiB
   */
  window?: number
  /**
   * `true`: TLS to the server; `false`: plain, which a server that is not on loopback needs written explicitly (`tls=0`).
   * @defaultValue TLS unless the server is on loopback
   */
  tls?: boolean
  /** CA certificate file for TLS. */
  ca?: string
  /** Client certificate file for TLS. */
  cert?: string
  /** Client key file for TLS. */
  key?: string
  /** A NATS credentials file (JWT and nkey seed). */
  credsFile?: string
  /** A file holding the server's token. */
  tokenFile?: string
  /** Credentials given directly — an object, so they can never be written in an address. */
  auth?: NatsAuth
  /**
   * The first token of every subject this SDK uses.
   * @defaultValue `'ipc'`
   */
  prefix?: string
  /** Client name shown by the server's monitoring. */
  name?: string
}

/** Credentials for the server, in the options object only. */
export interface NatsAuth {
  /** The server's token. */
  token?: string
  /** User name. */
  user?: string
  /** Password. */
  pass?: string
}

/** Options of `connect()` for `nats://host:port/subject`. */
export interface NatsConnectOptions<In = unknown> extends ConnectOptions<In>, NatsCommonOptions {}

/** Options of `listen()` for `nats://host:port/subject`. */
export interface NatsListenOptions<In = unknown> extends ListenOptions<In>, NatsCommonOptions {
  /** A queue group: listeners of the same group share the address (each connection goes to one of them). */
  shared?: string
  /**
   * Connections waiting for `accept()`.
   * @defaultValue `511`
   */
  backlog?: number
}

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/

function token(what: string) {
  return (value: unknown, name: string): string => {
    const text = String(value)
    if (typeof value !== 'string' || !TOKEN.test(text)) {
      throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${name}: ${what} must be 1 to 64 letters, digits, "_" or "-", got ${JSON.stringify(text.slice(0, 80))}`, {
        details: { option: name },
      })
    }
    return text
  }
}

/** An absolute file path. */
function path(value: unknown, name: string): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.includes('\0')) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${name} must be an absolute file path, got ${JSON.stringify(String(value).slice(0, 80))}`, {
      details: { option: name },
    })
  }
  return value
}

function auth(value: unknown, name: string): NatsAuth {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${name} must be an object { token?, user?, pass? } in the options (credentials never go in an address)`, {
      details: { option: name },
    })
  }
  const out: NatsAuth = {}
  for (const [k, v] of Object.entries(value)) {
    if ((k !== 'token' && k !== 'user' && k !== 'pass') || typeof v !== 'string') {
      throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${name}.${k}: only token, user and pass, each a string`, { details: { option: name } })
    }
    out[k] = v
  }
  return out
}

/** The parsers of the scheme's options (core applies them to address and options alike). */
export const NATS_OPTIONS = {
  heartbeat: duration(10, 3_600_000),
  probe: duration(5, 60_000),
  resume: duration(0, 24 * 3_600_000),
  window: size(4096, 256 * 1024 * 1024),
  tls: flag(),
  ca: path,
  cert: path,
  key: path,
  credsFile: path,
  tokenFile: path,
  auth,
  prefix: token('a subject prefix'),
  name: token('a client name'),
  shared: token('a queue group'),
  backlog: count(1, 1 << 20),
}

/** The settings every transport of the scheme runs with. */
export interface NatsSettings {
  heartbeat: number
  probe: number
  resume: number
  window: number
}

/** Fills the defaults. */
export function settingsOf(options: NatsCommonOptions): NatsSettings {
  return {
    heartbeat: options.heartbeat ?? 2000,
    probe: options.probe ?? 100,
    resume: options.resume ?? 30_000,
    window: options.window ?? 1024 * 1024,
  }
}
