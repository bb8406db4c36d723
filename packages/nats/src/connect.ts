/** `connect('nats://host:port/subject')`: a hello request to the listener, then a session. */
import { IpcError, type Transport } from '@ipc/core'
import { type Address, createTransport, sessionLink } from '@ipc/core/mechanism'
import { natsAddress } from './address.js'
import { NatsCarrier } from './carrier.js'
import { requestError } from './errors.js'
import { type NatsConnectOptions, settingsOf } from './options.js'
import { acquire } from './pool.js'
import { connectionSubjects, decodeMessage, encodeMessage, newToken } from './wire.js'

export async function connectNats(a: Address, options: NatsConnectOptions): Promise<Transport> {
  const address = natsAddress(a, options.prefix)
  const s = settingsOf(options)
  const timeout = options.timeout ?? 10_000
  const lease = await acquire(address, options, timeout)
  const token = newToken()
  const subjects = connectionSubjects(address.subject, token)
  let carrier: NatsCarrier
  try {
    carrier = new NatsCarrier(lease, subjects.client, subjects.listener) // receiving before the listener can send
  } catch (err) {
    lease.release()
    throw requestError(err, subjects.client, 'connect', timeout)
  }
  try {
    const reply = await lease.nc.request(address.subject, encodeMessage({ v: 1, k: 'hello', t: token, w: s.window, u: lease.maxPayload }), { timeout })
    if (carrier.failure !== undefined) throw requestError(carrier.failure, subjects.client, 'connect', timeout)
    const m = decodeMessage(reply.data)
    if (typeof m === 'string') throw new IpcError('ERR_IPC_DECODE', `connect: the listener on ${address.subject} answered with a malformed message (${m})`)
    if (m.k === 'refuse') throw new IpcError('ERR_IPC_NO_LISTENER', `connect: the listener on ${address.subject} refused: ${m.why}`)
    if (m.k !== 'welcome') throw new IpcError('ERR_IPC_DECODE', `connect: the listener on ${address.subject} answered "${m.k}"`)
    const link = sessionLink(carrier, { ...s, peerWindow: m.w, broker: lease.broker })
    return createTransport(link, options)
  } catch (err) {
    carrier.close()
    throw err instanceof IpcError ? err : requestError(err, address.subject, 'connect', timeout)
  }
}
