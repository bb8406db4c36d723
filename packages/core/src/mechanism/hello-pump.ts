import type { ListenerControl } from '../listener.js'
import { Queue } from '../queue.js'

/**
 * The hellos a listener has read from its kernel object but not yet handled (fifo, shm). Each is
 * handled (its handshake run) while the backlog has room, at most `limit` at once; `reading(on)`
 * says when to read more hellos (few wait) and when to stop (`limit` wait), so that clients past
 * that wait in the kernel, within their connect timeout.
 */
export class HelloPump<H> {
  private readonly pending = new Queue<H>()
  private inFlight = 0

  constructor(
    private readonly control: Pick<ListenerControl<any, any>, 'isClosed' | 'full' | 'onRoom'>,
    private readonly handle: (hello: H) => Promise<void>,
    private readonly reading: (on: boolean) => void,
    private readonly limit = 64,
  ) {
    control.onRoom(() => this.pump())
  }

  /** A hello was read (call {@link HelloPump.pump} after a batch). */
  push(hello: H): void {
    this.pending.push(hello)
    if (this.pending.length === this.limit) this.reading(false)
  }

  /** `true` while `limit` hellos wait: read no more now. */
  get saturated(): boolean {
    return this.pending.length >= this.limit
  }

  /** Handles waiting hellos while the backlog has room; asks for more reading once few wait. */
  pump(): void {
    const control = this.control
    while (this.pending.length > 0 && !control.isClosed && !control.full && this.inFlight < this.limit) {
      this.inFlight++
      void this.handle(this.pending.shift()!).finally(() => {
        this.inFlight--
        this.pump()
      })
    }
    if (this.pending.length < this.limit && !control.isClosed) this.reading(true)
  }
}
