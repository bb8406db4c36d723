import type { ListenerControl, MarkRef } from '@ipc/core/mechanism'

/** Hellos that wait while a listener's backlog is full, past which new ones are refused. */
export const MAX_WAITING_HELLOS = 4096

/**
 * Where a queue listener's hellos go: decoded (a malformed one is refused), accepted at once while
 * the backlog has room, else parked in arrival order — the queue also carries the data of accepted
 * connections, so it is read on, and the client waits within its connect timeout — until
 * `accept()` makes room. Every refusal is counted and logged through the listener.
 */
export class HelloGate<H extends { mark: MarkRef }> {
  private readonly waiting: H[] = []
  private closed = false

  constructor(
    private readonly control: ListenerControl<any, any>,
    private readonly decode: (body: Buffer) => H,
    private readonly accept: (hello: H) => void,
  ) {
    control.onRoom(() => this.takeWaiting())
  }

  /** A hello's bytes arrived. */
  offer(body: Buffer): void {
    if (this.closed) {
      this.control.reject('a hello after the listener closed')
      return
    }
    let hello: H
    try {
      hello = this.decode(body)
    } catch (err) {
      this.control.reject(`a malformed hello: ${(err as Error).message}`)
      return
    }
    if (this.waiting.length === 0 && !this.control.full) this.accept(hello)
    else if (this.waiting.length >= MAX_WAITING_HELLOS) this.control.reject(`the backlog is full and ${MAX_WAITING_HELLOS} hellos wait already`)
    else this.waiting.push(hello)
  }

  /** The listener closed: waiting hellos are refused, later ones too. */
  close(): void {
    this.closed = true
    for (const hello of this.waiting.splice(0)) this.control.reject(`hello of pid ${hello.mark.pid}: the listener closed before it was accepted`)
  }

  private takeWaiting(): void {
    while (this.waiting.length > 0 && !this.control.full && !this.closed) this.accept(this.waiting.shift()!)
  }
}
