import type { Socket } from 'node:net'
import { type PeerInfo, type Transport, type TransportOptions, createTransport, streamLink } from '@ipc/core'
import { native } from '@ipc/native'

/** The peer's credentials from SO_PEERCRED, or `undefined` when the socket is not a Unix socket. */
export function peerOf(socket: Socket): PeerInfo | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (typeof fd !== 'number' || fd < 0) return undefined
  try {
    return native.peerCred(fd)
  } catch {
    return undefined
  }
}

/** A transport over one connected socket. */
export function socketTransport<Out, In>(socket: Socket, peer: PeerInfo | undefined, options: TransportOptions<In>): Transport<Out, In> {
  const link = peer === undefined ? streamLink({ readable: socket, writable: socket }) : streamLink({ readable: socket, writable: socket, peer })
  return createTransport<Out, In>(link, options)
}
