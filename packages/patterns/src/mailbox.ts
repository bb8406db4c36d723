/**
 * What a subscriber or puller has received and not yet given out: a buffer, the callers waiting in
 * `receive()` (each with its own timeout and `AbortSignal`), and how it ended.
 */
import { IpcError, type WaitOptions } from '@ipc/core'
import { Waiters } from '@ipc/core/mechanism'
import { Fifo } from './fifo.js'

export class Mailbox<T> {
  private readonly items = new Fifo<T>()
  private readonly readers = new Waiters<T>()
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
    if (!this.readers.resolveNext(item)) this.items.push(item)
  }

  /** The next item: at once when there is one, after the end its error, otherwise when one comes. */
  receive(options: WaitOptions | undefined, what: string): Promise<T> {
    const item = this.items.shift()
    if (item !== undefined) return Promise.resolve(item)
    if (this.ended !== undefined) return Promise.reject(this.ended)
    try {
      return this.readers.wait(options, what)
    } catch (err) {
      return Promise.reject(err) // a bad timeout
    }
  }

  /** Ends it: waiting callers get `err` now, later ones after the items kept. `false` if it had ended already. */
  end(err: IpcError, cleanly: boolean): boolean {
    if (this.ended !== undefined) return false
    this.ended = err
    this.endedCleanly = cleanly
    this.readers.settleAll(err, false)
    return true
  }
}

/** The error of an ended read loop, coded. */
export function readError(err: unknown): IpcError {
  return err instanceof IpcError ? err : new IpcError('ERR_IPC_CLOSED', `receive: ${(err as Error)?.message}`, { cause: err })
}
