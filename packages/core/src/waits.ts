import { IpcError } from './errors.js'
import { Queue } from './queue.js'

/** Options every waiting call accepts. */
export interface WaitOptions {
  /** Cancels the wait: it rejects with `ERR_IPC_ABORTED`. */
  signal?: AbortSignal
  /** Milliseconds before the wait rejects with `ERR_IPC_TIMEOUT`. */
  timeout?: number
}

/** The error an aborted wait rejects with; the signal's reason becomes `cause`. */
export function abortError(signal: AbortSignal, what: string): IpcError {
  return new IpcError('ERR_IPC_ABORTED', `${what} was aborted`, { cause: signal.reason })
}

/** The error a timed-out wait rejects with. */
export function timeoutError(ms: number, what: string): IpcError {
  return new IpcError('ERR_IPC_TIMEOUT', `${what} timed out after ${ms} ms`)
}

/** Throws `ERR_IPC_INVALID_ARGUMENT` unless `timeout` is undefined or a finite number ≥ 0. */
export function checkTimeout(timeout: number | undefined): void {
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0 && Number.isFinite(timeout))) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `timeout must be a finite number ≥ 0, got ${String(timeout)}`)
  }
}

/**
 * Why a wait of `what` cannot start: a bad `timeout` (`ERR_IPC_INVALID_ARGUMENT`) or a signal
 * aborted already (`ERR_IPC_ABORTED`); `undefined` when it can. For operations that reject rather
 * than throw.
 */
export function refusedWait(options: WaitOptions | undefined, what: string): IpcError | undefined {
  if (options === undefined) return undefined
  try {
    checkTimeout(options.timeout)
  } catch (err) {
    return err as IpcError
  }
  return options.signal?.aborted ? abortError(options.signal, what) : undefined
}

/**
 * Arms `options.signal` and `options.timeout` around one pending operation. `cancel(err)` is called
 * at most once, when either fires; the returned function disarms both (call it when the operation
 * settles by itself).
 */
export function armWait(options: WaitOptions | undefined, what: string, cancel: (err: IpcError) => void): () => void {
  if (!options) return noop
  const { signal, timeout } = options
  if (signal === undefined && timeout === undefined) return noop
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const disarm = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    if (onAbort) signal!.removeEventListener('abort', onAbort)
    timer = undefined
    onAbort = undefined
  }
  if (signal) {
    onAbort = () => {
      disarm()
      cancel(abortError(signal, what))
    }
    signal.addEventListener('abort', onAbort, { once: true })
  }
  if (timeout !== undefined) {
    timer = setTimeout(() => {
      disarm()
      cancel(timeoutError(timeout, what))
    }, timeout)
  }
  return disarm
}

/** Settles `promise` normally, or rejects when `options` abort or time out first. */
export function withWait<T>(promise: Promise<T>, options: WaitOptions | undefined, what: string): Promise<T> {
  checkTimeout(options?.timeout)
  if (options?.signal?.aborted) return Promise.reject(abortError(options.signal, what))
  if (!options || (options.signal === undefined && options.timeout === undefined)) return promise
  return new Promise<T>((resolve, reject) => {
    const disarm = armWait(options, what, reject)
    promise.then(
      (v) => {
        disarm()
        resolve(v)
      },
      (e) => {
        disarm()
        reject(e)
      },
    )
  })
}

function noop(): void {}

/** One call waiting in a {@link Waiters} queue. */
interface Waiter {
  /** An async iterator's `next()`: settled with `{ value, done }` instead of the bare value. */
  iterator: boolean
  resolve(value: unknown): void
  reject(err: IpcError): void
  disarm(): void
}

/**
 * Calls waiting for a value, in order (`receive()`, `accept()`, and their async-iterator forms):
 * each armed with its own `signal`/`timeout`, which removes it from the queue and rejects it. The
 * producer hands values to the oldest with {@link Waiters.resolveNext}; closing settles them all.
 */
export class Waiters<T> {
  private readonly queue = new Queue<Waiter>()

  /** Waiting calls. */
  get length(): number {
    return this.queue.length
  }

  /**
   * A promise for the next value handed to {@link Waiters.resolveNext} (as `{ value, done: false }`
   * when `iterator`), or the abort/timeout of `options` (named `what` in errors). Throws
   * `ERR_IPC_INVALID_ARGUMENT` synchronously for a bad timeout.
   */
  wait(options: WaitOptions | undefined, what: string, iterator = false): Promise<any> {
    if (options !== undefined) {
      checkTimeout(options.timeout)
      if (options.signal?.aborted) return Promise.reject(abortError(options.signal, what))
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { iterator, resolve, reject, disarm: noop }
      if (options !== undefined) {
        waiter.disarm = armWait(options, what, (err) => {
          this.queue.remove(waiter)
          reject(err)
        })
      }
      this.queue.push(waiter)
    })
  }

  /** Settles the oldest waiting call with `value`; returns `false` if nobody waits. */
  resolveNext(value: T): boolean {
    const waiter = this.queue.shift()
    if (waiter === undefined) return false
    waiter.disarm()
    waiter.resolve(waiter.iterator ? { value, done: false } : value)
    return true
  }

  /**
   * Settles every waiting call with `error`, except iterators, which get `done` when
   * `iteratorsDone` (a clean end).
   */
  settleAll(error: IpcError, iteratorsDone: boolean): void {
    for (let w = this.queue.shift(); w !== undefined; w = this.queue.shift()) {
      w.disarm()
      if (w.iterator && iteratorsDone) w.resolve({ value: undefined, done: true })
      else w.reject(error)
    }
  }
}
