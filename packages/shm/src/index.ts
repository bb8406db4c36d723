/**
 * `@ipc/shm` — shared memory between processes behind the ipc `Transport` (`shm:/app`). Importing
 * this package registers the `shm` scheme with `@ipc/core` (which also imports it by itself on the
 * first `shm:` address).
 *
 * Each connection is one sealed memfd the client makes (it cannot be shrunk, so no peer can make
 * the other die of SIGBUS) holding one byte ring per direction for core's framed stream. The peer
 * opens it through `/proc/<pid>/fd/<n>`; the only named object is an owner-only rendezvous file
 * that the live listener holds locked. A side that finds its ring empty sleeps on a doorbell pipe
 * the event loop polls, and is rung only then: while both sides keep up no syscall is made.
 *
 * @packageDocumentation
 */
import { type Listener, type Transport, connect as coreConnect, listen as coreListen } from '@ipc/core'
import { type Address, registerScheme } from '@ipc/core/mechanism'
import { basename } from 'node:path'
import { connectShm } from './connect.js'
import { listenShm } from './listen.js'
import { SHM_OPTIONS, type ShmConnectOptions, type ShmListenOptions } from './options.js'

export { DEFAULT_CAPACITY, type ShmConnectOptions, type ShmListenOptions } from './options.js'
export { RENDEZVOUS_DIR } from './rendezvous.js'
export { type Segment, type SegmentHandle, createSegment, openSegment } from './segment.js'

registerScheme('shm', {
  connect: (a: Address, o: ShmConnectOptions) => connectShm(a, o),
  listen: (a: Address, o: ShmListenOptions) => listenShm(a, o),
  options: SHM_OPTIONS,
  sampleAddresses: (dir: string) => [`shm:/${basename(dir).replace(/[^A-Za-z0-9._-]/g, '_')}-swap`],
})

/** Connects to a `shm:` address (the same as `@ipc/core`'s `connect`). */
export function connect<Out = unknown, In = unknown>(address: string, options?: ShmConnectOptions<In>): Promise<Transport<Out, In>> {
  return coreConnect<Out, In>(address, options)
}

/** Listens at a `shm:` address (the same as `@ipc/core`'s `listen`). */
export function listen<Out = unknown, In = unknown>(address: string, options?: ShmListenOptions<In>): Promise<Listener<Out, In>> {
  return coreListen<Out, In>(address, options)
}
export { leftovers } from './leftovers.js'
