/**
 * What a subscriber or puller has received and not yet given out: a buffer, the callers waiting in
 * `receive()` (each with its own timeout and `AbortSignal`), and how it ended.
 */
import { IpcError, type WaitOptions } from '@ipc/core'
import { abortError, checkTimeout, timeoutError } from '@ipc/core/mechanism'
import { Fifo } from './fifo.js'

interface Reader<T> {
  resolve: (item: T) => void
  reject: (err: unknown) => void
}

export class Mailbox<T> {
  private readonly items = new Fifo<T>()
  private readers: Reader<T>[] = []
  /** The error `receive()` gives once everything received is out; `undefined` while open. */
  ended: IpcError | undefined
  /** `true` when it ended normally (an iteration then just stops). */
  endedCleanly = false

  /** Items waiting for `receive()`. */
  get length(): number {
    return this.items.length
  }

  /** Hands `item` to the first waiting caller, or keeps it. */
  put(item: T): void {
    const reader = this.readers.shift()
    if (reader !== undefined) reader.resolve(item)
    else this.items.push(item)
  }

  /** The next item: at once when there is one, after the end its error, otherwise when one comes. */
  receive(options: WaitOptions | undefined, what: string): Promise<T> {
    const item = this.items.shift()
    if (item !== undefined) return Promise.resolve(item)
    if (this.ended !== undefined) return Promise.reject(this.ended)
    if (options !== undefined) {
      checkTimeout(options.timeout)
      if (options.signal?.aborted) return Promise.reject(abortError(options.signal, what))
    }
    return new Promise<T>((resolve, reject) => {
      const reader: Reader<T> = { resolve, reject }
      this.readers.push(reader)
      if (options?.signal === undefined && options?.timeout === undefined) return
      const drop = (err: IpcError): void => {
        const at = this.readers.indexOf(reader)
        if (at < 0) return
        this.readers.splice(at, 1)
        disarm()
        reject(err)
      }
      const timer = options.timeout === undefined ? undefined : setTimeout(() => drop(timeoutError(options.timeout!, what)), options.timeout)
      const onAbort = (): void => drop(abortError(options.signal!, what))
      options.signal?.addEventListener('abort', onAbort, { once: true })
      const disarm = (): void => {
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', onAbort)
      }
      reader.resolve = (item) => {
        disarm()
        resolve(item)
      }
      reader.reject = (err) => {
        disarm()
        reject(err)
      }
    })
  }

  /** Ends it: waiting callers get `err` now, later ones after the items kept. `false` if it had ended already. */
  end(err: IpcError, cleanly: boolean): boolean {
    if (this.ended !== undefined) return false
    this.ended = err
    this.endedCleanly = cleanly
    for (const r of this.readers.splice(0)) r.reject(err)
    return true
  }
}

/** The error of an ended read loop, coded. */
export function readError(err: unknown): IpcError {
  return err instanceof IpcError ? err : new IpcError('ERR_IPC_CLOSED', `receive: ${(err as Error)?.message}`, { cause: err })
}
