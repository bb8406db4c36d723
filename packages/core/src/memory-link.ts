/**
 * Two transports joined in memory, in one environment: the same framing, codec, backpressure and
 * close semantics as a real mechanism, with no kernel object. For tests of what is built on the
 * Transport (the patterns) and for programs that want one code path in process and across.
 */
import type { Link, LinkEnd, LinkEvents, PeerInfo } from './link.js'
import { type Transport, type TransportOptions, createTransport, resolveTransportOptions } from './transport.js'

/** Bytes one side may have in flight to the other before `write()` reports full. */
const WINDOW = 1024 * 1024

class MemoryLink implements Link {
  readonly peer: PeerInfo = { pid: process.pid }
  other!: MemoryLink
  private events: LinkEvents | undefined
  private readonly inbound: Uint8Array[] = []
  private inboundBytes = 0
  private paused = false
  private scheduled = false
  private blocked = false
  private ended = false
  private closed = false

  start(events: LinkEvents): void {
    this.events = events
    this.schedule()
  }

  write(chunks: Uint8Array[]): boolean {
    if (this.closed || this.ended) return true
    const peer = this.other
    if (peer.closed || peer.ended) return true
    for (const c of chunks) {
      const copy = new Uint8Array(c) // core may reuse its buffers once written
      peer.inbound.push(copy)
      peer.inboundBytes += copy.length
    }
    peer.schedule()
    if (peer.inboundBytes <= WINDOW) return true
    this.blocked = true
    return false
  }

  private schedule(): void {
    if (this.scheduled || this.events === undefined || this.paused) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.deliver()
    })
  }

  private deliver(): void {
    while (!this.paused && !this.closed && this.events !== undefined && this.inbound.length > 0) {
      const chunk = this.inbound.shift()!
      this.inboundBytes -= chunk.length
      this.events.data(chunk)
    }
    const writer = this.other
    if (writer.blocked && this.inboundBytes <= WINDOW) {
      writer.blocked = false
      writer.events?.drain()
    }
    if (this.inbound.length === 0 && writer.closed) this.end({ reason: 'peer' })
  }

  private end(info: LinkEnd): void {
    if (this.ended || this.closed) return
    this.ended = true
    this.events?.end(info)
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    this.schedule()
  }

  async close(): Promise<void> {
    this.release()
  }

  destroy(): void {
    this.release()
  }

  private release(): void {
    if (this.closed) return
    this.closed = true
    this.other.schedule() // it delivers what it has, then ends
  }
}

/**
 * Two connected transports in this environment (`a` sends what `b` receives, and back), with the
 * options of every transport (`codec`, `maxMessageSize`, `highWaterMark`, …) for both.
 *
 * @example
 * ```ts
 * const [a, b] = memoryPair<string, string>()
 * await a.send('hi')
 * console.log(await b.receive()) // 'hi'
 * ```
 */
export function memoryPair<A = unknown, B = unknown>(options: TransportOptions<any> = {}): [Transport<A, B>, Transport<B, A>] {
  const x = new MemoryLink()
  const y = new MemoryLink()
  x.other = y
  y.other = x
  const resolved = resolveTransportOptions(options)
  return [createTransport<A, B>(x, resolved), createTransport<B, A>(y, resolved)]
}
