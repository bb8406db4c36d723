import type { PingPongPlan, PingPongResult, StreamPlan, StreamResult } from '../common.js'

/** The measuring side of one name: each call starts a fresh child and ends it before returning. */
export interface Bench {
  /** Round trips: send one message, await its echo, repeat. */
  pingPong(payloadBytes: number, plan: PingPongPlan): Promise<PingPongResult>
  /** One-way: the child sends as fast as backpressure allows; this side counts. */
  stream(payloadBytes: number, plan: StreamPlan): Promise<StreamResult>
}
