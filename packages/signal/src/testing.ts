/**
 * `@ipc/signal/testing`: a client that does the real handshake and then writes raw bytes as data
 * signals, with no framing of core's — for tests that play a misbehaving peer.
 */
import { parseAddress } from '@ipc/core'
import type { LinkEvents } from '@ipc/core/mechanism'
import { connectLink } from './connect.js'

export * from './wire.js'

/** A raw client's side of a connection. */
export interface RawSignalClient {
  /** Queues `bytes` as data signals (four bytes each), within the listener's credit. */
  write(bytes: Uint8Array): void
  /** Ends this side (as a closing transport does, without core's goodbye). */
  end(): Promise<void>
}

/** Connects to `address` (`signal:<pid>`) with the real handshake. */
export async function rawClient(address: string): Promise<RawSignalClient> {
  const a = parseAddress(address)
  const link = await connectLink(a, Object.fromEntries(a.params) as never)
  const events: LinkEvents = { data() {}, drain() {}, end() {} }
  link.start(events)
  return {
    write: (bytes) => void link.write([bytes]),
    end: () => link.close(),
  }
}
