import { type AddressInfo, type Socket, createServer } from 'node:net'
import { type Address, type ConnectOptions, IpcError, type Listener, type Transport } from '@ipc/core'
import { type ListenerControl, createListener, fromErrno, resolveTransportOptions } from '@ipc/core/mechanism'
import { connectSocket } from './connect.js'
import { offerConnection, socketTransport, watchServer } from './connection.js'
import { type TcpListenOptions, parseBacklog } from './options.js'

function tcpTarget(address: Address, forListen: boolean): { host: string; port: number } {
  if (!address.target.startsWith('//') || address.port === undefined) {
    throw new IpcError('ERR_IPC_INVALID_ADDRESS', `tcp: addresses look like tcp://127.0.0.1:7000, got "${address.text}"`)
  }
  if (!forListen && address.port === 0) throw new IpcError('ERR_IPC_INVALID_ADDRESS', `cannot connect to port 0: "${address.text}"`)
  return { host: address.host ?? '127.0.0.1', port: address.port }
}

/** `tcp:` connect (TCP_NODELAY on). */
export function connectTcp<Out, In>(address: Address, options: ConnectOptions<In>): Promise<Transport<Out, In>> {
  return connectSocket<Out, In>(tcpTarget(address, false), address.text, options)
}

/** `tcp:` listen, on loopback unless the address names a host; `backlog` (default 511) bounds both the kernel's queue and the listener's. */
export async function listenTcp<Out, In>(address: Address, options: TcpListenOptions<In>): Promise<Listener<Out, In>> {
  const { host, port } = tcpTarget(address, true)
  const transportOptions = resolveTransportOptions(options)
  const backlog = parseBacklog(options.backlog)
  const server = createServer({ pauseOnConnect: true, noDelay: true })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host, port, backlog }, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    throw fromErrno(err, `listen ${address.text}`)
  }
  const bound = server.address() as AddressInfo
  const shown = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address
  const control = createListener<Out, In>(
    {
      address: `tcp://${shown}:${bound.port}`,
      // server.close() stops listening at once; its callback would wait for accepted connections too
      close: async () => void server.close(),
    },
    backlog,
  )
  const label = control.listener.address
  server.on('connection', (socket: Socket) => {
    socket.setNoDelay(true)
    offerConnection(control, socketTransport<Out, In>(socket, undefined, transportOptions), label, backlog)
  })
  watchServer(server, control as ListenerControl<unknown, unknown>, label)
  return control.listener
}
