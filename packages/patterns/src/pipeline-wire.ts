/**
 * The work-queue envelopes, written down once (pusher, puller and the tests' hostile peers use
 * these): arrays whose first element says what they are.
 */

/** Envelope kinds (element 0). */
export const W = {
  /** Puller → pusher: `n` more jobs may be sent `[CREDIT, n]` (the first one says the puller is ready). */
  CREDIT: 30,
  /** Puller → pusher: job `id` is done (acknowledged), and one more job may come `[DONE, id]`. */
  DONE: 31,
  /** Puller → pusher: job `id` failed; with `ack` it goes to a worker again, and one more job may come `[FAIL, id, reason]`. */
  FAIL: 32,
  /** Pusher → puller: one job `[JOB, id, attempt, data]` (`attempt` counts from 1). */
  JOB: 33,
  /** Pusher → puller: the last envelope before the pusher closes this puller `[BYE, code | null, reason]`. */
  BYE: 34,
} as const

/** The most credit one puller may hold (jobs sent to it and not yet done). */
export const MAX_CREDIT = 65_536

export type CreditEnvelope = [typeof W.CREDIT, number]
export type DoneEnvelope = [typeof W.DONE, number]
export type FailEnvelope = [typeof W.FAIL, number, string]
export type JobEnvelope = [typeof W.JOB, number, number, unknown]
export type PipelineByeEnvelope = [typeof W.BYE, string | null, string]

/** An envelope from a puller, checked; a string says what is wrong with it. */
export function parsePullerEnvelope(value: unknown): CreditEnvelope | DoneEnvelope | FailEnvelope | string {
  if (!Array.isArray(value) || value.length < 2) return 'not a puller envelope (an array of at least 2)'
  const [t, n] = value
  switch (t) {
    case W.CREDIT:
      return value.length === 2 && Number.isSafeInteger(n) && n >= 1 && n <= MAX_CREDIT ? (value as CreditEnvelope) : `a bad CREDIT (1 to ${MAX_CREDIT})`
    case W.DONE:
      return value.length === 2 && Number.isSafeInteger(n) && n >= 0 ? (value as DoneEnvelope) : 'a bad DONE'
    case W.FAIL:
      return value.length === 3 && Number.isSafeInteger(n) && n >= 0 && typeof value[2] === 'string' ? (value as FailEnvelope) : 'a bad FAIL'
    default:
      return `unknown kind ${JSON.stringify(t)}`
  }
}

/** An envelope from a pusher, checked; a string says what is wrong with it. */
export function parsePusherEnvelope(value: unknown): JobEnvelope | PipelineByeEnvelope | string {
  if (!Array.isArray(value) || value.length < 3) return 'not a pusher envelope (an array of at least 3)'
  switch (value[0]) {
    case W.JOB:
      return value.length === 4 && Number.isSafeInteger(value[1]) && value[1] >= 0 && Number.isSafeInteger(value[2]) && value[2] >= 1
        ? (value as JobEnvelope)
        : 'a bad JOB'
    case W.BYE:
      return value.length === 3 && (value[1] === null || typeof value[1] === 'string') && typeof value[2] === 'string'
        ? (value as PipelineByeEnvelope)
        : 'a bad BYE'
    default:
      return `unknown kind ${JSON.stringify(value[0])}`
  }
}
