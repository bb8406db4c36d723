import { describe, expect, it } from 'vitest'
import { isIpcError } from '@ipc/core'
import { type RetryInfo, backoffDelay, retryWithBackoff } from '../src/retry.js'

const eagain = (): NodeJS.ErrnoException => Object.assign(new Error('connect EAGAIN'), { code: 'EAGAIN', syscall: 'connect' })
const transient = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'EAGAIN'

describe('backoffDelay', () => {
  it('starts at ~1 ms, doubles, is capped, jitters into the upper half, and is never below 1 ms', () => {
    const low = Array.from({ length: 12 }, (_, i) => backoffDelay(i + 1, 1, 64, () => 0))
    const high = Array.from({ length: 12 }, (_, i) => backoffDelay(i + 1, 1, 64, () => 0.999999))
    expect(low).toEqual([1, 1, 2, 4, 8, 16, 32, 32, 32, 32, 32, 32])
    expect(high.map(Math.round)).toEqual([1, 2, 4, 8, 16, 32, 64, 64, 64, 64, 64, 64])
    for (let attempt = 1; attempt < 2000; attempt += 37) {
      const d = backoffDelay(attempt)
      expect(d).toBeGreaterThanOrEqual(1)
      expect(d).toBeLessThanOrEqual(64)
    }
  })
})

describe('retryWithBackoff', () => {
  it('retries transient errors until an attempt succeeds, and reports each retry', async () => {
    let calls = 0
    const seen: RetryInfo[] = []
    const value = await retryWithBackoff(
      async () => {
        if (++calls <= 3) throw eagain()
        return 'done'
      },
      { what: 'test', retryable: transient, onRetry: (info) => seen.push(info) },
    )
    expect(value).toBe('done')
    expect(calls).toBe(4)
    expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3])
    expect(seen.every((s) => (s.error as NodeJS.ErrnoException).code === 'EAGAIN' && s.delay >= 1)).toBe(true)
  })

  it('throws any other error at once, unchanged', async () => {
    let calls = 0
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    const err = await retryWithBackoff(
      async () => {
        calls++
        throw refused
      },
      { what: 'test', retryable: transient },
    ).catch((e) => e)
    expect(err).toBe(refused)
    expect(calls).toBe(1)
  })

  it('gives ERR_IPC_TIMEOUT within the timeout, with the last error as cause', async () => {
    const started = performance.now()
    const err = await retryWithBackoff(() => Promise.reject(eagain()), { what: 'connect x', retryable: transient, timeout: 150 }).catch((e) => e)
    const elapsed = performance.now() - started
    expect(isIpcError(err, 'ERR_IPC_TIMEOUT')).toBe(true)
    expect(err.message).toMatch(/^connect x timed out after 150 ms \(\d+ attempts failed, the last with EAGAIN\)$/)
    expect((err.cause as NodeJS.ErrnoException).code).toBe('EAGAIN')
    expect(err.details.attempts).toBeGreaterThan(3)
    expect(elapsed).toBeGreaterThanOrEqual(145)
    expect(elapsed).toBeLessThan(150 + 200)
  })

  it('cuts a hanging attempt short at the timeout, through the attempt signal', async () => {
    let told: unknown
    const err = await retryWithBackoff(
      (signal) =>
        new Promise<never>((_, reject) =>
          signal.addEventListener('abort', () => {
            told = signal.reason
            reject(signal.reason)
          }),
        ),
      { what: 'hang', retryable: transient, timeout: 50 },
    ).catch((e) => e)
    expect(isIpcError(err, 'ERR_IPC_TIMEOUT')).toBe(true)
    expect(told).toBe(err)
    expect(err.message).toBe('hang timed out after 50 ms')
    expect(err.cause).toBeUndefined()
  })

  it('without a timeout, stops retrying after maxRetryTime with ERR_IPC_TIMEOUT', async () => {
    const started = performance.now()
    const err = await retryWithBackoff(() => Promise.reject(eagain()), { what: 'bounded', retryable: transient, maxRetryTime: 100 }).catch((e) => e)
    const elapsed = performance.now() - started
    expect(isIpcError(err, 'ERR_IPC_TIMEOUT')).toBe(true)
    expect(err.message).toMatch(/^bounded gave up after \d+ ms of retrying \(no timeout was given; retrying is bounded by 100 ms\)/)
    expect(elapsed).toBeGreaterThanOrEqual(99)
    expect(elapsed).toBeLessThan(100 + 64 + 200)
  })

  it('gives ERR_IPC_ABORTED, with the reason as cause, when aborted during a backoff wait', async () => {
    const ac = new AbortController()
    const reason = new Error('shutting down')
    const started = performance.now()
    const err = await retryWithBackoff(() => Promise.reject(eagain()), {
      what: 'abortable',
      retryable: transient,
      signal: ac.signal,
      initialDelay: 10_000, // the first wait is long: the abort lands in it
      maxDelay: 10_000,
      onRetry: () => ac.abort(reason),
    }).catch((e) => e)
    expect(isIpcError(err, 'ERR_IPC_ABORTED')).toBe(true)
    expect(err.cause).toBe(reason)
    expect(performance.now() - started).toBeLessThan(1000) // not the 5–10 s wait
    const already = await retryWithBackoff(() => Promise.resolve(1), { what: 'x', retryable: transient, signal: ac.signal }).catch((e) => e)
    expect(isIpcError(already, 'ERR_IPC_ABORTED')).toBe(true)
  })

  it('discards a value an attempt produces after the wait was given up', async () => {
    const ac = new AbortController()
    let finish!: (v: string) => void
    const discarded: string[] = []
    const run = retryWithBackoff(() => new Promise<string>((resolve) => (finish = resolve)), {
      what: 'late',
      retryable: transient,
      signal: ac.signal,
      discard: (v) => discarded.push(v),
    })
    ac.abort()
    expect(isIpcError(await run.catch((e) => e), 'ERR_IPC_ABORTED')).toBe(true)
    finish('orphan')
    await Promise.resolve()
    await Promise.resolve()
    expect(discarded).toEqual(['orphan'])
  })

  it('refuses a bad timeout with ERR_IPC_INVALID_ARGUMENT', async () => {
    for (const timeout of [-1, Number.NaN, Infinity]) {
      const err = await retryWithBackoff(() => Promise.resolve(1), { what: 'x', retryable: transient, timeout }).catch((e) => e)
      expect(isIpcError(err, 'ERR_IPC_INVALID_ARGUMENT')).toBe(true)
    }
  })
})
