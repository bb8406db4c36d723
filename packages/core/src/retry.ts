/**
 * Retry with exponential backoff under a wait bound (`timeout` and `signal`), for connects that
 * meet a full backlog. Independent of any mechanism: it knows attempts, errors and time.
 */
import { IpcError } from './errors.js'
import type { WaitOptions } from './waits.js'

/** How long retrying may go on when the caller gave no `timeout`, in ms. */
export const DEFAULT_MAX_RETRY_TIME = 10_000
/** The first backoff delay, in ms. */
export const DEFAULT_INITIAL_DELAY = 1
/** The largest backoff delay, in ms. */
export const DEFAULT_MAX_DELAY = 64

/** What {@link RetryOptions.onRetry} is told before each backoff wait. */
export interface RetryInfo {
  /** The error of the attempt that just failed (one `retryable` accepted). */
  error: unknown
  /** How many attempts have failed so far (1 before the first retry). */
  attempt: number
  /** The backoff wait that follows, in ms. */
  delay: number
  /** Milliseconds since the first attempt started. */
  elapsed: number
}

/** Options of {@link retryWithBackoff}. */
export interface RetryOptions<T> extends WaitOptions {
  /** What is being done, for error messages, e.g. `connect unix:/run/app.sock`. */
  what: string
  /** `true` when an attempt's error is transient and worth another attempt; any other error is thrown at once. */
  retryable: (error: unknown) => boolean
  /**
   * The bound on retrying when no `timeout` is given, in ms (`Infinity`: none). It is checked when
   * an attempt fails: attempts themselves are not cut short without a `timeout`.
   * @defaultValue {@link DEFAULT_MAX_RETRY_TIME} (10 s)
   */
  maxRetryTime?: number
  /**
   * The first backoff delay, in ms.
   * @defaultValue {@link DEFAULT_INITIAL_DELAY} (1 ms)
   */
  initialDelay?: number
  /**
   * The largest backoff delay, in ms.
   * @defaultValue {@link DEFAULT_MAX_DELAY} (64 ms)
   */
  maxDelay?: number
  /** Called before each backoff wait (for logs and counters). */
  onRetry?: (info: RetryInfo) => void
  /** Releases a value an attempt produced after the wait had already ended (timed out or aborted). */
  discard?: (value: T) => void
  /**
   * Words for an attempt's error in a timeout message.
   * @defaultValue its `code`, else its message
   */
  describe?: (error: unknown) => string
  /**
   * The random source of the jitter, `[0, 1)`.
   * @defaultValue `Math.random`
   */
  random?: () => number
}

/**
 * The wait before retry number `attempt` (1 for the first retry): `initialDelay` doubled per
 * attempt up to `maxDelay`, then jittered into its upper half (`[d/2, d]`), and never below 1 ms
 * so the loop can never spin.
 */
export function backoffDelay(attempt: number, initialDelay = DEFAULT_INITIAL_DELAY, maxDelay = DEFAULT_MAX_DELAY, random: () => number = Math.random): number {
  const base = Math.min(maxDelay, initialDelay * 2 ** Math.min(attempt - 1, 30))
  return Math.max(1, base / 2 + (random() * base) / 2)
}

function checkNonNegative(value: number | undefined, name: string, allowInfinity = false): void {
  if (value === undefined) return
  if (!(typeof value === 'number' && value >= 0 && (Number.isFinite(value) || (allowInfinity && value === Infinity)))) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${name} must be a finite number ≥ 0, got ${String(value)}`)
  }
}

function defaultDescribe(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code
  if (typeof code === 'string') return code
  return error instanceof Error ? error.message : String(error)
}

/**
 * Runs `attempt` until it succeeds, retrying the errors `options.retryable` accepts after a backoff
 * wait ({@link backoffDelay}: ~1 ms doubling to ~64 ms, jittered). The whole run — attempts and
 * waits — is bounded by `options.timeout` (then `ERR_IPC_TIMEOUT`, with the last attempt's error as
 * `cause`) and `options.signal` (then `ERR_IPC_ABORTED`, with the signal's reason as `cause`).
 * Without `timeout`, retrying stops after `maxRetryTime` (default 10 s), also with `ERR_IPC_TIMEOUT`.
 * A non-retryable error is thrown as it is.
 *
 * Each attempt gets an `AbortSignal` that fires (with the `IpcError` as reason) when the run times
 * out or is aborted; an attempt should then release what it holds and reject. A value an attempt
 * produces after that is passed to `discard`.
 */
export async function retryWithBackoff<T>(attempt: (signal: AbortSignal) => Promise<T>, options: RetryOptions<T>): Promise<T> {
  const { what, signal, timeout } = options
  checkNonNegative(timeout, 'timeout')
  checkNonNegative(options.maxRetryTime, 'maxRetryTime', true)
  checkNonNegative(options.initialDelay, 'initialDelay')
  checkNonNegative(options.maxDelay, 'maxDelay')
  if (signal?.aborted) throw new IpcError('ERR_IPC_ABORTED', `${what} was aborted`, { cause: signal.reason })
  const maxRetryTime = options.maxRetryTime ?? DEFAULT_MAX_RETRY_TIME
  const describe = options.describe ?? defaultDescribe
  const started = performance.now()
  let failures = 0
  let lastError: unknown
  const withLast = (): string => (failures === 0 ? '' : ` (${failures} attempt${failures === 1 ? '' : 's'} failed, the last with ${describe(lastError)})`)
  const errorOptions = () => (failures === 0 ? { details: { attempts: 0 } } : { cause: lastError, details: { attempts: failures } })

  // `stop` fires once, on timeout or abort; everything pending watches its signal.
  const stop = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const onAbort = (): void => stop.abort(new IpcError('ERR_IPC_ABORTED', `${what} was aborted`, { cause: signal!.reason }))
  signal?.addEventListener('abort', onAbort, { once: true })
  if (timeout !== undefined) {
    timer = setTimeout(() => stop.abort(new IpcError('ERR_IPC_TIMEOUT', `${what} timed out after ${timeout} ms${withLast()}`, errorOptions())), timeout)
  }
  const stopped = new Promise<never>((_, reject) => {
    stop.signal.addEventListener('abort', () => reject(stop.signal.reason), { once: true })
  })
  stopped.catch(() => {}) // observed through the races below

  try {
    for (;;) {
      const pending = attempt(stop.signal)
      try {
        return await Promise.race([pending, stopped])
      } catch (err) {
        if (stop.signal.aborted) {
          pending.then(
            (late) => options.discard?.(late),
            () => {},
          )
          throw stop.signal.reason
        }
        if (!options.retryable(err)) throw err
        failures++
        lastError = err
      }
      const elapsed = performance.now() - started
      if (timeout === undefined && elapsed >= maxRetryTime) {
        throw new IpcError(
          'ERR_IPC_TIMEOUT',
          `${what} gave up after ${Math.round(elapsed)} ms of retrying (no timeout was given; retrying is bounded by ${maxRetryTime} ms)${withLast()}`,
          errorOptions(),
        )
      }
      const delay = backoffDelay(failures, options.initialDelay, options.maxDelay, options.random)
      options.onRetry?.({ error: lastError, attempt: failures, delay, elapsed })
      await pause(delay, stop.signal)
      if (stop.signal.aborted) throw stop.signal.reason
    }
  } finally {
    if (timer !== undefined) clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}

/** Resolves after `ms`, or at once when `signal` fires (the caller checks it). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve() // an 'abort' listener added now would never fire
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
