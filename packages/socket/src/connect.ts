import { type Socket, connect as netConnect } from 'node:net'
import { type ConnectOptions, IpcError, type Transport, fromErrno, withWait } from '@ipc/core'
import { peerOf, socketTransport } from './connection.js'

/**
 * Opens a socket (`net.connect` options), waits for it to connect under `options`' timeout and
 * signal, and wraps it into a transport.
 */
export async function connectSocket<Out, In>(
  target: { path: string } | { host: string; port: number },
  label: string,
  options: ConnectOptions<In>,
): Promise<Transport<Out, In>> {
  const socket: Socket = netConnect(target)
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', (err) => reject(fromErrno(err, `connect ${label}`)))
  })
  try {
    await withWait(connected, options, `connect ${label}`)
  } catch (err) {
    socket.destroy()
    throw err
  }
  socket.removeAllListeners('error')
  if ('port' in target) socket.setNoDelay(true)
  const peer = 'path' in target ? peerOf(socket) : undefined
  if ('path' in target && peer === undefined) {
    socket.destroy()
    throw new IpcError('ERR_IPC_CLOSED', `connect ${label}: the server closed the connection at once`)
  }
  return socketTransport<Out, In>(socket, peer, options)
}
