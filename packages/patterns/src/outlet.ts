/**
 * One subscriber's way out of a publisher: a queue of at most `limit` messages in front of its
 * transport, with a `trySend` fast path (no promise while the transport has room) and a pump that
 * waits in `send()` for the head when it has none. What happens when the queue is full is the
 * subscriber's {@link SlowPolicy}; every message it loses is counted and reported with the next
 * message it gets.
 */
import { IpcError, type Transport, isIpcError } from '@ipc/core'
import { debug } from '@ipc/core/mechanism'
import { Fifo } from './fifo.js'
import { type DropsEnvelope, type MsgEnvelope, P, type SlowPolicy } from './pubsub-wire.js'

/**
 * What {@link Outlet.offer} did: `'taken'` (handed to the transport or queued), `'full'` (the
 * queue is full and the policy is `block`: wait for {@link Outlet.room}, then offer again) or
 * `'dropped'` (lost for this subscriber by its policy, or it is closed; counted).
 */
export type Offer = 'taken' | 'full' | 'dropped'

export class Outlet {
  /** Queued messages: topic, message, and the drops right before it (told with it). */
  private readonly queue = new Fifo<[string, unknown, number]>()
  private pumping = false
  private roomWaiters: (() => void)[] = []
  /** Drops after the last queued message (or the last sent, when none is queued): told with the next one queued. */
  private behind = 0
  /** Messages this subscriber has lost, all told. */
  dropped = 0
  /** Messages handed to the transport. */
  delivered = 0
  /** `true` once it was closed with `ERR_IPC_SLOW_CONSUMER`. */
  closedAsSlow = false
  /** `false` once the outlet is ending (closed, failed or slow). */
  open = true
  /** The patterns this subscriber holds. */
  readonly patterns = new Set<string>()

  constructor(
    readonly transport: Transport<unknown, unknown>,
    readonly policy: SlowPolicy,
    readonly limit: number,
    /** Called once, when the outlet ends for any reason. */
    private readonly onEnd: (outlet: Outlet) => void,
  ) {}

  /** Queued messages. */
  get queued(): number {
    return this.queue.length
  }

  /** Offers one message. Throws what `trySend` throws (an unencodable or oversize message). */
  offer(topic: string, message: unknown): Offer {
    if (!this.open) return 'dropped'
    if (this.queue.length === 0 && !this.pumping) {
      if (this.transport.trySend(envelope(topic, message, this.behind))) {
        this.behind = 0
        this.delivered++
        return 'taken'
      }
      if (!this.transport.isOpen) {
        this.end()
        return 'dropped'
      }
    }
    if (this.queue.length < this.limit) {
      this.enqueue(topic, message)
      return 'taken'
    }
    switch (this.policy) {
      case 'block':
        return 'full'
      case 'drop-newest':
        this.dropped++
        this.behind++
        return 'dropped'
      case 'drop-oldest':
        this.lose(this.queue.shift()!)
        this.enqueue(topic, message)
        return 'taken'
      case 'disconnect':
        this.slow(`more than ${this.limit} messages waited for this subscriber (policy "disconnect")`)
        return 'dropped'
    }
  }

  private enqueue(topic: string, message: unknown): void {
    this.queue.push([topic, message, this.behind])
    this.behind = 0
    if (!this.pumping) void this.pump()
  }

  /** A queued message is lost: its drops and itself go to the one after it. */
  private lose(entry: [string, unknown, number]): void {
    this.dropped++
    const next = this.queue.peek()
    if (next !== undefined) next[2] += entry[2] + 1
    else this.behind += entry[2] + 1
  }

  /** Resolves once the queue has room (or the outlet ended). */
  room(): Promise<void> {
    if (!this.open || this.queue.length < this.limit) return Promise.resolve()
    return new Promise((resolve) => this.roomWaiters.push(resolve))
  }

  /** Closes this subscriber as too slow: `ERR_IPC_SLOW_CONSUMER`, told in a BYE when it can still be sent. */
  slow(reason: string): void {
    if (!this.open) return
    debug('pubsub: subscriber closed as slow: %s', reason)
    this.closedAsSlow = true
    this.dropped += this.queue.length
    this.queue.clear()
    this.finish('ERR_IPC_SLOW_CONSUMER', reason)
  }

  /** Ends the outlet after the queue has gone out: a BYE without a code, then the transport's close. */
  async close(): Promise<void> {
    if (!this.open) return this.transport.close()
    while (this.pumping || this.queue.length > 0) {
      if (!this.pumping) void this.pump()
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve))
      if (!this.open) return this.transport.close()
    }
    this.finish(null, 'the publisher closed')
    await this.transport.close()
  }

  /** The transport ended (or failed) under us. */
  end(): void {
    if (!this.open) return
    this.open = false
    this.dropped += this.queue.length
    this.queue.clear()
    this.wake()
    this.onEnd(this)
  }

  private finish(code: string | null, reason: string): void {
    this.transport.send([P.BYE, code, reason]).catch(() => {}) // behind what is queued; lost if the transport is gone
    void this.transport.close()
    this.end()
  }

  private async pump(): Promise<void> {
    this.pumping = true
    const t = this.transport
    try {
      while (this.open && this.queue.length > 0) {
        // as many as the transport takes at once, then wait in send() for the next
        const entry = this.queue.shift()!
        const env = envelope(entry[0], entry[1], entry[2])
        let accepted: boolean
        try {
          accepted = t.trySend(env)
        } catch (err) {
          this.undeliverable(entry, err)
          continue
        }
        if (!accepted) {
          if (!t.isOpen) break
          if (this.roomWaiters.length > 0) this.wake()
          try {
            await t.send(env)
          } catch (err) {
            if (!t.isOpen || isIpcError(err, 'ERR_IPC_CLOSED') || isIpcError(err, 'ERR_IPC_PEER_EXITED')) break
            this.undeliverable(entry, err)
            continue
          }
        }
        this.delivered++
        if (this.roomWaiters.length > 0 && this.queue.length < this.limit) this.wake()
      }
      if (this.open && this.behind > 0 && t.isOpen) {
        // drops that no message followed: tell them now, so the subscriber's count is exact
        const drops: DropsEnvelope = [P.DROPS, this.behind]
        this.behind = 0
        if (!t.trySend(drops)) await t.send(drops)
      }
    } catch (err) {
      debug('pubsub: telling a subscriber its drops failed: %s', (err as Error)?.message)
    } finally {
      this.pumping = false
      this.wake()
      if (!t.isOpen) this.end()
    }
  }

  /** A queued message this transport cannot carry (too large for it, say): lost for it, counted and logged. */
  private undeliverable(entry: [string, unknown, number], err: unknown): void {
    debug('pubsub: a message could not be sent to a subscriber (%s); counted as dropped', (err as Error)?.message)
    this.lose(entry)
  }

  private wake(): void {
    const waiters = this.roomWaiters
    if (waiters.length === 0) return
    this.roomWaiters = []
    for (const w of waiters) w()
  }
}

/** The error a subscriber's iteration ends with when its publisher closed it as slow. */
export function slowConsumerError(reason: string): IpcError {
  return new IpcError('ERR_IPC_SLOW_CONSUMER', `the publisher closed this subscriber: ${reason}`)
}

function envelope(topic: string, message: unknown, dropped: number): MsgEnvelope {
  return dropped === 0 ? [P.MSG, topic, message] : [P.MSG, topic, message, dropped]
}
