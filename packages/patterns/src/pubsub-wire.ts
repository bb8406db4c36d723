/**
 * The publish/subscribe envelopes, written down once (publisher, subscriber and the tests' hostile
 * peers use these). Each envelope is one message of the transport: an array whose first element
 * says what it is. Arrays, not objects: a delivery is the hot path of fan-out, and `[t, topic,
 * message]` is the cheapest shape to encode and decode.
 */
import { topicProblem } from './topics.js'

/** Envelope kinds (element 0). */
export const P = {
  /** Subscriber → publisher: add patterns `[SUB, seq, patterns, slow?, limit?]` (`slow`/`limit` only honoured on the first). */
  SUB: 20,
  /** Subscriber → publisher: remove patterns `[UNSUB, seq, patterns]`. */
  UNSUB: 21,
  /** Publisher → subscriber: the (UN)SUB `seq` is in force `[ACK, seq]`. */
  ACK: 22,
  /** Publisher → subscriber: one message `[MSG, topic, message]`, or `[MSG, topic, message, dropped]` after drops. */
  MSG: 23,
  /** Publisher → subscriber: the last envelope before the publisher closes this subscriber `[BYE, code | null, reason]`. */
  BYE: 24,
  /** Publisher → subscriber: `n` messages were dropped and no message followed them yet `[DROPS, n]` (sent when its queue empties). */
  DROPS: 25,
} as const

/** What a publisher does when a subscriber's queue is full. */
export type SlowPolicy = 'block' | 'drop-oldest' | 'drop-newest' | 'disconnect'

/** Every {@link SlowPolicy}. */
export const SLOW_POLICIES: readonly SlowPolicy[] = ['block', 'drop-oldest', 'drop-newest', 'disconnect']

/** The most patterns one SUB or UNSUB may carry, and one subscriber may hold. */
export const MAX_PATTERNS = 1024

export type SubEnvelope = [typeof P.SUB, number, string[], SlowPolicy?, number?]
export type UnsubEnvelope = [typeof P.UNSUB, number, string[]]
export type AckEnvelope = [typeof P.ACK, number]
export type MsgEnvelope = [typeof P.MSG, string, unknown] | [typeof P.MSG, string, unknown, number]
export type ByeEnvelope = [typeof P.BYE, string | null, string]
export type DropsEnvelope = [typeof P.DROPS, number]

/** A SUB or UNSUB from a subscriber, checked; a string says what is wrong with it. */
export function parseSubscriberEnvelope(value: unknown): SubEnvelope | UnsubEnvelope | string {
  if (!Array.isArray(value) || value.length < 3) return 'not a subscription envelope (an array of at least 3)'
  const [t, seq, patterns] = value
  if (t !== P.SUB && t !== P.UNSUB) return `unknown kind ${JSON.stringify(t)}`
  if (!Number.isSafeInteger(seq) || seq < 0) return 'a bad sequence number'
  if (!Array.isArray(patterns) || patterns.length > MAX_PATTERNS) return `patterns must be an array of at most ${MAX_PATTERNS}`
  for (const p of patterns) {
    const problem = topicProblem(p, true)
    if (problem !== undefined) return `pattern ${JSON.stringify(String(p).slice(0, 80))}: ${problem}`
  }
  if (t === P.UNSUB) return value.length === 3 ? (value as UnsubEnvelope) : 'an UNSUB has 3 elements'
  if (value.length > 5) return 'a SUB has at most 5 elements'
  const slow = value[3]
  if (slow !== undefined && slow !== null && !SLOW_POLICIES.includes(slow)) return `unknown slow policy ${JSON.stringify(slow)}`
  const limit = value[4]
  if (limit !== undefined && limit !== null && (!Number.isSafeInteger(limit) || limit < 1)) return 'limit must be a positive integer'
  return value as SubEnvelope
}

/** An envelope from a publisher, checked; a string says what is wrong with it. */
export function parsePublisherEnvelope(value: unknown): MsgEnvelope | AckEnvelope | ByeEnvelope | DropsEnvelope | string {
  if (!Array.isArray(value) || value.length < 2) return 'not a publisher envelope (an array of at least 2)'
  switch (value[0]) {
    case P.MSG: {
      if (value.length !== 3 && value.length !== 4) return 'a MSG has 3 or 4 elements'
      if (typeof value[1] !== 'string') return 'a MSG topic must be a string'
      if (value.length === 4 && (!Number.isSafeInteger(value[3]) || value[3] < 1)) return 'a MSG drop count must be a positive integer'
      return value as MsgEnvelope
    }
    case P.ACK:
      return value.length === 2 && Number.isSafeInteger(value[1]) ? (value as AckEnvelope) : 'a bad ACK'
    case P.DROPS:
      return value.length === 2 && Number.isSafeInteger(value[1]) && value[1] > 0 ? (value as DropsEnvelope) : 'a bad DROPS'
    case P.BYE:
      return value.length === 3 && (value[1] === null || typeof value[1] === 'string') && typeof value[2] === 'string' ? (value as ByeEnvelope) : 'a bad BYE'
    default:
      return `unknown kind ${JSON.stringify(value[0])}`
  }
}
