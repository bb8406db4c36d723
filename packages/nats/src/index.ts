/**
 * `@ipc/nats` — the ipc `Transport` across machines over a NATS server:
 * `listen('nats://broker:4222/orders')` on one host, `connect('nats://broker:4222/orders')` on
 * another. A session layer (`@ipc/core/mechanism`'s `sessionLink`) keeps every promise of the
 * local transports over the server's at-most-once delivery: whole, in order, exactly once,
 * backpressure, peer death noticed, and everything sent again after the server comes back
 * (within `resume`). Importing this package registers the `nats` scheme with `@ipc/core` (which
 * also imports it by itself on the first `nats:` address).
 *
 * @packageDocumentation
 */
import { type Listener, type Transport, connect as coreConnect, listen as coreListen } from '@ipc/core'
import { type Address, registerScheme } from '@ipc/core/mechanism'
import { connectNats } from './connect.js'
import { listenNats } from './listen.js'
import { NATS_OPTIONS, type NatsConnectOptions, type NatsListenOptions } from './options.js'

export type { NatsAuth, NatsCommonOptions, NatsConnectOptions, NatsListenOptions } from './options.js'

registerScheme('nats', {
  connect: (a: Address, o: NatsConnectOptions) => connectNats(a, o),
  listen: (a: Address, o: NatsListenOptions) => listenNats(a, o),
  options: NATS_OPTIONS,
  sampleAddresses: () => (process.env.IPC_NATS_URL ? [`${process.env.IPC_NATS_URL.replace(/\/+$/, '')}/ipc-sample-${process.pid}`] : []),
})

/** Connects to a `nats://host:port/subject` address (the same as `@ipc/core`'s `connect`). */
export function connect<Out = unknown, In = unknown>(address: string, options?: NatsConnectOptions<In>): Promise<Transport<Out, In>> {
  return coreConnect<Out, In>(address, options)
}

/** Listens at a `nats://host:port/subject` address (the same as `@ipc/core`'s `listen`). */
export function listen<Out = unknown, In = unknown>(address: string, options?: NatsListenOptions<In>): Promise<Listener<Out, In>> {
  return coreListen<Out, In>(address, options)
}
