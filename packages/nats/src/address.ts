/**
 * `nats://host:port/a/b` → the server `host:port` and the rendezvous subject `ipc.a.b` (each path
 * segment a token; `prefix` replaces `ipc`).
 */
import { IpcError } from '@ipc/core'
import type { Address } from '@ipc/core/mechanism'

/** A parsed `nats://` address. */
export interface NatsAddress {
  /** `nats://host:port`, for the client library. */
  server: string
  host: string
  port: number
  /** The rendezvous subject. */
  subject: string
  /** `true` when the server is on this machine's loopback. */
  loopback: boolean
}

const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/

export function natsAddress(a: Address, prefix = 'ipc'): NatsAddress {
  const m = /^\/\/([^/]+)(\/.*)?$/.exec(a.target)
  if (!m || a.host === undefined) throw new IpcError('ERR_IPC_INVALID_ADDRESS', `a nats address is nats://host:port/subject, got "${a.text}"`)
  if (m[1]!.includes('@'))
    throw new IpcError('ERR_IPC_INVALID_ADDRESS', 'credentials must not be written in an address: use credsFile=, tokenFile= or the options object')
  const segments = (m[2] ?? '').split('/').filter((s) => s.length > 0)
  if (segments.length === 0)
    throw new IpcError('ERR_IPC_INVALID_ADDRESS', `a nats address names a subject after the server (nats://host:port/orders), got "${a.text}"`)
  for (const s of segments) {
    if (!SEGMENT.test(s))
      throw new IpcError(
        'ERR_IPC_INVALID_ADDRESS',
        `subject segment "${s.slice(0, 80)}": 1 to 64 letters, digits, "_" or "-" (no ".", "*", ">" or white space)`,
      )
  }
  const host = a.host
  const port = a.port ?? 4222
  const bracketed = host.includes(':') ? `[${host}]` : host
  return { server: `${bracketed}:${port}`, host, port, subject: [prefix, ...segments].join('.'), loopback: isLoopback(host) }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}
