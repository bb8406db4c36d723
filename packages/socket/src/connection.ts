import type { Server, Socket } from 'node:net'
import type { PeerInfo, Transport, TransportOptions } from '@ipc/core'
import { type ListenerControl, createTransport, streamLink } from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { debug, reportDropped } from './debug.js'

/** The peer's credentials from SO_PEERCRED, or `undefined` when the socket is not a Unix socket. */
export function peerOf(socket: Socket): PeerInfo | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
  if (typeof fd !== 'number' || fd < 0) return undefined
  try {
    return native.peerCred(fd)
  } catch (err) {
    debug('SO_PEERCRED failed on fd %d: %s', fd, (err as Error).message) // the peer is gone already
    return undefined
  }
}

/** A transport over one connected socket. */
export function socketTransport<Out, In>(socket: Socket, peer: PeerInfo | undefined, options: TransportOptions<In>): Transport<Out, In> {
  const link = peer === undefined ? streamLink({ readable: socket, writable: socket }) : streamLink({ readable: socket, writable: socket, peer })
  return createTransport<Out, In>(link, options)
}

/**
 * Hands an accepted connection to the listener, reporting it (NODE_DEBUG=ipc) when the listener
 * closes it unread: its queue of connections not yet accepted is full, or it is closing.
 */
export function offerConnection<Out, In>(control: ListenerControl<Out, In>, transport: Transport<Out, In>, label: string, backlog: number): void {
  control.offer(transport)
  if (!transport.isOpen) {
    reportDropped(control, label, control.isClosed ? 'the listener is closed' : `the backlog (${backlog}) is full: connections wait for accept()`, true)
  }
}

/**
 * Watches a listening server's errors. `accept()` errors (EMFILE, ENFILE, ENOBUFS, … — that one
 * connection is lost, the server keeps listening) are logged and the listener goes on; any other
 * error closes the listener.
 */
export function watchServer(server: Server, control: ListenerControl<unknown, unknown>, label: string): void {
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (err.syscall === 'accept') {
      reportDropped(control, label, `accept() failed with ${err.code ?? err.message}; still listening`)
      return
    }
    debug('%s: closing the listener after a server error: %s', label, err.code ?? err.message)
    void control.listener.close()
  })
}
