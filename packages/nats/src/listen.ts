/**
 * `listen('nats://host:port/subject')`: subscribes the rendezvous subject (in a queue group with
 * `shared=`) after checking nobody live listens there, and answers each hello with a session.
 */
import { IpcError, type Listener } from '@ipc/core'
import { type Address, createListener, createTransport, debug, sessionLink } from '@ipc/core/mechanism'
import type { Msg } from '@nats-io/transport-node'
import { natsAddress } from './address.js'
import { NatsCarrier } from './carrier.js'
import { requestError } from './errors.js'
import { type NatsListenOptions, settingsOf } from './options.js'
import { type Lease, acquire } from './pool.js'
import { connectionSubjects, decodeMessage, encodeMessage, newToken } from './wire.js'

/** Milliseconds a listener starting waits for a live one to answer its probe. */
const PROBE_TIMEOUT = 1000

export async function listenNats(a: Address, options: NatsListenOptions): Promise<Listener> {
  const address = natsAddress(a, options.prefix)
  const s = settingsOf(options)
  const lease = await acquire(address, options, options.timeout as number | undefined)
  const nonce = newToken()
  try {
    if (options.shared === undefined) await checkFree(lease, address.subject, nonce)
  } catch (err) {
    lease.release()
    throw err
  }
  let closed = false
  const control = createListener<unknown, unknown>(
    {
      address: a.text,
      close: async () => {
        if (closed) return
        closed = true
        try {
          sub.unsubscribe()
        } catch {}
        lease.release()
      },
    },
    options.backlog,
  )
  const onHello = (msg: Msg): void => {
    const m = decodeMessage(msg.data)
    if (typeof m === 'string') {
      control.reject(`a malformed handshake message on ${address.subject}: ${m}`)
      msg.respond(encodeMessage({ v: 1, k: 'refuse', why: m }))
      return
    }
    if (m.k === 'probe') {
      msg.respond(encodeMessage({ v: 1, k: 'here', n: nonce }))
      return
    }
    if (m.k !== 'hello') {
      control.reject(`an unexpected "${m.k}" on ${address.subject}`)
      return
    }
    if (control.isClosed || control.full) {
      control.reject('the backlog is full')
      msg.respond(encodeMessage({ v: 1, k: 'refuse', why: 'the listener is not accepting (backlog full or closing)' }))
      return
    }
    const subjects = connectionSubjects(address.subject, m.t)
    let carrier: NatsCarrier
    try {
      carrier = new NatsCarrier(lease.fork(), subjects.listener, subjects.client)
    } catch (err) {
      control.reject(err)
      return
    }
    const link = sessionLink(carrier, { ...s, peerWindow: m.w, broker: lease.broker })
    const transport = createTransport(link, options)
    msg.respond(encodeMessage({ v: 1, k: 'welcome', w: s.window })) // after our subscription: the server has it first
    control.offer(transport)
  }
  let refused: Error | undefined
  const sub = lease.nc.subscribe(address.subject, {
    ...(options.shared === undefined ? {} : { queue: options.shared }),
    callback: (err, msg) => {
      if (err) {
        refused ??= err
        debug('nats: the listener subscription %s failed: %s', address.subject, err.message)
        void control.listener.close()
        return
      }
      try {
        onHello(msg)
      } catch (e) {
        control.reject(e)
      }
    },
  })
  await lease.nc.flush() // the server answers a refused subscription before this flush's PONG
  if (refused !== undefined) {
    await control.listener.close()
    throw requestError(refused, address.subject, 'listen', 0)
  }
  return control.listener
}

/** `ERR_IPC_ADDRESS_IN_USE` when a live listener answers a probe on `subject`. */
async function checkFree(lease: Lease, subject: string, nonce: string): Promise<void> {
  try {
    const reply = await lease.nc.request(subject, encodeMessage({ v: 1, k: 'probe', n: nonce }), { timeout: PROBE_TIMEOUT })
    const m = decodeMessage(reply.data)
    throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `a live listener holds ${subject} on ${lease.broker}${typeof m === 'string' ? '' : ''}`, {
      details: { broker: lease.broker },
    })
  } catch (err) {
    if (err instanceof IpcError) throw err
    const coded = requestError(err, subject, 'listen', PROBE_TIMEOUT)
    if (coded.code === 'ERR_IPC_NO_LISTENER') return // nobody: free
    if (coded.code === 'ERR_IPC_TIMEOUT') {
      throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `something subscribes ${subject} on ${lease.broker} and does not answer probes`, { cause: err })
    }
    throw coded
  }
}
