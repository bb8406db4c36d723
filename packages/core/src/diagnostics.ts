/**
 * `node:diagnostics_channel` channels, so APM tools and applications can watch connections
 * without wrapping the API. Nothing is published (and no listener attached to a transport) while a
 * channel has no subscriber.
 *
 * | channel | published when | message |
 * |---|---|---|
 * | `ipc:connect` | a connection is made (`connect()`, or accepted by a listener) | {@link IpcConnectMessage} |
 * | `ipc:listen` | `listen()` succeeds | {@link IpcListenMessage} |
 * | `ipc:close` | a connection seen by `ipc:connect` ends | {@link IpcCloseMessage} |
 * | `ipc:error` | `connect()`/`listen()` fails, or a connection ends with an error | {@link IpcErrorMessage} |
 */
import { channel } from 'node:diagnostics_channel'
import type { IpcError } from './errors.js'
import type { CloseReason, PeerInfo } from './link.js'
import type { Listener } from './listener.js'
import type { Transport } from './transport.js'

/** The channel names. */
export const IPC_CHANNELS = { connect: 'ipc:connect', listen: 'ipc:listen', close: 'ipc:close', error: 'ipc:error' } as const

/** On `ipc:connect`. */
export interface IpcConnectMessage {
  /** The address connected to, or the listener's address for an accepted connection. */
  address: string
  /** The scheme: `unix`, `tcp`, `shm`, `nats`, … */
  mechanism: string
  /** `'client'` for `connect()`, `'listener'` for a connection a listener accepted. */
  side: 'client' | 'listener'
  /** The peer process, where the mechanism knows it. */
  peer: PeerInfo | undefined
  transport: Transport<unknown, unknown>
}

/** On `ipc:listen`. */
export interface IpcListenMessage {
  address: string
  mechanism: string
  listener: Listener<unknown, unknown>
}

/** On `ipc:close`. */
export interface IpcCloseMessage {
  address: string
  mechanism: string
  side: 'client' | 'listener'
  peer: PeerInfo | undefined
  reason: CloseReason
  /** The error, when the connection ended with one. */
  error: IpcError | undefined
}

/** On `ipc:error`. */
export interface IpcErrorMessage {
  address: string
  mechanism: string
  /** What failed: `connect()`, `listen()`, or an open connection. */
  operation: 'connect' | 'listen' | 'transport'
  error: unknown
}

const connectChannel = channel(IPC_CHANNELS.connect)
const listenChannel = channel(IPC_CHANNELS.listen)
const closeChannel = channel(IPC_CHANNELS.close)
const errorChannel = channel(IPC_CHANNELS.error)

function mechanismOf(address: string): string {
  const colon = address.indexOf(':')
  return colon > 0 ? address.slice(0, colon).toLowerCase() : ''
}

/** A connection was made (`side`) at `address`. */
export function announceConnection(address: string, side: 'client' | 'listener', transport: Transport<any, any>): void {
  const watchesEnd = closeChannel.hasSubscribers || errorChannel.hasSubscribers
  if (!connectChannel.hasSubscribers && !watchesEnd) return
  const mechanism = mechanismOf(address)
  const peer = transport.peer
  if (connectChannel.hasSubscribers) connectChannel.publish({ address, mechanism, side, peer, transport } satisfies IpcConnectMessage)
  if (!watchesEnd) return
  void transport.closed.then((info) => {
    if (closeChannel.hasSubscribers) {
      closeChannel.publish({ address, mechanism, side, peer, reason: info.reason, error: info.error } satisfies IpcCloseMessage)
    }
    if (info.reason === 'error' && errorChannel.hasSubscribers) {
      errorChannel.publish({ address, mechanism, operation: 'transport', error: info.error } satisfies IpcErrorMessage)
    }
  })
}

/** `listen()` succeeded. */
export function announceListener(address: string, listener: Listener<any, any>): void {
  if (listenChannel.hasSubscribers) listenChannel.publish({ address, mechanism: mechanismOf(address), listener } satisfies IpcListenMessage)
}

/** `connect()` or `listen()` failed. */
export function announceFailure(address: string, operation: 'connect' | 'listen', error: unknown): void {
  if (errorChannel.hasSubscribers) errorChannel.publish({ address, mechanism: mechanismOf(address), operation, error } satisfies IpcErrorMessage)
}
