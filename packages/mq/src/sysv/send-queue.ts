import { native } from '@ipc/native'

/**
 * Sends into one System V queue, in order: `msgsnd(IPC_NOWAIT)` while there is room; once the
 * queue is full, everything goes through a native sender thread (never the libuv threadpool)
 * until it reports that all it was given is queued.
 */
export class SysvSendQueue {
  private thread: InstanceType<typeof native.SysvSender> | undefined
  private overflowing = false
  /** Messages handed to the thread so far; it has caught up when it reports as many sent. */
  private pushed = 0
  private readonly waiting = new Set<() => void>()
  private closed = false

  constructor(
    private readonly msqid: number,
    private readonly onError: (err: Error) => void,
  ) {}

  /** `true` while messages wait for room (in the thread). */
  get busy(): boolean {
    return this.overflowing
  }

  /** Queues `units` for `mtype`; returns `false` when some wait for room (then `drain` runs once all of them are queued). */
  send(mtype: number, units: Uint8Array[], drain: () => void): boolean {
    if (this.closed) return true
    for (const unit of units) {
      if (!this.overflowing) {
        try {
          if (native.msgSend(this.msqid, mtype, unit)) continue
        } catch (err) {
          this.fail(err as Error)
          return true
        }
        this.overflowing = true
      }
      this.thread ??= new native.SysvSender(this.msqid, (error, sent) => this.progress(error, sent))
      this.thread.push(mtype, unit)
      this.pushed++
    }
    if (!this.overflowing) return true
    this.waiting.add(drain)
    return false
  }

  /** Calls `done` once nothing waits for room (at once if nothing does). */
  whenDrained(done: () => void): void {
    if (this.closed || !this.overflowing) {
      done()
      return
    }
    this.waiting.add(done)
  }

  private progress(error: Error | null, sent: number): void {
    if (error) {
      // an errno error of msgsnd: EIDRM when the queue was removed
      this.fail(error)
      return
    }
    if (sent < this.pushed) return // more was pushed since: still in order behind the thread
    this.overflowing = false
    const waiting = [...this.waiting]
    this.waiting.clear()
    for (const w of waiting) w()
  }

  private fail(err: Error): void {
    if (this.closed) return
    const waiting = [...this.waiting]
    this.close()
    this.onError(err)
    for (const w of waiting) w() // nothing will be sent any more: nobody waits for it
  }

  /** Stops the thread; what it still holds is dropped. */
  close(): void {
    this.closed = true
    this.overflowing = false
    this.thread?.close()
    this.thread = undefined
    this.waiting.clear()
  }
}
