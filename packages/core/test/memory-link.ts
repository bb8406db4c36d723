import type { Link, LinkEvents } from '../src/mechanism/index.js'

/**
 * Two in-process Links joined back to back, for testing core's logic (framing, batching, RPC)
 * without a kernel. Transports' kernel behaviour is tested per mechanism with real processes.
 */
export function memoryLinkPair(): [Link, Link] {
  const make = (): Link & { other?: Link & { events?: LinkEvents; closedByPeer(): void }; events?: LinkEvents; closedByPeer(): void } => {
    const link = {
      events: undefined as LinkEvents | undefined,
      other: undefined as any,
      writes: 0,
      start(events: LinkEvents) {
        link.events = events
      },
      write(chunks: Uint8Array[]) {
        link.writes++
        const copy = chunks.map((c) => c.slice())
        queueMicrotask(() => {
          for (const c of copy) link.other?.events?.data(c)
        })
        return true
      },
      pause() {},
      resume() {},
      async close() {
        queueMicrotask(() => link.other?.closedByPeer())
        link.events = undefined
      },
      destroy() {
        if (link.events) queueMicrotask(() => link.other?.closedByPeer())
        link.events = undefined
      },
      closedByPeer() {
        const ev = link.events
        link.events = undefined
        ev?.end({ reason: 'peer' })
      },
    }
    return link
  }
  const a = make()
  const b = make()
  a.other = b
  b.other = a
  return [a, b]
}
