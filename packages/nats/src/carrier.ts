/**
 * One connection end's way to the server, for the session layer: it receives on its own subject
 * and publishes to the peer's, every unit with its own subject as the reply — so when nobody
 * receives the peer's subject any more (the peer's process died, its connection is gone), the
 * server answers at once with a 503 status message, which is this end's news that the peer is gone.
 */
import { debug } from '@ipc/core/mechanism'
import type { SessionCarrier, SessionCarrierEvents } from '@ipc/core/mechanism'
import type { Msg, Subscription } from '@nats-io/transport-node'
import type { Lease } from './pool.js'

export class NatsCarrier implements SessionCarrier {
  readonly maxUnit: number
  private events: SessionCarrierEvents | undefined
  private early: Msg[] | undefined = []
  private readonly sub: Subscription
  private unwatch: (() => void) | undefined
  private closed = false
  /** Why the subscription failed (the server refused it), if it did. */
  failure: Error | undefined

  constructor(
    private readonly lease: Lease,
    /** The subject this end receives on. */
    readonly own: string,
    /** The subject the peer receives on. */
    readonly peer: string,
  ) {
    this.maxUnit = lease.maxPayload
    this.sub = lease.nc.subscribe(own, { callback: (err, msg) => (err ? this.onError(err) : this.onMsg(msg)) })
    this.unwatch = lease.watch({
      down: () => this.events?.down(),
      up: () => this.events?.up(),
      failed: (error) => this.events?.failed(error),
    })
  }

  get up(): boolean {
    return this.lease.up
  }

  start(events: SessionCarrierEvents): void {
    this.events = events
    if (this.failure !== undefined) events.failed(this.failure)
    const early = this.early ?? []
    this.early = undefined
    for (const m of early) this.onMsg(m)
  }

  send(unit: Uint8Array): void {
    if (this.closed) return
    try {
      this.lease.nc.publish(this.peer, unit, { reply: this.own })
    } catch (err) {
      debug('nats: a publish to %s failed: %s', this.peer, (err as Error)?.message) // closed or reconnecting: the session sends it again
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.unwatch?.()
    this.unwatch = undefined
    try {
      this.sub.unsubscribe()
    } catch {}
    this.lease.release()
  }

  private onMsg(msg: Msg): void {
    if (this.early !== undefined) {
      this.early.push(msg)
      return
    }
    if (this.closed) return
    if (msg.headers !== undefined) {
      // a status message from the server: 503 = nobody receives what we sent
      if (msg.headers.code === 503) this.events?.gone()
      else debug('nats: a status %d message on %s ignored', msg.headers.code, this.own)
      return
    }
    this.events?.unit(msg.data)
  }

  private onError(err: Error): void {
    debug('nats: the subscription %s failed: %s', this.own, err.message)
    this.failure ??= err
    this.events?.failed(err)
  }
}
