import { IpcError } from './errors.js'
import { Queue } from './queue.js'
import type { Transport } from './transport.js'
import { type WaitOptions, abortError, armWait, checkTimeout } from './waits.js'

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
  /** Hands a new connection to the application (closed at once if the listener is closed or its backlog is full). */
  offer(transport: Transport<Out, In>): void
  /** `true` once the listener is closed. */
  readonly isClosed: boolean
}

interface PendingAccept {
  iterator: boolean
  resolve(value: unknown): void
  reject(err: IpcError): void
  disarm(): void
}

/**
 * Builds a {@link Listener} around a mechanism's accept loop. Connections not yet accepted wait in
 * a backlog of at most `backlog` (default 128); past that a new connection is closed at once.
 */
export function createListener<Out = unknown, In = unknown>(source: ListenerSource, backlog = 128): ListenerControl<Out, In> {
  const ready = new Queue<Transport<Out, In>>()
  const waiting = new Queue<PendingAccept>()
  let closing: Promise<void> | undefined
  let resolveClosed!: () => void
  const closed = new Promise<void>((r) => (resolveClosed = r))

  const wait = (iterator: boolean, options?: WaitOptions): Promise<unknown> => {
    const next = ready.shift()
    if (next !== undefined) return Promise.resolve(iterator ? { value: next, done: false } : next)
    if (closing) {
      return iterator ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(new IpcError('ERR_IPC_CLOSED', 'accept: the listener is closed'))
    }
    checkTimeout(options?.timeout)
    if (options?.signal?.aborted) return Promise.reject(abortError(options.signal, 'accept'))
    return new Promise((resolve, reject) => {
      const pending: PendingAccept = { iterator, resolve, reject, disarm: () => {} }
      pending.disarm = armWait(options, 'accept', (err) => {
        waiting.remove(pending)
        reject(err)
      })
      waiting.push(pending)
    })
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
        for (let p = waiting.shift(); p !== undefined; p = waiting.shift()) {
          p.disarm()
          if (p.iterator) p.resolve({ value: undefined, done: true })
          else p.reject(new IpcError('ERR_IPC_CLOSED', 'accept: the listener is closed'))
        }
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
    async [Symbol.asyncDispose]() {
      await listener.close()
    },
  }

  return {
    listener,
    get isClosed() {
      return closing !== undefined
    },
    offer(transport) {
      if (closing || ready.length >= backlog) {
        void transport.close()
        return
      }
      const pending = waiting.shift()
      if (pending === undefined) {
        ready.push(transport)
        return
      }
      pending.disarm()
      pending.resolve(pending.iterator ? { value: transport, done: false } : transport)
    },
  }
}
