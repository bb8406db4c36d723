/**
 * The handshake messages, written down once (connect, listen and the tests' raw clients use
 * these): JSON objects with a version `v` and a kind `k`, sent as NATS requests to the rendezvous
 * subject `S` and answered on the requester's inbox. After the handshake each end receives session
 * units (`@ipc/core/mechanism`'s session wire format) on its own subject:
 *
 * - the client on `S.<token>.c`, the listener's end on `S.<token>.l`, where `<token>` is 32 hex
 *   digits of randomness drawn by the client (unguessable: another subscriber cannot find them).
 *
 * | message | from → to | fields |
 * |---|---|---|
 * | `hello` | client → `S` | `t`: token, `w`: the client's window (bytes), `u`: its largest unit |
 * | `welcome` | listener → client | `w`: the listener's window |
 * | `refuse` | listener → client | `why` |
 * | `probe` | a listener starting → `S` | `n`: its nonce |
 * | `here` | a live listener → prober | `n`: its nonce |
 */
import { randomBytes } from 'node:crypto'

/** The handshake's version. */
export const WIRE_VERSION = 1

export interface Hello {
  v: typeof WIRE_VERSION
  k: 'hello'
  t: string
  w: number
  u: number
}
export interface Welcome {
  v: typeof WIRE_VERSION
  k: 'welcome'
  w: number
}
export interface Refuse {
  v: typeof WIRE_VERSION
  k: 'refuse'
  why: string
}
export interface Probe {
  v: typeof WIRE_VERSION
  k: 'probe'
  n: string
}
export interface Here {
  v: typeof WIRE_VERSION
  k: 'here'
  n: string
}
export type HandshakeMessage = Hello | Welcome | Refuse | Probe | Here

const TOKEN = /^[0-9a-f]{32}$/

/** A fresh connection token (128 random bits). */
export function newToken(): string {
  return randomBytes(16).toString('hex')
}

/** The two per-connection subjects. */
export function connectionSubjects(rendezvous: string, token: string): { client: string; listener: string } {
  return { client: `${rendezvous}.${token}.c`, listener: `${rendezvous}.${token}.l` }
}

export function encodeMessage(m: HandshakeMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m))
}

/** Parses and checks a handshake message; a string says what is wrong with it. */
export function decodeMessage(bytes: Uint8Array): HandshakeMessage | string {
  if (bytes.length > 4096) return 'a handshake message longer than 4 KiB'
  let m: Record<string, unknown>
  try {
    m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    return 'not JSON'
  }
  if (m === null || typeof m !== 'object' || m.v !== WIRE_VERSION) return `not a version ${WIRE_VERSION} handshake message`
  const window = (w: unknown): boolean => Number.isSafeInteger(w) && (w as number) >= 4096 && (w as number) <= 256 * 1024 * 1024
  switch (m.k) {
    case 'hello':
      if (typeof m.t !== 'string' || !TOKEN.test(m.t)) return 'a hello with a bad token'
      if (!window(m.w) || !Number.isSafeInteger(m.u) || (m.u as number) < 64) return 'a hello with a bad window or unit'
      return m as unknown as Hello
    case 'welcome':
      return window(m.w) ? (m as unknown as Welcome) : 'a welcome with a bad window'
    case 'refuse':
      return typeof m.why === 'string' ? (m as unknown as Refuse) : 'a bad refuse'
    case 'probe':
    case 'here':
      return typeof m.n === 'string' && m.n.length <= 64 ? (m as unknown as Probe | Here) : 'a bad probe'
    default:
      return `unknown kind ${JSON.stringify(m.k)}`
  }
}
