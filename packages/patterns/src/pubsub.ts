/**
 * Publish/subscribe: one publisher, many subscribers, each with its own topic patterns and a policy
 * for when it cannot keep up. Filtering happens at the publisher; a subscriber's transport carries
 * only what it asked for.
 */
import { type ConnectOptions, IpcError, type ListenOptions, type Listener, type Transport, type WaitOptions, isIpcError } from '@ipc/core'
import { abortError, checkTimeout, debug, timeoutError } from '@ipc/core/mechanism'
import { Mailbox, readError } from './mailbox.js'
import { Outlet } from './outlet.js'
import {
  MAX_PATTERNS,
  P,
  SLOW_POLICIES,
  type SlowPolicy,
  type SubEnvelope,
  type UnsubEnvelope,
  parsePublisherEnvelope,
  parseSubscriberEnvelope,
} from './pubsub-wire.js'
import { acceptEach, listenerOf, positive, transportOf } from './source.js'
import { TopicIndex, checkPattern, checkTopic } from './topics.js'

export type { SlowPolicy } from './pubsub-wire.js'

const RESOLVED: Promise<void> = Promise.resolve()

/** Options of {@link publisher}. */
export interface PublisherOptions {
  /**
   * What happens to a subscriber whose queue is full, unless it asks for another policy.
   * @defaultValue `'block'`
   */
  slow?: SlowPolicy
  /**
   * Messages that may wait for one subscriber beyond what its transport holds (`highWaterMark`); a subscriber may ask for fewer.
   * @defaultValue `1024`
   */
  limit?: number
  /**
   * Milliseconds `publish()` waits for a subscriber under `block` before that subscriber is closed with `ERR_IPC_SLOW_CONSUMER`.
   * @defaultValue `10_000`
   */
  maxBlock?: number
  /** Options of the listener, when `publisher()` is given an address. */
  listen?: ListenOptions
}

/** Counters of a publisher. */
export interface PublisherStats {
  /** Subscribers connected now. */
  subscribers: number
  /** `publish()` calls that went out. */
  published: number
  /** Messages handed to subscribers' transports. */
  delivered: number
  /** Messages lost for some subscriber (drop policies, a subscriber closed while they waited), all told. */
  dropped: number
  /** Subscribers closed with `ERR_IPC_SLOW_CONSUMER` (`disconnect`, or `block` past `maxBlock`). */
  slowClosed: number
}

/** The sending side of publish/subscribe. */
export interface Publisher<T = unknown> extends AsyncDisposable {
  /** The address subscribers connect to, when the publisher listens. */
  readonly address: string | undefined
  /**
   * Sends `message` to every subscriber whose patterns match `topic` (concrete: no wildcards).
   * Resolves at once while every matching subscriber has room; under `block` it waits for the
   * full ones, each at most `maxBlock` (then that one is closed and the others go on). Calls
   * resolve in order. An abort or timeout from `options` ends the wait; the message is then
   * counted as dropped for the subscribers still full.
   */
  publish(topic: string, message: T, options?: WaitOptions): Promise<void>
  /** Adds a subscriber that is already connected (a `spawn()` pipe, one end of `memoryPair()`). */
  attach(transport: Transport<any, any>): void
  /** Subscribers connected now (those that sent their subscription). */
  readonly subscribers: number
  /** A snapshot of the counters. */
  readonly stats: PublisherStats
  /** Stops accepting, lets every subscriber's queue go out (each transport's `closeTimeout`), then closes them and the listener. */
  close(): Promise<void>
}

/**
 * A publisher accepting subscribers at `source`: an address (the publisher listens there and
 * owns the listener) or a `Listener` (the publisher takes every connection it accepts and closes
 * it with itself); `undefined` for one that only takes {@link Publisher.attach}ed transports.
 *
 * @example
 * ```ts
 * const pub = await publisher<Price>('unix:/run/prices.sock', { slow: 'drop-oldest' })
 * await pub.publish('prices.eu.ACME', { bid: 10.5 })
 * ```
 */
export async function publisher<T = unknown>(source: string | Listener<any, any> | undefined, options: PublisherOptions = {}): Promise<Publisher<T>> {
  const settings = publisherSettings(options)
  const listener = source === undefined ? undefined : await listenerOf(source, options.listen, 'publisher()')
  return new Pub<T>(listener, settings)
}

interface PublisherSettings {
  slow: SlowPolicy
  limit: number
  maxBlock: number
}

function publisherSettings(options: PublisherOptions): PublisherSettings {
  const slow = options.slow ?? 'block'
  if (!SLOW_POLICIES.includes(slow)) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `slow must be one of ${SLOW_POLICIES.join(', ')}, got ${String(slow)}`)
  const maxBlock = options.maxBlock ?? 10_000
  checkTimeout(maxBlock)
  return { slow, limit: positive('limit', options.limit, 1024), maxBlock }
}

class Pub<T> implements Publisher<T> {
  private readonly index = new TopicIndex<Outlet>()
  private readonly outlets = new Set<Outlet>()
  private readonly joining = new Set<Transport<unknown, unknown>>()
  private tail: Promise<void> | undefined
  private closing: Promise<void> | undefined
  private published = 0
  private retiredDelivered = 0
  private retiredDropped = 0
  private droppedHere = 0
  private slowClosed = 0

  constructor(
    private readonly listener: Listener<any, any> | undefined,
    private readonly settings: PublisherSettings,
  ) {
    if (listener) void acceptEach(listener, (t) => this.attach(t), 'publisher')
  }

  get address(): string | undefined {
    return this.listener?.address
  }

  get subscribers(): number {
    return this.outlets.size
  }

  get stats(): PublisherStats {
    let delivered = this.retiredDelivered
    let dropped = this.retiredDropped + this.droppedHere
    for (const o of this.outlets) {
      delivered += o.delivered
      dropped += o.dropped
    }
    return { subscribers: this.outlets.size, published: this.published, delivered, dropped, slowClosed: this.slowClosed }
  }

  publish(topic: string, message: T, options?: WaitOptions): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new IpcError('ERR_IPC_CLOSED', 'publish: the publisher is closed'))
    try {
      checkTopic(topic)
      if (options !== undefined) {
        checkTimeout(options.timeout)
        if (options.signal?.aborted) return Promise.reject(abortError(options.signal, 'publish'))
      }
    } catch (err) {
      return Promise.reject(err)
    }
    if (this.tail === undefined) {
      const full = this.fanOut(topic, message)
      if (full === undefined) return RESOLVED
      return this.chain(this.waitFor(full, topic, message, options))
    }
    const run = (): Promise<void> => {
      const full = this.fanOut(topic, message)
      return full === undefined ? RESOLVED : this.waitFor(full, topic, message, options)
    }
    return this.chain(this.tail.then(run, run))
  }

  attach(transport: Transport<any, any>): void {
    if (this.closing !== undefined) {
      void transport.close()
      return
    }
    this.joining.add(transport)
    void this.serve(transport)
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.listener?.close()
      for (const t of this.joining) void t.close()
      await Promise.all([...this.outlets].map((o) => o.close()))
    })()
    return this.closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** Offers the message to every match; returns the outlets that were full under `block`, if any. */
  private fanOut(topic: string, message: T): Outlet[] | undefined {
    this.published++
    const matches = this.index.match(topic)
    let full: Outlet[] | undefined
    for (let k = 0; k < matches.length; k++) {
      const outlet = matches[k]!
      if (outlet.offer(topic, message) === 'full') (full ??= []).push(outlet)
    }
    return full
  }

  /** Waits until each full outlet takes the message, each at most `maxBlock` in all. */
  private async waitFor(full: Outlet[], topic: string, message: T, options: WaitOptions | undefined): Promise<void> {
    const started = Date.now()
    const deadline = options?.timeout === undefined ? Number.POSITIVE_INFINITY : started + options.timeout
    for (let k = 0; k < full.length; k++) {
      const outlet = full[k]!
      for (;;) {
        const now = Date.now()
        const left = Math.min(started + this.settings.maxBlock, deadline) - now
        const outcome = left <= 0 ? 'time' : await roomWithin(outlet, left, options?.signal)
        if (outcome === 'time' && now < deadline && started + this.settings.maxBlock <= deadline) {
          outlet.slow(`publish() waited ${this.settings.maxBlock} ms for it (maxBlock, policy "block")`)
          break
        }
        if (outcome !== 'room') {
          // the caller gave up: the message is lost for the subscribers still full
          this.droppedHere += full.length - k
          debug('pubsub: publish to %s abandoned (%s); %d subscriber(s) miss it', topic, outcome, full.length - k)
          throw outcome === 'aborted' ? abortError(options!.signal!, 'publish') : timeoutError(options!.timeout!, 'publish')
        }
        if (outlet.offer(topic, message) !== 'full') break
      }
    }
  }

  private chain(p: Promise<void>): Promise<void> {
    this.tail = p
    const clear = (): void => {
      if (this.tail === p) this.tail = undefined
    }
    p.then(clear, clear)
    return p
  }

  /** Reads one subscriber's SUB/UNSUB envelopes for as long as it is connected. */
  private async serve(t: Transport<unknown, unknown>): Promise<void> {
    let outlet: Outlet | undefined
    try {
      for (;;) {
        const env = parseSubscriberEnvelope(await t.receive())
        if (typeof env === 'string') return this.refuse(t, env)
        if (env[0] === P.SUB) {
          if (outlet === undefined) {
            outlet = this.join(t, env)
            this.joining.delete(t)
          }
          if (outlet.patterns.size + env[2].length > MAX_PATTERNS) return this.refuse(t, `more than ${MAX_PATTERNS} patterns`)
          for (const p of env[2]) {
            outlet.patterns.add(p)
            this.index.add(p, outlet)
          }
        } else if (outlet !== undefined) {
          for (const p of (env as UnsubEnvelope)[2]) {
            if (outlet.patterns.delete(p)) this.index.remove(p, outlet)
          }
        }
        await t.send([P.ACK, env[1]])
      }
    } catch (err) {
      if (!isIpcError(err, 'ERR_IPC_CLOSED') && !isIpcError(err, 'ERR_IPC_PEER_EXITED')) debug('pubsub: a subscriber failed: %s', (err as Error)?.message)
    } finally {
      this.joining.delete(t)
      if (outlet !== undefined) outlet.end()
      else void t.close()
    }
  }

  private join(t: Transport<unknown, unknown>, env: SubEnvelope): Outlet {
    const limit = Math.min(env[4] ?? this.settings.limit, this.settings.limit)
    const outlet = new Outlet(t, env[3] ?? this.settings.slow, limit, (o) => this.leave(o))
    this.outlets.add(outlet)
    return outlet
  }

  private leave(outlet: Outlet): void {
    if (!this.outlets.delete(outlet)) return
    this.index.removeAll(outlet, outlet.patterns)
    this.retiredDelivered += outlet.delivered
    this.retiredDropped += outlet.dropped
    if (outlet.closedAsSlow) this.slowClosed++
  }

  /** A hostile or broken subscriber: told why (`ERR_IPC_DECODE`), then only its transport closes. */
  private refuse(t: Transport<unknown, unknown>, why: string): void {
    debug('pubsub: a malformed subscriber envelope (%s); closing that subscriber', why)
    t.send([P.BYE, 'ERR_IPC_DECODE', why]).catch(() => {})
    void t.close()
  }
}

function roomWithin(outlet: Outlet, ms: number, signal: AbortSignal | undefined): Promise<'room' | 'time' | 'aborted'> {
  return new Promise((resolve) => {
    const timer = setTimeout(finish, ms, 'time')
    const onAbort = (): void => finish('aborted')
    signal?.addEventListener('abort', onAbort, { once: true })
    outlet.room().then(() => finish('room'))
    function finish(outcome: 'room' | 'time' | 'aborted'): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      resolve(outcome)
    }
  })
}

// ---- the subscriber ----

/** Options of {@link subscriber}. */
export interface SubscriberOptions {
  /**
   * The policy this subscriber asks for when it falls behind.
   * @defaultValue the publisher's `slow`
   */
  slow?: SlowPolicy
  /** Messages that may wait for it at the publisher (at most the publisher's `limit`, which is the default). */
  limit?: number
  /** Options of the transport, when `subscriber()` is given an address. */
  transport?: ConnectOptions
}

/** One message as a subscriber gets it. */
export interface Delivery<T = unknown> {
  /** The concrete topic it was published on. */
  topic: string
  /** The message. */
  message: T
  /** Messages this subscriber lost since the previous delivery (0 normally): its slow policy dropped them. */
  dropped: number
}

/** Counters of a subscriber. */
export interface SubscriberStats {
  /** Messages received. */
  received: number
  /** Messages the publisher dropped for this subscriber, as told so far (also drops no message has followed yet). */
  dropped: number
}

/** The receiving side of publish/subscribe: iterate it for {@link Delivery}s. */
export interface Subscriber<T = unknown> extends AsyncIterable<Delivery<T>>, AsyncDisposable {
  /** Resolves once the publisher has the first patterns in force (messages published after it match them); rejects when connecting fails. */
  readonly ready: Promise<void>
  /** The next message. After the publisher closed, rejects with `ERR_IPC_CLOSED` (or `ERR_IPC_SLOW_CONSUMER` when it closed this one as slow). */
  receive(options?: WaitOptions): Promise<Delivery<T>>
  /** Adds patterns; resolves once they are in force. Messages already ahead of the acknowledgment must be read first when more than the transport's `highWaterMark` wait. */
  subscribe(patterns: string | string[]): Promise<void>
  /** Removes patterns; resolves once they are out of force (messages already on their way still arrive). */
  unsubscribe(patterns: string | string[]): Promise<void>
  /** A snapshot of the counters. */
  readonly stats: SubscriberStats
  /** Closes the transport. */
  close(): Promise<void>
}

/**
 * A subscriber to the publisher at `source` (an address, or a connected transport) for the topic
 * `patterns` (`*` matches one token, a final `>` the rest). Returns at once; connecting and the
 * subscription happen in the background (`ready`).
 *
 * @example
 * ```ts
 * for await (const { topic, message, dropped } of subscriber<Price>('unix:/run/prices.sock', 'prices.eu.>')) {
 *   if (dropped > 0) console.warn(`missed ${dropped}`)
 *   show(topic, message)
 * }
 * ```
 */
export function subscriber<T = unknown>(source: string | Transport<any, any>, patterns: string | string[], options: SubscriberOptions = {}): Subscriber<T> {
  const list = patternList(patterns)
  if (options.slow !== undefined && !SLOW_POLICIES.includes(options.slow)) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `slow must be one of ${SLOW_POLICIES.join(', ')}, got ${String(options.slow)}`)
  }
  const limit = options.limit === undefined ? undefined : positive('limit', options.limit, 1)
  return new Sub<T>(transportOf(source, options.transport, 'subscriber()'), list, options.slow, limit)
}

function patternList(patterns: string | string[]): string[] {
  const list = typeof patterns === 'string' ? [patterns] : patterns
  if (!Array.isArray(list) || list.length > MAX_PATTERNS)
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `patterns must be a string or an array of at most ${MAX_PATTERNS}`)
  for (const p of list) checkPattern(p)
  return [...list]
}

/** Deliveries read ahead of the application (so acknowledgments are seen while it does not read). */
const READ_AHEAD = 32

class Sub<T> implements Subscriber<T> {
  readonly ready: Promise<void>
  private transport: Transport<unknown, unknown> | undefined
  private readonly opened: Promise<Transport<unknown, unknown>>
  private readonly box = new Mailbox<Delivery<T>>()
  private readonly acks = new Map<number, () => void>()
  private seq = 0
  private reading = false
  private received = 0
  private dropped = 0
  /** Drops told by DROPS envelopes, not yet given out with a delivery. */
  private untold = 0

  constructor(opening: Promise<Transport<unknown, unknown>>, patterns: string[], slow: SlowPolicy | undefined, limit: number | undefined) {
    this.opened = opening
    this.ready = opening.then((t) => {
      this.transport = t
      const env: unknown[] = [P.SUB, this.seq++, patterns]
      if (slow !== undefined || limit !== undefined) env.push(slow ?? null, limit ?? null)
      const acked = this.ackOf(env[1] as number)
      void this.read()
      return t.send(env).then(() => acked)
    })
    this.ready.catch((err) => this.end(err as IpcError))
  }

  get stats(): SubscriberStats {
    return { received: this.received, dropped: this.dropped }
  }

  receive(options?: WaitOptions): Promise<Delivery<T>> {
    const next = this.box.receive(options, 'receive')
    if (!this.reading && this.box.ended === undefined) void this.read() // room again for reading ahead
    return next
  }

  [Symbol.asyncIterator](): AsyncIterator<Delivery<T>> {
    return {
      next: () =>
        this.receive().then(
          (value) => ({ value, done: false }),
          (err) => {
            if (this.box.endedCleanly && this.box.length === 0) return { value: undefined, done: true }
            throw err
          },
        ),
      return: async () => {
        await this.close()
        return { value: undefined, done: true }
      },
    }
  }

  subscribe(patterns: string | string[]): Promise<void> {
    return this.change(P.SUB, patterns)
  }

  unsubscribe(patterns: string | string[]): Promise<void> {
    return this.change(P.UNSUB, patterns)
  }

  async close(): Promise<void> {
    const t = await this.opened.catch(() => undefined)
    this.end(new IpcError('ERR_IPC_CLOSED', 'receive: the subscriber is closed'), true)
    await t?.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  private async change(kind: typeof P.SUB | typeof P.UNSUB, patterns: string | string[]): Promise<void> {
    const list = patternList(patterns)
    await this.ready
    if (this.box.ended !== undefined) throw this.box.ended
    const seq = this.seq++
    const acked = this.ackOf(seq)
    await this.transport!.send([kind, seq, list])
    await acked
  }

  private ackOf(seq: number): Promise<void> {
    const acked = new Promise<void>((resolve, reject) => {
      this.acks.set(seq, resolve)
      this.pendingRejects.set(seq, reject)
    })
    acked.catch(() => {}) // whoever waits for it sees the rejection; nobody waiting is fine
    return acked
  }

  private readonly pendingRejects = new Map<number, (e: unknown) => void>()

  /** Reads envelopes while fewer than READ_AHEAD deliveries wait. */
  private async read(): Promise<void> {
    if (this.reading || this.transport === undefined) return
    this.reading = true
    const t = this.transport
    try {
      while (this.box.ended === undefined && this.box.length < READ_AHEAD) {
        const env = parsePublisherEnvelope(await t.receive())
        if (typeof env === 'string') {
          debug('pubsub: a malformed publisher envelope (%s); closing', env)
          void t.close()
          this.end(new IpcError('ERR_IPC_DECODE', `subscriber: the publisher sent a malformed envelope: ${env}`))
          return
        }
        switch (env[0]) {
          case P.DROPS:
            this.dropped += env[1]
            this.untold += env[1]
            break
          case P.MSG: {
            const carried = env.length === 4 ? env[3] : 0
            const dropped = carried + this.untold
            this.untold = 0
            this.received++
            this.dropped += carried
            this.box.put({ topic: env[1], message: env[2] as T, dropped })
            break
          }
          case P.ACK: {
            const done = this.acks.get(env[1])
            this.acks.delete(env[1])
            this.pendingRejects.delete(env[1])
            done?.()
            break
          }
          case P.BYE: {
            void t.close()
            if (env[1] === null) this.end(new IpcError('ERR_IPC_CLOSED', 'receive: the publisher closed'), true)
            else if (env[1] === 'ERR_IPC_SLOW_CONSUMER')
              this.end(new IpcError('ERR_IPC_SLOW_CONSUMER', `the publisher closed this subscriber as slow: ${env[2]}`))
            else if (env[1] === 'ERR_IPC_DECODE') this.end(new IpcError('ERR_IPC_DECODE', `the publisher refused this subscriber: ${env[2]}`))
            else this.end(new IpcError('ERR_IPC_CLOSED', `the publisher closed this subscriber (${String(env[1]).slice(0, 64)}): ${env[2]}`))
            return
          }
        }
      }
    } catch (err) {
      this.end(readError(err))
    } finally {
      this.reading = false
    }
  }

  private end(err: IpcError, cleanly = false): void {
    if (!this.box.end(err, cleanly)) return
    for (const reject of this.pendingRejects.values()) reject(err)
    this.pendingRejects.clear()
    this.acks.clear()
  }
}
