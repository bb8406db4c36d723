/**
 * `@ipc/nats/testing`: a raw client for tests — it does the handshake (the wire format of
 * `wire.ts`) on a NATS connection of its own, then publishes whatever bytes it is given as session
 * data units (`@ipc/core/mechanism`'s session wire format), for hostile-peer cases; and
 * {@link Broker}, a private nats-server on a random loopback port.
 */
import { IpcError } from '@ipc/core'
import { parseAddress } from '@ipc/core'
import { SESSION_HEADER, UNIT, encodeUnit } from '@ipc/core/mechanism'
import { type NatsConnection, connect } from '@nats-io/transport-node'
import { natsAddress } from './address.js'
import { connectionSubjects, decodeMessage, encodeMessage, newToken } from './wire.js'

/** A connected raw client. */
export interface RawNatsClient {
  /** Sends `bytes` as data units (cut at `unit` bytes), numbered from where the last write stopped. */
  write(bytes: Uint8Array, unit?: number): void
  /** Publishes one unit exactly as given (a hostile unit: any header). */
  publishUnit(unit: Uint8Array): void
  /** The subjects of this connection (for third parties that know them). */
  readonly subjects: { client: string; listener: string }
  /** Unsubscribes and closes its connection (the listener's end then finds it gone). */
  end(): Promise<void>
}

/** Connects a raw client to the listener at `address`. */
export async function rawClient(address: string): Promise<RawNatsClient> {
  const a = natsAddress(parseAddress(address))
  const nc: NatsConnection = await connect({ servers: a.server })
  const token = newToken()
  const subjects = connectionSubjects(a.subject, token)
  nc.subscribe(subjects.client, { callback: () => {} }) // units from the listener are read and dropped
  await nc.flush()
  const reply = await nc.request(a.subject, encodeMessage({ v: 1, k: 'hello', t: token, w: 1024 * 1024, u: nc.info!.max_payload }), { timeout: 5000 })
  const m = decodeMessage(reply.data)
  if (typeof m === 'string' || m.k !== 'welcome') {
    await nc.close()
    throw new IpcError('ERR_IPC_DECODE', `rawClient: the listener answered ${typeof m === 'string' ? m : m.k}`)
  }
  let seq = 0
  const publish = (unit: Uint8Array): void => nc.publish(subjects.listener, unit, { reply: subjects.client })
  return {
    subjects,
    write(bytes, unit = nc.info!.max_payload - SESSION_HEADER) {
      for (let at = 0; at < bytes.length; at += unit) publish(encodeUnit(UNIT.DATA, 0, seq++, 0, 1024 * 1024, bytes.subarray(at, at + unit)))
    },
    publishUnit: publish,
    async end() {
      await nc.flush()
      await nc.close()
    },
  }
}

export { Broker, type BrokerOptions, ensureServer, serverBinary } from './server.js'
