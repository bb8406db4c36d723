import { announceConnection } from './diagnostics.js'
import { debug } from './debug.js'
import { IpcError } from './errors.js'
import { Queue } from './queue.js'
import type { Transport } from './transport.js'
import { type WaitOptions, Waiters } from './waits.js'

/** The default backlog of every listener: connections made but not yet accepted (as `net.Server`). */
export const DEFAULT_BACKLOG = 511

/** Counters of one listener. */
export interface ListenerStats {
  /** Connections handed to the application so far. */
  accepted: number
  /** Handshakes refused (malformed, unauthorised, over the backlog, or failed while opening); each reason is logged with `NODE_DEBUG=ipc`. */
  rejected: number
  /** Connections made and waiting for `accept()`. */
  queued: number
}

/**
 * Accepts connections at an address. Iterate it (`for await (const conn of listener)`) or call
 * {@link Listener.accept}. Closing a listener stops new connections and releases its rendezvous
 * objects (socket file, well-known FIFO, server queue, …); connections already accepted stay open.
 */
export interface Listener<Out = unknown, In = unknown> extends AsyncIterable<Transport<Out, In>>, AsyncDisposable {
  /** The address clients connect to (with the actual port for `tcp://…:0`). */
  readonly address: string
  /** The next connection. Rejects with `ERR_IPC_CLOSED` once the listener is closed. */
  accept(options?: WaitOptions): Promise<Transport<Out, In>>
  /** Stops accepting, closes connections not yet accepted, and releases the rendezvous objects. */
  close(): Promise<void>
  /** Resolves when the listener has closed. */
  readonly closed: Promise<void>
  /** A snapshot of the counters. */
  readonly stats: ListenerStats
}

/** What a mechanism supplies to {@link createListener}. */
export interface ListenerSource {
  /** The address to report. */
  address: string
  /** Stop accepting and release the rendezvous objects. */
  close(): Promise<void>
}

/** The mechanism's handle on a listener made by {@link createListener}. */
export interface ListenerControl<Out, In> {
  /** The listener to give the application. */
  listener: Listener<Out, In>
  /**
   * Hands a new connection to the application. Past the backlog (or once the listener is closed)
   * it is closed at once and counted as rejected; mechanisms that can leave a client waiting
   * instead check {@link ListenerControl.full} before they take the next handshake.
   */
  offer(transport: Transport<Out, In>): void
  /** Counts a refused handshake and logs `reason` (`NODE_DEBUG=ipc`). */
  reject(reason: unknown): void
  /** `true` while the backlog is full: take no new handshake until {@link ListenerControl.onRoom} fires. */
  readonly full: boolean
  /** Calls `listener` each time `accept()` makes room in a full backlog. */
  onRoom(listener: () => void): void
  /** `true` once the listener is closed. */
  readonly isClosed: boolean
}

/**
 * Builds a {@link Listener} around a mechanism's accept loop. Connections not yet accepted wait in
 * a backlog of at most `backlog` (default {@link DEFAULT_BACKLOG}).
 */
export function createListener<Out = unknown, In = unknown>(source: ListenerSource, backlog = DEFAULT_BACKLOG): ListenerControl<Out, In> {
  const ready = new Queue<Transport<Out, In>>()
  const waiting = new Waiters<Transport<Out, In>>()
  const roomListeners: (() => void)[] = []
  let closing: Promise<void> | undefined
  let resolveClosed!: () => void
  const closed = new Promise<void>((r) => (resolveClosed = r))
  let accepted = 0
  let rejected = 0

  const take = (): Transport<Out, In> | undefined => {
    const wasFull = ready.length >= backlog
    const next = ready.shift()
    if (next !== undefined) {
      accepted++
      if (wasFull) for (const l of roomListeners) l()
    }
    return next
  }

  const wait = (iterator: boolean, options?: WaitOptions): Promise<unknown> => {
    const next = take()
    if (next !== undefined) return Promise.resolve(iterator ? { value: next, done: false } : next)
    if (closing) {
      return iterator ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(new IpcError('ERR_IPC_CLOSED', 'accept: the listener is closed'))
    }
    return waiting.wait(options, 'accept', iterator)
  }

  const listener: Listener<Out, In> = {
    get address() {
      return source.address
    },
    accept: (options) => wait(false, options) as Promise<Transport<Out, In>>,
    [Symbol.asyncIterator]: () => ({
      next: () => wait(true) as Promise<IteratorResult<Transport<Out, In>>>,
      return: () => Promise.resolve({ value: undefined, done: true }),
    }),
    close() {
      if (closing) return closing
      closing = (async () => {
        waiting.settleAll(new IpcError('ERR_IPC_CLOSED', 'accept: the listener is closed'), true)
        const unaccepted: Promise<void>[] = []
        for (let t = ready.shift(); t !== undefined; t = ready.shift()) unaccepted.push(t.close())
        try {
          await source.close()
        } finally {
          await Promise.allSettled(unaccepted)
          resolveClosed()
        }
      })()
      return closing
    },
    closed,
    get stats() {
      return { accepted, rejected, queued: ready.length }
    },
    async [Symbol.asyncDispose]() {
      await listener.close()
    },
  }

  const control: ListenerControl<Out, In> = {
    listener,
    get isClosed() {
      return closing !== undefined
    },
    get full() {
      return ready.length >= backlog
    },
    onRoom(l) {
      roomListeners.push(l)
    },
    reject(reason) {
      rejected++
      debug('%s: refused a connection: %s', source.address, reason instanceof Error ? reason.message : String(reason))
    },
    offer(transport) {
      if (closing || ready.length >= backlog) {
        control.reject(closing ? 'the listener is closed' : `the backlog (${backlog}) is full`)
        void transport.close()
        return
      }
      announceConnection(source.address, 'listener', transport)
      if (waiting.resolveNext(transport)) accepted++
      else ready.push(transport)
    },
  }
  return control
}
