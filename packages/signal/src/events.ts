/**
 * The events API: `signals.on()` and `signals.events()` for real-time signals with their siginfo,
 * and `sendSignal()`. One native receiver per signal number and environment, shared by every
 * listener of it there; the receiver goes when the last listener does (the last in the process
 * restores the signal's previous disposition).
 */
import { IpcError } from '@ipc/core'
import { abortError, debug } from '@ipc/core/mechanism'
import { type SignalReceiver, native } from '@ipc/native'
import { type SignalCode, type SignalName, caughtSignals, codeName, signalName, signalNumber } from './names.js'

/** One real-time signal as received. */
export interface SignalInfo {
  /** Its number. */
  signo: number
  /** Its name, `SIGRTMIN+n`. */
  name: string
  /** How it was sent: `SI_QUEUE` (sigqueue, with a value), `SI_USER` (kill), `SI_TKILL` (tgkill), … */
  code: SignalCode
  /** The sender's pid, as the kernel (or, for `SI_QUEUE`, the sender itself) filled it in. */
  pid: number
  /** The sender's real uid, likewise. */
  uid: number
  /** The value (`sival_int`) of a queued signal; 0 otherwise. */
  value: number
}

/** What a listener gets: `info` for each signal, in the order the process received them. */
export type SignalListener = (info: SignalInfo) => void

/** One record of a batch (`records[at…at + 5]`), to a per-signal listener. */
type RecordListener = (records: Int32Array, at: number) => void
/** A whole batch of records (six i32 each), to a listener of this environment. */
export type BatchListener = (records: Int32Array) => void

interface Shared {
  receiver: SignalReceiver
  listeners: Set<BatchListener>
}

const shared = new Map<number, Shared>()

/**
 * Subscribes `onRecord` to `signo` (records as six i32: signo, code, pid, uid, value low, value
 * high); returns the unsubscribe. For sibling modules (the transport) and the public API below.
 * Throws `ERR_IPC_ADDRESS_IN_USE` when another handler owns the signal.
 */
export function subscribe(signo: number, onRecord: RecordListener, options: { ref?: boolean } = {}): () => void {
  return subscribeBatches(
    signo,
    (records) => {
      for (let at = 0; at < records.length; at += 6) {
        try {
          onRecord(records, at)
        } catch (err) {
          queueMicrotask(() => {
            throw err // a listener's error is the application's, as for an EventEmitter
          })
        }
      }
    },
    options,
  )
}

/** {@link subscribe} for whole batches (the transport's router). */
export function subscribeBatches(signo: number, onBatch: BatchListener, options: { ref?: boolean } = {}): () => void {
  let s = shared.get(signo)
  if (s === undefined) {
    const listeners = new Set<BatchListener>()
    let receiver: SignalReceiver
    try {
      receiver = new native.SignalReceiver([signo], (buf) => {
        const records = new Int32Array(buf.buffer, buf.byteOffset, buf.length >> 2)
        for (const l of listeners) l(records)
      })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EBUSY') {
        throw new IpcError(
          'ERR_IPC_ADDRESS_IN_USE',
          `${signalName(signo)} is handled by someone else in this process (another addon, or another copy of @ipc/native)`,
          { cause: err },
        )
      }
      throw new IpcError('ERR_IPC_SYSTEM', `claiming ${signalName(signo)} failed: ${(err as Error).message}`, { cause: err })
    }
    if (receiver.unblocked > 0) debug('signal %s: %d thread(s) did not block it; their signals may arrive out of order', signalName(signo), receiver.unblocked)
    receiver.unref()
    s = { receiver, listeners }
    shared.set(signo, s)
  }
  const entry = s
  entry.listeners.add(onBatch)
  let refd = options.ref === true
  if (refd) refCount(entry, +1)
  return () => {
    if (!entry.listeners.delete(onBatch)) return
    if (refd) refCount(entry, -1)
    refd = false
    if (entry.listeners.size === 0) {
      entry.receiver.close()
      if (shared.get(signo) === entry) shared.delete(signo)
    }
  }
}

/** The `IpcError` of a failed claim of `signo`. */
export function claimError(err: unknown, signo: number): IpcError {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'EBUSY') {
    return new IpcError(
      'ERR_IPC_ADDRESS_IN_USE',
      `${signalName(signo)} is handled by someone else in this process (another addon, or another copy of @ipc/native)`,
      { cause: err },
    )
  }
  if (code === 'EADDRINUSE') return new IpcError('ERR_IPC_ADDRESS_IN_USE', `${signalName(signo)}: this process listens there already`, { cause: err })
  return new IpcError('ERR_IPC_SYSTEM', `claiming ${signalName(signo)} failed: ${(err as Error).message}`, { cause: err })
}

const refs = new WeakMap<Shared, number>()
function refCount(s: Shared, delta: number): void {
  const n = (refs.get(s) ?? 0) + delta
  refs.set(s, n)
  if (n > 0 && n - delta === 0) s.receiver.ref()
  if (n === 0) s.receiver.unref()
}

function infoAt(records: Int32Array, at: number): SignalInfo {
  const signo = records[at]!
  return { signo, name: signalName(signo), code: codeName(records[at + 1]!), pid: records[at + 2]!, uid: records[at + 3]! >>> 0, value: records[at + 4]! }
}

/** Signals an `events()` iterator holds for its reader, at most; more are dropped (debuglog `ipc`). */
const MAX_BUFFERED = 65536

/** Options of {@link signals.events}. */
export interface SignalEventsOptions {
  /** Ends the iteration: its pending `next()` rejects with `ERR_IPC_ABORTED`. */
  signal?: AbortSignal
}

/**
 * Real-time signals with who sent them and their value, in the order they arrived — also from a
 * C or Python `sigqueue()` — for listeners of this process. Standard signals stay with
 * `process.on()`; this refuses them (`ERR_IPC_INVALID_ARGUMENT`). As with `process.on()`, a
 * listener does not keep the process alive by itself.
 */
export const signals = {
  /**
   * Calls `listener` for each `name` signal; dispose the result to stop. Throws
   * `ERR_IPC_ADDRESS_IN_USE` if another handler owns the signal.
   *
   * @example
   * ```ts
   * using sub = signals.on('SIGRTMIN+3', (info) => console.log(info.pid, info.value))
   * ```
   */
  on(name: SignalName, listener: SignalListener): Disposable & { dispose(): void } {
    const signo = signalNumber(name)
    if (typeof listener !== 'function') throw new IpcError('ERR_IPC_INVALID_ARGUMENT', 'signals.on(name, listener): listener must be a function')
    const off = subscribe(signo, (records, at) => listener(infoAt(records, at)))
    return { dispose: off, [Symbol.dispose]: off }
  },

  /**
   * The `name` signals as an async iterable (buffered from the first `next()` call on, in order,
   * up to 65,536 not yet taken; beyond that they are dropped, logged under `NODE_DEBUG=ipc`).
   * `break` (or `options.signal`) ends it.
   */
  events(name: SignalName, options: SignalEventsOptions = {}): AsyncIterableIterator<SignalInfo> {
    const signo = signalNumber(name)
    const queue: SignalInfo[] = []
    let head = 0
    let dropped = 0
    let waiting: { resolve(r: IteratorResult<SignalInfo>): void; reject(e: unknown): void } | undefined
    let done = false
    let off: (() => void) | undefined
    const finish = (error?: IpcError): void => {
      if (done) return
      done = true
      off?.()
      options.signal?.removeEventListener('abort', onAbort)
      const w = waiting
      waiting = undefined
      if (w) error ? w.reject(error) : w.resolve({ value: undefined, done: true })
    }
    const onAbort = (): void => finish(abortError(options.signal!, `signals.events(${signalName(signo)})`))
    const start = (): void => {
      if (off !== undefined || done) return
      off = subscribe(signo, (records, at) => {
        const info = infoAt(records, at)
        const w = waiting
        if (w) {
          waiting = undefined
          w.resolve({ value: info, done: false })
        } else if (queue.length - head < MAX_BUFFERED) queue.push(info)
        else {
          dropped++
          if (dropped === 1 || dropped % 4096 === 0) debug('signals.events(%s): %d signal(s) dropped: nobody took them', signalName(signo), dropped)
        }
      })
    }
    if (options.signal?.aborted) done = true
    else options.signal?.addEventListener('abort', onAbort, { once: true })
    const it: AsyncIterableIterator<SignalInfo> = {
      next() {
        if (options.signal?.aborted && !done) onAbort()
        if (head < queue.length) {
          const value = queue[head++]!
          if (head > 1024 && head * 2 > queue.length) {
            queue.splice(0, head)
            head = 0
          }
          return Promise.resolve({ value, done: false })
        }
        if (done)
          return options.signal?.aborted
            ? Promise.reject(abortError(options.signal, `signals.events(${signalName(signo)})`))
            : Promise.resolve({ value: undefined, done: true })
        start()
        return new Promise((resolve, reject) => {
          waiting = { resolve, reject }
        })
      },
      async return() {
        finish()
        return { value: undefined, done: true }
      },
      [Symbol.asyncIterator]() {
        return it
      },
    }
    return it
  },
}

/** Options of {@link sendSignal}. */
export interface SendSignalOptions {
  /**
   * Send even if `pid` does not catch the signal (its default action ends the process). Without
   * it, such a `pid` gets nothing and the call fails with `ERR_IPC_NO_LISTENER`.
   * @defaultValue `false`
   */
  force?: boolean
}

/**
 * Queues the real-time signal `name` with an integer `value` (`sival_int`) for the process `pid`
 * (`sigqueue`). First it checks that `pid` catches it (`/proc/<pid>/status` SigCgt), since a
 * real-time signal's default action ends a process: `ERR_IPC_NO_LISTENER` otherwise, and nothing is
 * sent. Errors: `ERR_IPC_PEER_EXITED` (no such process), `ERR_IPC_PERMISSION` (another user's),
 * `ERR_IPC_SYSTEM` with `details.limit` `RLIMIT_SIGPENDING` when the receiver's queue is full
 * (EAGAIN; try again later).
 */
export function sendSignal(pid: number, name: SignalName, value = 0, options: SendSignalOptions = {}): void {
  const signo = signalNumber(name)
  if (!Number.isSafeInteger(pid) || pid < 1) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `pid must be a positive integer, got ${String(pid)}`)
  if (!Number.isInteger(value) || value < -(2 ** 31) || value > 2 ** 32 - 1) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `value must be a 32-bit integer, got ${String(value)}`)
  }
  const what = `sendSignal(${pid}, ${signalName(signo)})`
  if (options.force !== true) {
    const caught = caughtSignals(pid)
    if (caught === undefined) throw new IpcError('ERR_IPC_PEER_EXITED', `${what}: no process ${pid}`)
    if (!caught.has(signo))
      throw new IpcError(
        'ERR_IPC_NO_LISTENER',
        `${what}: process ${pid} does not catch ${signalName(signo)} (its default action would end it); nothing was sent`,
      )
  }
  let queued: boolean
  try {
    queued = native.sigqueueValue(pid, signo, value >>> 0, 0)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ESRCH') throw new IpcError('ERR_IPC_PEER_EXITED', `${what}: no process ${pid}`, { cause: err })
    if (code === 'EPERM') throw new IpcError('ERR_IPC_PERMISSION', `${what}: not allowed to signal process ${pid} (another user's)`, { cause: err })
    throw new IpcError('ERR_IPC_SYSTEM', `${what}: ${(err as Error).message}`, { cause: err })
  }
  if (!queued) {
    throw new IpcError('ERR_IPC_SYSTEM', `${what}: the receiver's queue of signals is full (EAGAIN: RLIMIT_SIGPENDING of its user); try again later`, {
      details: { limit: 'RLIMIT_SIGPENDING', errno: 'EAGAIN' },
    })
  }
}
