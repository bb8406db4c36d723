/**
 * Work queues: a pusher hands jobs to pullers, each only as many as it gave credit for, round
 * robin among those with credit. With `ack: true` a job stays the pusher's until its puller
 * acknowledges it: a puller that dies (or fails the job) gives it back, and it goes to another.
 */
import { type ConnectOptions, IpcError, type ListenOptions, type Listener, type Transport, type WaitOptions, isIpcError } from '@ipc/core'
import { armWait, debug, refusedWait } from '@ipc/core/mechanism'
import { Fifo } from './fifo.js'
import { Mailbox, readError } from './mailbox.js'
import { MAX_CREDIT, W, parsePullerEnvelope, parsePusherEnvelope } from './pipeline-wire.js'
import { acceptEach, listenerOf, positive, transportOf } from './source.js'

const RESOLVED: Promise<void> = Promise.resolve()

/** Options of {@link pusher}. */
export interface PusherOptions<T = unknown> {
  /**
   * `true`: a job is the pusher's until a puller acknowledges it; a puller that closes, dies or
   * fails the job gives it back to another (at-least-once; each job is acknowledged once).
   * `false` (default): a job is done once handed to a puller (at-most-once), with backpressure.
   * @defaultValue `false`
   */
  ack?: boolean
  /**
   * With `ack`: deliveries of one job before it goes to `onDeadLetter` instead.
   * @defaultValue `5`
   */
  maxAttempts?: number
  /** With `ack`: gets a job that used up `maxAttempts` (otherwise it is dropped, logged with `NODE_DEBUG=ipc`). */
  onDeadLetter?: (job: T, reason: string) => void
  /** Options of the listener, when `pusher()` is given an address. */
  listen?: ListenOptions
}

/** Counters of a pusher. */
export interface PusherStats {
  /** Pullers connected now. */
  workers: number
  /** `push()` calls accepted. */
  pushed: number
  /** Jobs handed to pullers (redeliveries included). */
  delivered: number
  /** Jobs acknowledged (with `ack`). */
  acked: number
  /** Jobs handed to a puller again after one gave them back. */
  redelivered: number
  /** Jobs given to `onDeadLetter` (or dropped) after `maxAttempts`. */
  deadLettered: number
  /** Jobs waiting for a puller with credit. */
  waiting: number
  /** Jobs with a puller and not yet acknowledged (with `ack`). */
  inFlight: number
}

/** The sending side of a work queue. */
export interface Pusher<T = unknown> extends AsyncDisposable {
  /** The address pullers connect to, when the pusher listens. */
  readonly address: string | undefined
  /** Queues a job; resolves once a puller with credit has it (it waits while none has: backpressure). In order. */
  push(job: T, options?: WaitOptions): Promise<void>
  /** Adds a puller that is already connected (a `spawn()` pipe, one end of `memoryPair()`). */
  attach(transport: Transport<any, any>): void
  /** Resolves once no job waits and (with `ack`) every job handed out is acknowledged or dead-lettered. */
  drain(options?: WaitOptions): Promise<void>
  /** Pullers connected now. */
  readonly workers: number
  /** A snapshot of the counters. */
  readonly stats: PusherStats
  /** Stops accepting; jobs not yet handed out reject their `push()` with `ERR_IPC_CLOSED`; pullers are told and closed. Call `drain()` first to finish the work. */
  close(): Promise<void>
}

interface Pending<T> {
  id: number
  job: T
  attempt: number
  resolve?: () => void
  reject?: (err: unknown) => void
  disarm?: () => void
}

interface Worker<T> {
  transport: Transport<unknown, unknown>
  credit: number
  /** With `ack`: jobs it holds, by id. */
  held: Map<number, Pending<T>>
  open: boolean
}

/**
 * A pusher handing jobs to the pullers that connect at `source` (an address it listens on, or a
 * `Listener`), or `undefined` for one that only takes {@link Pusher.attach}ed transports.
 *
 * @example
 * ```ts
 * const jobs = await pusher<Resize>('unix:/run/resize.sock', { ack: true })
 * for (const file of files) await jobs.push({ file, width: 800 })
 * await jobs.drain()
 * ```
 */
export async function pusher<T = unknown>(source: string | Listener<any, any> | undefined, options: PusherOptions<T> = {}): Promise<Pusher<T>> {
  const maxAttempts = positive('maxAttempts', options.maxAttempts, 5)
  if (options.onDeadLetter !== undefined && typeof options.onDeadLetter !== 'function') {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', 'onDeadLetter must be a function')
  }
  const listener = source === undefined ? undefined : await listenerOf(source, options.listen, 'pusher()')
  return new Push<T>(listener, options.ack === true, maxAttempts, options.onDeadLetter)
}

class Push<T> implements Pusher<T> {
  private readonly waitingJobs = new Fifo<Pending<T>>()
  private readonly pool: Worker<T>[] = []
  private turn = 0
  private nextId = 0
  private closing: Promise<void> | undefined
  private drainWaiters: (() => void)[] = []
  private inFlight = 0
  private counts = { pushed: 0, delivered: 0, acked: 0, redelivered: 0, deadLettered: 0 }

  constructor(
    private readonly listener: Listener<any, any> | undefined,
    private readonly ack: boolean,
    private readonly maxAttempts: number,
    private readonly onDeadLetter: ((job: T, reason: string) => void) | undefined,
  ) {
    if (listener) void acceptEach(listener, (t) => this.attach(t), 'pusher')
  }

  get address(): string | undefined {
    return this.listener?.address
  }

  get workers(): number {
    return this.pool.length
  }

  get stats(): PusherStats {
    return { workers: this.pool.length, ...this.counts, waiting: this.waitingJobs.length, inFlight: this.inFlight }
  }

  push(job: T, options?: WaitOptions): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new IpcError('ERR_IPC_CLOSED', 'push: the pusher is closed'))
    const refused = refusedWait(options, 'push')
    if (refused) return Promise.reject(refused)
    this.counts.pushed++
    const pending: Pending<T> = { id: this.nextId++, job, attempt: 1 }
    try {
      if (this.waitingJobs.length === 0 && this.hand(pending)) return RESOLVED
    } catch (err) {
      this.counts.pushed--
      return Promise.reject(err)
    }
    return new Promise<void>((resolve, reject) => {
      pending.resolve = resolve
      pending.reject = reject
      if (options?.signal !== undefined || options?.timeout !== undefined) pending.disarm = this.arm(pending, options)
      this.waitingJobs.push(pending)
    })
  }

  attach(transport: Transport<any, any>): void {
    if (this.closing !== undefined) {
      void transport.close()
      return
    }
    void this.serve(transport)
  }

  drain(options?: WaitOptions): Promise<void> {
    if (this.idle()) return RESOLVED
    const refused = refusedWait(options, 'drain')
    if (refused) return Promise.reject(refused)
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        disarm()
        resolve()
      }
      const disarm = armWait(options, 'drain', (err) => {
        const at = this.drainWaiters.indexOf(done)
        if (at >= 0) this.drainWaiters.splice(at, 1)
        reject(err)
      })
      this.drainWaiters.push(done)
    })
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.listener?.close()
      const err = new IpcError('ERR_IPC_CLOSED', 'push: the pusher closed before a puller took this job')
      for (let p = this.waitingJobs.shift(); p !== undefined; p = this.waitingJobs.shift()) {
        p.disarm?.()
        p.reject?.(err)
      }
      await Promise.all(
        this.pool.map((w) => {
          w.open = false
          w.transport.send([W.BYE, null, 'the pusher closed']).catch(() => {})
          return w.transport.close()
        }),
      )
      this.checkDrained()
    })()
    return this.closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** Hands `p` to the next puller with credit; `false` when none has any. */
  private hand(p: Pending<T>): boolean {
    const pool = this.pool
    for (let k = 0; k < pool.length; k++) {
      const w = pool[(this.turn + k) % pool.length]!
      if (w.credit === 0 || !w.open) continue
      this.turn = (this.turn + k + 1) % pool.length
      w.credit--
      const env = [W.JOB, p.id, p.attempt, p.job]
      let sent: boolean
      try {
        sent = w.transport.trySend(env)
      } catch (err) {
        w.credit++ // this job cannot travel (unencodable, too large): the caller decides
        throw err
      }
      if (!sent) {
        if (!w.transport.isOpen) {
          w.credit++
          continue
        }
        w.transport.send(env).catch(() => this.giveBack(w, p, 'its puller closed before taking it'))
      }
      this.counts.delivered++
      if (p.attempt > 1) this.counts.redelivered++
      if (this.ack) {
        w.held.set(p.id, p)
        this.inFlight++
      }
      p.disarm?.()
      p.resolve?.()
      p.resolve = p.reject = p.disarm = undefined
      return true
    }
    return false
  }

  /** Hands waiting jobs out while pullers have credit. */
  private dispatch(): void {
    while (this.waitingJobs.length > 0) {
      const p = this.waitingJobs.peek()!
      let handed: boolean
      try {
        handed = this.hand(p)
      } catch (err) {
        handed = true // it cannot travel: its caller hears of it, or (a redelivery) the dead letters
        p.disarm?.()
        if (p.reject !== undefined) {
          this.counts.pushed--
          p.reject(err)
        } else this.deadLetter(p, (err as Error)?.message)
      }
      if (!handed) break
      this.waitingJobs.shift()
    }
    this.checkDrained()
  }

  private arm(p: Pending<T>, options: WaitOptions): () => void {
    return armWait(options, 'push', (err) => {
      if (!this.removeWaiting(p)) return
      this.counts.pushed--
      p.reject?.(err)
      this.checkDrained()
    })
  }

  private removeWaiting(p: Pending<T>): boolean {
    const kept = [...this.waitingJobs].filter((q) => q !== p)
    if (kept.length === this.waitingJobs.length) return false
    this.waitingJobs.clear()
    for (const q of kept) this.waitingJobs.push(q)
    return true
  }

  /** A job comes back (its puller died, closed or failed it): to the front, or to the dead letters. */
  private giveBack(w: Worker<T>, p: Pending<T>, reason: string): void {
    if (this.ack) {
      if (!w.held.delete(p.id)) return
      this.inFlight--
    }
    if (!this.ack && p.resolve === undefined) {
      // at-most-once: it never left this process (send() failed), so it is not lost yet
      debug('work queue: job %d did not reach its puller (%s); handed to another', p.id, reason)
    }
    if (this.closing !== undefined) {
      debug('work queue: job %d given back while closing (%s); dropped', p.id, reason)
      this.checkDrained()
      return
    }
    p.attempt++
    if (this.ack && p.attempt > this.maxAttempts) {
      this.deadLetter(p, reason)
      this.checkDrained()
      return
    }
    this.waitingJobs.unshift(p)
  }

  private deadLetter(p: Pending<T>, reason: string): void {
    this.counts.deadLettered++
    if (this.onDeadLetter === undefined) {
      debug('work queue: job %d dropped after %d attempts (%s)', p.id, p.attempt - 1, reason)
      return
    }
    try {
      this.onDeadLetter(p.job, reason)
    } catch (err) {
      debug('work queue: onDeadLetter threw: %s', (err as Error)?.message)
    }
  }

  private idle(): boolean {
    return this.waitingJobs.length === 0 && this.inFlight === 0
  }

  private checkDrained(): void {
    if (this.drainWaiters.length === 0 || !this.idle()) return
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const w of waiters) w()
  }

  /** Reads one puller's CREDIT/DONE/FAIL envelopes for as long as it is connected. */
  private async serve(t: Transport<unknown, unknown>): Promise<void> {
    const w: Worker<T> = { transport: t, credit: 0, held: new Map(), open: true }
    let joined = false
    try {
      for (;;) {
        const env = parsePullerEnvelope(await t.receive())
        if (typeof env === 'string') return this.refuse(t, env)
        switch (env[0]) {
          case W.CREDIT:
            if (w.credit + w.held.size + env[1] > MAX_CREDIT) return this.refuse(t, `more than ${MAX_CREDIT} credit`)
            w.credit += env[1]
            if (!joined) {
              joined = true
              this.pool.push(w)
            }
            break
          case W.DONE:
          case W.FAIL: {
            if (!joined) return this.refuse(t, 'a DONE before any CREDIT')
            if (this.ack) {
              const p = w.held.get(env[1])
              if (p === undefined) {
                debug('work queue: a puller answered job %d, which it does not hold; ignored', env[1])
                break
              }
              if (env[0] === W.DONE) {
                w.held.delete(env[1])
                this.inFlight--
                this.counts.acked++
              } else {
                this.giveBack(w, p, `the puller failed it: ${env[2].slice(0, 200)}`)
              }
            }
            if (w.credit + w.held.size < MAX_CREDIT) w.credit++
            break
          }
        }
        this.dispatch()
      }
    } catch (err) {
      if (!isIpcError(err, 'ERR_IPC_CLOSED') && !isIpcError(err, 'ERR_IPC_PEER_EXITED')) debug('work queue: a puller failed: %s', (err as Error)?.message)
    } finally {
      this.leave(w)
    }
  }

  private leave(w: Worker<T>): void {
    w.open = false
    const at = this.pool.indexOf(w)
    if (at >= 0) {
      this.pool.splice(at, 1)
      if (this.turn > at) this.turn--
      if (this.turn >= this.pool.length) this.turn = 0
    }
    void w.transport.close()
    // its jobs go back, in the order they were handed out
    const held = [...w.held.values()].sort((a, b) => b.id - a.id)
    for (const p of held) this.giveBack(w, p, 'its puller went away before acknowledging it')
    this.dispatch()
  }

  private refuse(t: Transport<unknown, unknown>, why: string): void {
    debug('work queue: a malformed puller envelope (%s); closing that puller', why)
    t.send([W.BYE, 'ERR_IPC_DECODE', why]).catch(() => {})
    void t.close()
  }
}

// ---- the puller ----

/** Options of {@link puller}. */
export interface PullerOptions {
  /**
   * Jobs this puller holds at once (its credit; also how many `process()` runs in parallel).
   * @defaultValue `1`
   */
  concurrency?: number
  /** Options of the transport, when `puller()` is given an address. */
  transport?: ConnectOptions
}

/** One job as a puller gets it. */
export interface Job<T = unknown> {
  /** What was pushed. */
  readonly data: T
  /** 1 for the first delivery, more when another puller gave it back. */
  readonly attempt: number
  /** Done: acknowledged (with `ack`), and the puller may take one more. Once per job. */
  ack(): void
  /** Failed: with `ack` it goes to a puller again (up to `maxAttempts`); the puller may take one more. */
  fail(reason?: string): void
}

/** Counters of a puller. */
export interface PullerStats {
  /** Jobs received. */
  received: number
  /** Jobs acknowledged. */
  acked: number
  /** Jobs failed. */
  failed: number
}

/** The working side of a work queue: iterate it (asking for the next job acknowledges the previous one), or `process()`. */
export interface Puller<T = unknown> extends AsyncIterable<Job<T>>, AsyncDisposable {
  /** Resolves once connected and the credit is sent; rejects when connecting fails. */
  readonly ready: Promise<void>
  /** The next job. Rejects with `ERR_IPC_CLOSED` once the pusher closed (iteration ends instead). */
  receive(options?: WaitOptions): Promise<Job<T>>
  /**
   * Runs `handler` for every job, up to `concurrency` at once: a resolved handler acknowledges the
   * job, a rejected one fails it. Resolves when the pusher closes.
   */
  process(handler: (data: T, job: Job<T>) => unknown): Promise<void>
  /** A snapshot of the counters. */
  readonly stats: PullerStats
  /** Closes the transport (with `ack`, jobs it holds unacknowledged go to another puller). */
  close(): Promise<void>
}

/**
 * A puller taking jobs from the pusher at `source` (an address, or a connected transport).
 * Returns at once; connecting happens in the background (`ready`).
 *
 * @example
 * ```ts
 * await puller<Resize>('unix:/run/resize.sock', { concurrency: 4 }).process(async ({ file, width }) => resize(file, width))
 * ```
 */
export function puller<T = unknown>(source: string | Transport<any, any>, options: PullerOptions = {}): Puller<T> {
  const concurrency = positive('concurrency', options.concurrency, 1)
  if (concurrency > MAX_CREDIT) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `concurrency must be at most ${MAX_CREDIT}`)
  return new Pull<T>(transportOf(source, options.transport, 'puller()'), concurrency)
}

class Pull<T> implements Puller<T> {
  readonly ready: Promise<void>
  private transport: Transport<unknown, unknown> | undefined
  private readonly opened: Promise<Transport<unknown, unknown>>
  private readonly box = new Mailbox<Job<T>>()
  /** Jobs received and not yet answered. */
  private holding = 0
  private counts = { received: 0, acked: 0, failed: 0 }

  constructor(
    opening: Promise<Transport<unknown, unknown>>,
    private readonly concurrency: number,
  ) {
    this.opened = opening
    this.ready = opening.then((t) => {
      this.transport = t
      void this.read(t)
      return t.send([W.CREDIT, concurrency])
    })
    this.ready.catch((err) => this.end(err as IpcError))
  }

  get stats(): PullerStats {
    return { ...this.counts }
  }

  receive(options?: WaitOptions): Promise<Job<T>> {
    return this.box.receive(options, 'receive')
  }

  [Symbol.asyncIterator](): AsyncIterator<Job<T>> {
    let previous: Job<T> | undefined
    return {
      next: () => {
        previous?.ack() // asking for the next one acknowledges the previous (no-op when already answered)
        previous = undefined
        return this.receive().then(
          (job) => {
            previous = job
            return { value: job, done: false }
          },
          (err) => {
            if (this.box.endedCleanly) return { value: undefined, done: true }
            throw err
          },
        )
      },
      return: async () => {
        previous?.ack()
        return { value: undefined, done: true }
      },
    }
  }

  async process(handler: (data: T, job: Job<T>) => unknown): Promise<void> {
    const running = new Set<Promise<void>>()
    for (;;) {
      let job: Job<T>
      try {
        job = await this.receive()
      } catch (err) {
        await Promise.all(running)
        if (this.box.endedCleanly) return
        throw err
      }
      const run = (async () => {
        try {
          await handler(job.data, job)
          job.ack()
        } catch (err) {
          job.fail((err as Error)?.message ?? String(err))
        }
      })()
      running.add(run)
      void run.finally(() => running.delete(run))
      if (running.size >= this.concurrency) await Promise.race(running)
    }
  }

  async close(): Promise<void> {
    const t = await this.opened.catch(() => undefined)
    this.end(new IpcError('ERR_IPC_CLOSED', 'receive: the puller is closed'), true)
    await t?.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  private job(id: number, attempt: number, data: T): Job<T> {
    let answered = false
    const answer = (env: unknown[]): void => {
      if (answered) return
      answered = true
      this.holding--
      this.transport?.send(env).catch((err) => debug('work queue: answering job %d failed: %s', id, (err as Error)?.message))
    }
    return {
      data,
      attempt,
      ack: () => {
        if (!answered) this.counts.acked++
        answer([W.DONE, id])
      },
      fail: (reason = 'failed') => {
        if (!answered) this.counts.failed++
        answer([W.FAIL, id, String(reason).slice(0, 1000)])
      },
    }
  }

  private async read(t: Transport<unknown, unknown>): Promise<void> {
    try {
      while (this.box.ended === undefined) {
        const env = parsePusherEnvelope(await t.receive())
        if (typeof env === 'string') {
          void t.close()
          return this.end(new IpcError('ERR_IPC_DECODE', `puller: the pusher sent a malformed envelope: ${env}`))
        }
        if (env[0] === W.BYE) {
          void t.close()
          if (env[1] === null) return this.end(new IpcError('ERR_IPC_CLOSED', 'receive: the pusher closed'), true)
          if (env[1] === 'ERR_IPC_DECODE') return this.end(new IpcError('ERR_IPC_DECODE', `the pusher refused this puller: ${env[2]}`))
          return this.end(new IpcError('ERR_IPC_CLOSED', `the pusher closed this puller (${String(env[1]).slice(0, 64)}): ${env[2]}`))
        }
        if (this.holding >= this.concurrency) {
          void t.close()
          return this.end(new IpcError('ERR_IPC_DECODE', `puller: the pusher sent more jobs than the credit it was given (${this.concurrency})`))
        }
        this.holding++
        this.counts.received++
        this.box.put(this.job(env[1], env[2], env[3] as T))
      }
    } catch (err) {
      this.end(readError(err))
    }
  }

  private end(err: IpcError, cleanly = false): void {
    this.box.end(err, cleanly)
  }
}
