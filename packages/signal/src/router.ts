/**
 * One router per signal pair and environment: it reads the data and control signals directed at
 * this thread (the fast lane, `native.SignalPoller`) and hands each record to the connection it
 * names (sender pid + `conn`). Records for nobody are dropped (debuglog): after a close, a peer's
 * last credits or a stranger's noise.
 */
import { debug } from '@ipc/core/mechanism'
import { type SignalPoller, native } from '@ipc/native'
import { claimError } from './events.js'
import { Kind, parseHigh } from './wire.js'

/** What a connection end takes from the router. */
export interface Routed {
  /** Data records of this connection in `records` (six i32 each): `at` are their offsets. */
  data(records: Int32Array, at: number[]): void
  /** One control record (not HELLO). */
  control(kind: number, low: number): void
}

export class Router {
  private readonly ends = new Map<number, Routed>()
  private readonly poller: SignalPoller
  private users = 0
  /** This thread's id: where peers direct their signals. */
  readonly tid = native.threadId()

  private constructor(
    readonly data: number,
    readonly control: number,
    private readonly onIdle: () => void,
  ) {
    try {
      this.poller = new native.SignalPoller([data, control], (buf) => {
        const records = new Int32Array(buf.buffer, buf.byteOffset, buf.length >> 2)
        let from = 0
        // records come in the order read; split them by signal, keeping each one's order
        for (let at = 0; at <= records.length; at += 6) {
          if (at === records.length || (at > from && records[at] !== records[from])) {
            const part = records.subarray(from, at)
            if (records[from] === data) this.onData(part)
            else this.onControl(part)
            from = at
          }
        }
      })
    } catch (err) {
      throw claimError(err, data)
    }
  }

  private static readonly routers = new Map<number, Router>()

  /** The router of this pair (made on first use); release it with {@link Router.release}. */
  static use(data: number, control: number): Router {
    let r = Router.routers.get(data)
    if (r === undefined || r.control !== control) {
      r = new Router(data, control, () => Router.routers.delete(data))
      Router.routers.set(data, r)
    }
    r.users++
    return r
  }

  /** One user fewer; the last one unsubscribes (the last in the process gives the signals back). */
  release(): void {
    if (--this.users > 0) return
    this.poller.close()
    this.onIdle()
  }

  /** The key of the end that takes signals `side` (0 or FROM_LISTENER) of `pid` sent for `conn`. */
  static key(pid: number, conn: number, side: number): number {
    return (pid * 65536 + conn) * 2 + (side === 0 ? 0 : 1)
  }

  /** Routes signals `side` of (pid, conn) to `end`; false if taken. */
  attach(pid: number, conn: number, side: number, end: Routed): boolean {
    const key = Router.key(pid, conn, side)
    if (this.ends.has(key)) return false
    this.ends.set(key, end)
    return true
  }

  detach(pid: number, conn: number, side: number, end: Routed): void {
    const key = Router.key(pid, conn, side)
    if (this.ends.get(key) === end) this.ends.delete(key)
  }

  has(pid: number, conn: number, side: number): boolean {
    return this.ends.has(Router.key(pid, conn, side))
  }

  private onData(records: Int32Array): void {
    // group the batch by connection, in order
    let lastKey = -1
    let last: Routed | undefined
    let offsets: number[] = []
    const flush = (): void => {
      if (last !== undefined && offsets.length > 0) last.data(records, offsets)
      offsets = []
    }
    for (let at = 0; at < records.length; at += 6) {
      const pid = records[at + 2]!
      const { side, conn } = parseHigh(records[at + 5]! >>> 0)
      const key = Router.key(pid, conn, side)
      if (key !== lastKey) {
        flush()
        lastKey = key
        last = this.ends.get(key)
        if (last === undefined) debug('signal: a data signal for no connection (pid %d, conn %d) dropped', pid, conn)
      }
      if (last !== undefined) offsets.push(at)
    }
    flush()
  }

  private onControl(records: Int32Array): void {
    for (let at = 0; at < records.length; at += 6) {
      const pid = records[at + 2]!
      const { side, conn, kind } = parseHigh(records[at + 5]! >>> 0)
      const low = records[at + 4]! >>> 0
      const end = this.ends.get(Router.key(pid, conn, side))
      if (end !== undefined && kind !== Kind.HELLO) end.control(kind, low)
      else debug('signal: a control signal (kind %d) for no connection (pid %d, conn %d) dropped', kind, pid, conn)
    }
  }
}
