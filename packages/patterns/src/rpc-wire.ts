/**
 * The RPC envelopes, written down once (the client, the server and the tests' hostile peers use
 * these). Every envelope is one message of the transport: an object whose `t` says what it is.
 */

/** Envelope kinds (`t`). */
export const T = {
  /** Client → server: a call `{ t, i, m, a?, d?, md? }` (`d`: milliseconds the client waits, its deadline). */
  CALL: 1,
  /** Client → server: a call with no reply `{ t, m, a?, md? }`. */
  NOTIFY: 2,
  /** Client → server: the call or stream `i` is cancelled `{ t, i }`. */
  CANCEL: 3,
  /** Client → server: a streaming call `{ t, i, m, a?, d?, md?, w }` (`w`: items the server may send before credit). */
  STREAM: 4,
  /** Client → server: `n` more items of stream `i` may be sent `{ t, i, n }`. */
  CREDIT: 5,
  /** Server → client: the result `{ t, i, r }`. */
  OK: 10,
  /** Server → client: the failure `{ t, i, e: { code, message, data? } }` (of a call, or ending a stream). */
  ERROR: 11,
  /** Server → client: one item of stream `i` `{ t, i, v }`. */
  ITEM: 12,
  /** Server → client: stream `i` is complete `{ t, i }`. */
  END: 13,
} as const

export interface CallEnvelope {
  t: typeof T.CALL
  i: number
  m: string
  a?: unknown
  d?: number
  md?: Record<string, unknown>
}

export interface NotifyEnvelope {
  t: typeof T.NOTIFY
  m: string
  a?: unknown
  md?: Record<string, unknown>
}

export interface CancelEnvelope {
  t: typeof T.CANCEL
  i: number
}

export interface StreamEnvelope {
  t: typeof T.STREAM
  i: number
  m: string
  a?: unknown
  d?: number
  md?: Record<string, unknown>
  w: number
}

export interface CreditEnvelope {
  t: typeof T.CREDIT
  i: number
  n: number
}

export type Request = CallEnvelope | NotifyEnvelope | CancelEnvelope | StreamEnvelope | CreditEnvelope

export interface ErrorBody {
  code: string
  message: string
  data?: unknown
}

export type Reply =
  | { t: typeof T.OK; i: number; r?: unknown }
  | { t: typeof T.ERROR; i: number; e: ErrorBody }
  | { t: typeof T.ITEM; i: number; v?: unknown }
  | { t: typeof T.END; i: number }

/** Largest stream window a client may ask for. */
export const MAX_WINDOW = 1 << 16

const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0
const isMetadata = (v: unknown): boolean => v === undefined || (typeof v === 'object' && v !== null && !Array.isArray(v))

/** The request `v` is, or why it is not one. */
export function parseRequest(v: unknown): Request | string {
  if (typeof v !== 'object' || v === null) return 'a request must be an object'
  const r = v as Record<string, unknown>
  switch (r.t) {
    case T.CALL:
      if (!isId(r.i) || typeof r.m !== 'string') return 'a call needs an id (i) and a procedure name (m)'
      if (r.d !== undefined && !(typeof r.d === 'number' && r.d >= 0 && Number.isFinite(r.d))) return 'a deadline (d) must be a number of milliseconds ≥ 0'
      if (!isMetadata(r.md)) return 'metadata (md) must be an object'
      return r as unknown as CallEnvelope
    case T.NOTIFY:
      if (typeof r.m !== 'string') return 'a notification needs a procedure name (m)'
      if (!isMetadata(r.md)) return 'metadata (md) must be an object'
      return r as unknown as NotifyEnvelope
    case T.CANCEL:
      if (!isId(r.i)) return 'a cancel needs an id (i)'
      return r as unknown as CancelEnvelope
    case T.STREAM:
      if (!isId(r.i) || typeof r.m !== 'string') return 'a stream needs an id (i) and a procedure name (m)'
      if (!Number.isSafeInteger(r.w) || (r.w as number) < 1 || (r.w as number) > MAX_WINDOW)
        return `a stream window (w) must be an integer from 1 to ${MAX_WINDOW}`
      if (r.d !== undefined && !(typeof r.d === 'number' && r.d >= 0 && Number.isFinite(r.d))) return 'a deadline (d) must be a number of milliseconds ≥ 0'
      if (!isMetadata(r.md)) return 'metadata (md) must be an object'
      return r as unknown as StreamEnvelope
    case T.CREDIT:
      if (!isId(r.i) || !Number.isSafeInteger(r.n) || (r.n as number) < 1 || (r.n as number) > MAX_WINDOW) return 'a credit needs an id (i) and a count (n)'
      return r as unknown as CreditEnvelope
    default:
      return `unknown request kind ${JSON.stringify(r.t)}`
  }
}

/** The reply `v` is, or why it is not one. */
export function parseReply(v: unknown): Reply | string {
  if (typeof v !== 'object' || v === null) return 'a reply must be an object'
  const r = v as Record<string, unknown>
  if (!isId(r.i)) return 'a reply needs an id (i)'
  if (r.t === T.OK || r.t === T.ITEM || r.t === T.END) return r as unknown as Reply
  if (r.t === T.ERROR) {
    const e = r.e as Record<string, unknown> | undefined
    if (typeof e !== 'object' || e === null || typeof e.code !== 'string' || typeof e.message !== 'string') return 'an error reply needs e: { code, message }'
    return r as unknown as Reply
  }
  return `unknown reply kind ${JSON.stringify(r.t)}`
}
