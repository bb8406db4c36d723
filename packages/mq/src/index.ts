/**
 * `@ipc/mq` — message queues behind the ipc `Transport`. Importing this package registers the
 * `mq` scheme with `@ipc/core`.
 *
 * `mq:/name` uses POSIX queues (`mq_open`): the listener owns the server queue `/name`; each client
 * makes its own reply queue and names it in its hello. Many small messages share one queue
 * message (core's batching), and large ones span several. `send(msg, { priority })` takes 0–31;
 * higher priorities overtake lower ones, order holds within a priority.
 *
 * `mq+sysv:/path/key-file` uses one System V queue (`msgget`) per address for every conversation,
 * told apart by mtype; receiving blocks on a dedicated native thread, never the libuv threadpool.
 *
 * @packageDocumentation
 */
import { type Address, type ConnectOptions, type Listener, type Transport, connect as coreConnect, listen as coreListen, registerScheme } from '@ipc/core'
import { type MqOptions, connectMq, listenMq } from './posix.js'
import { connectSysv, listenSysv } from './sysv.js'

export { PRIORITIES, type MqOptions } from './posix.js'
export { type MqLimits, readLimits } from './limits.js'

let samples = 0
registerScheme('mq', {
  connect: (a: Address, o: ConnectOptions) => connectMq(a, o as MqOptions),
  listen: (a: Address, o: MqOptions) => listenMq(a, o),
  params: ['maxmsg', 'msgsize', 'backlog'],
  sampleAddresses: () => [`mq:/ipc-sample-${process.pid}-${++samples}`],
})

registerScheme('mq+sysv', {
  connect: (a: Address, o: ConnectOptions) => connectSysv(a, o),
  listen: (a: Address, o: MqOptions) => listenSysv(a, o),
  params: ['backlog'],
  sampleAddresses: (dir: string) => [`mq+sysv:${dir}/swap.key`],
})

/** Connects to an `mq:` address (the same as `@ipc/core`'s `connect`). */
export function connect<Out = unknown, In = unknown>(address: string, options?: MqOptions<In> & ConnectOptions<In>): Promise<Transport<Out, In>> {
  return coreConnect<Out, In>(address, options)
}

/** Listens at an `mq:` address (the same as `@ipc/core`'s `listen`). */
export function listen<Out = unknown, In = unknown>(address: string, options?: MqOptions<In>): Promise<Listener<Out, In>> {
  return coreListen<Out, In>(address, options)
}
