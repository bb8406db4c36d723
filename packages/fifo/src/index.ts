/**
 * `@ipc/fifo` — named pipes between unrelated processes behind the ipc `Transport`
 * (`fifo:/run/app`). Importing this package registers the `fifo` scheme with `@ipc/core`.
 *
 * The classic client/server design: the listener reads one well-known FIFO; a client makes its own
 * pair of FIFOs (one per direction) in `<path>.d/`, announces them with a hello line of at most
 * PIPE_BUF bytes (so concurrent hellos never interleave), and the two then talk over the pair with
 * core's framing. Every open is non-blocking; both sides watch each other's process with a pidfd.
 *
 * @packageDocumentation
 */
import { type ConnectOptions, type Listener, type Transport, connect as coreConnect, listen as coreListen } from '@ipc/core'
import { type Address, count, duration, registerScheme } from '@ipc/core/mechanism'
import { connectFifo } from './connect.js'
import { type FifoListenOptions, listenFifo } from './listen.js'

export type { FifoListenOptions } from './listen.js'

registerScheme('fifo', {
  connect: (a: Address, o: ConnectOptions) => connectFifo(a, o),
  listen: (a: Address, o: FifoListenOptions) => listenFifo(a, o),
  options: { backlog: count(1, 1 << 20), handshakeTimeout: duration(1) },
  sampleAddresses: (dir: string) => [`fifo:${dir}/swap.fifo`],
})

/** Connects to a `fifo:` address (the same as `@ipc/core`'s `connect`). */
export function connect<Out = unknown, In = unknown>(address: string, options?: ConnectOptions<In>): Promise<Transport<Out, In>> {
  return coreConnect<Out, In>(address, options)
}

/** Listens at a `fifo:` address (the same as `@ipc/core`'s `listen`). */
export function listen<Out = unknown, In = unknown>(address: string, options?: FifoListenOptions<In>): Promise<Listener<Out, In>> {
  return coreListen<Out, In>(address, options)
}
export { leftovers } from './leftovers.js'
