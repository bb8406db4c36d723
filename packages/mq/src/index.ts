/**
 * `@ipc/mq` — message queues behind the ipc `Transport`. Importing this package registers the
 * `mq` (POSIX) and `mq+sysv` (System V) schemes with `@ipc/core`.
 *
 * `mq:/name` uses POSIX queues (`mq_open`): the listener owns the server queue `/name`; a client
 * environment makes one reply queue for its connections to it and names it in each hello. Many
 * small messages share one queue message (core's batching), and large ones span several.
 * `send(msg, { priority })` takes 0–31; higher priorities overtake lower ones, order holds within
 * a priority.
 *
 * `mq+sysv:/path/key-file` uses one System V queue (`msgget`) per address for every conversation,
 * told apart by mtype; receiving blocks on a dedicated native thread, never the libuv threadpool.
 *
 * Both sides of every connection watch the other's liveness mark (named in the hello and the ack),
 * so a peer process that dies — or a `worker_threads` Worker that ends — is noticed at once.
 *
 * @packageDocumentation
 */
import { type ConnectOptions, type Listener, type Transport, connect as coreConnect, listen as coreListen } from '@ipc/core'
import { type Address, count, registerScheme, size } from '@ipc/core/mechanism'
import { connectMq } from './posix/connect.js'
import { listenMq } from './posix/listen.js'
import type { MqOptions } from './posix/rendezvous.js'
import { MIN_MSGSIZE } from './posix/wire.js'
import { connectSysv } from './sysv/connect.js'
import { type SysvListenOptions, listenSysv } from './sysv/listen.js'

export type { MqOptions } from './posix/rendezvous.js'
export { PRIORITIES } from './posix/wire.js'
export type { SysvListenOptions } from './sysv/listen.js'
export { type MqLimits, type QueueShape, queueBytes, readLimits, sysvUnitBytes } from './limits.js'

/** The largest backlog either scheme accepts. */
const MAX_BACKLOG = 1 << 20

let samples = 0
registerScheme('mq', {
  connect: (a: Address, o: ConnectOptions) => connectMq(a, o as MqOptions & ConnectOptions),
  listen: (a: Address, o: MqOptions) => listenMq(a, o),
  // maxmsg above fs.mqueue.msg_max needs CAP_SYS_RESOURCE (up to the kernel's 65536); the same for msgsize (16 MiB)
  options: { maxmsg: count(1, 65536), msgsize: size(MIN_MSGSIZE, 16 * 1024 * 1024), backlog: count(1, MAX_BACKLOG) },
  sampleAddresses: () => [`mq:/ipc-sample-${process.pid}-${++samples}`],
})

registerScheme('mq+sysv', {
  connect: (a: Address, o: ConnectOptions) => connectSysv(a, o),
  listen: (a: Address, o: SysvListenOptions) => listenSysv(a, o),
  options: { backlog: count(1, MAX_BACKLOG) },
  sampleAddresses: (dir: string) => [`mq+sysv:${dir}/swap.key`],
})

/** Connects to an `mq:` or `mq+sysv:` address (the same as `@ipc/core`'s `connect`). */
export function connect<Out = unknown, In = unknown>(address: string, options?: MqOptions<In> & ConnectOptions<In>): Promise<Transport<Out, In>> {
  return coreConnect<Out, In>(address, options)
}

/** Listens at an `mq:` or `mq+sysv:` address (the same as `@ipc/core`'s `listen`). */
export function listen<Out = unknown, In = unknown>(address: string, options?: MqOptions<In> | SysvListenOptions<In>): Promise<Listener<Out, In>> {
  return coreListen<Out, In>(address, options)
}
export { leftovers } from './leftovers.js'
