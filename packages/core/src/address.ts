import { IpcError } from './errors.js'

/**
 * An address string split into its parts. The forms are `scheme:path` (`unix:/run/app.sock`,
 * `unix:@name`, `fifo:/tmp/app`, `mq:/app`), `scheme://host:port` (`tcp://127.0.0.1:7000`), each
 * optionally followed by `?key=value&…` options.
 */
export interface Address {
  /** The whole string as given. */
  readonly text: string
  /** Lower-case scheme without the colon, e.g. `unix`, `tcp`, `mq+sysv`. */
  readonly scheme: string
  /** What follows the scheme (without the query): a path, `@name`, or `//host:port`. */
  readonly target: string
  /** For `scheme://host:port` forms: the host (brackets removed from IPv6 literals). */
  readonly host?: string
  /** For `scheme://host:port` forms: the port. */
  readonly port?: number
  /** The query options, as given. */
  readonly params: URLSearchParams
}

const SCHEME = /^([a-z][a-z0-9+.-]*):/i

/** Splits an address string; throws `ERR_IPC_INVALID_ADDRESS` when it has no scheme or a bad port. */
export function parseAddress(text: string): Address {
  if (typeof text !== 'string' || text.length === 0) {
    throw new IpcError('ERR_IPC_INVALID_ADDRESS', `an address must be a non-empty string, got ${String(text)}`)
  }
  if (text.length > 4096 || text.includes('\0')) {
    throw new IpcError('ERR_IPC_INVALID_ADDRESS', 'an address must be at most 4096 characters with no NUL byte')
  }
  const m = SCHEME.exec(text)
  if (!m) throw new IpcError('ERR_IPC_INVALID_ADDRESS', `address "${text}" has no scheme (e.g. unix:/run/app.sock)`)
  const scheme = m[1]!.toLowerCase()
  let rest = text.slice(m[0].length)
  let params = new URLSearchParams()
  const q = rest.indexOf('?')
  if (q >= 0) {
    params = new URLSearchParams(rest.slice(q + 1))
    rest = rest.slice(0, q)
  }
  const address: { -readonly [K in keyof Address]: Address[K] } = { text, scheme, target: rest, params }
  if (rest.startsWith('//')) {
    const authority = rest.slice(2).split('/')[0]!
    const hp = /^(\[[^\]]+\]|[^:]*)(?::(\d*))?$/.exec(authority)
    if (!hp) throw new IpcError('ERR_IPC_INVALID_ADDRESS', `address "${text}" has a malformed host:port`)
    const host = hp[1]!.replace(/^\[|\]$/g, '')
    if (host) address.host = host
    if (hp[2] !== undefined && hp[2] !== '') {
      const port = Number(hp[2])
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new IpcError('ERR_IPC_INVALID_ADDRESS', `address "${text}" has port ${hp[2]} outside 0–65535`)
      }
      address.port = port
    }
  }
  return address
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
}

/**
 * Parses a byte size: a number, or a string such as `4096`, `64KiB`, `4MiB`, `1.5MB`.
 * Throws `ERR_IPC_INVALID_ARGUMENT` for anything else, or a result outside [min, max].
 */
export function parseSize(value: string | number, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  let n: number
  if (typeof value === 'number') n = value
  else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(value))
    const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined
    if (!m || unit === undefined) {
      throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${name} must be a size such as 65536 or 64KiB, got "${value}"`)
    }
    n = Math.floor(Number(m[1]) * unit)
  }
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${name} must be an integer between ${min} and ${max}, got ${value}`)
  }
  return n
}

/** Parses `true/false/1/0/yes/no` from an address option. */
export function parseBoolean(value: string, name: string): boolean {
  const v = value.toLowerCase()
  if (v === 'true' || v === '1' || v === 'yes' || v === '') return true
  if (v === 'false' || v === '0' || v === 'no') return false
  throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${name} must be true or false, got "${value}"`)
}
