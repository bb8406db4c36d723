/**
 * `@ipc/sem` — semaphores shared between processes, for Node, and the bounded-buffer transport
 * built from them.
 *
 * - {@link Semaphore}: POSIX named, or System V with `SEM_UNDO` so a crashed holder gives its units
 *   back; waits never block the event loop and never occupy the libuv threadpool.
 * - `sem:/name?slots=16&slotSize=64KiB`: per direction, fixed-size slots in a sealed memfd guarded
 *   by three process-shared semaphores inside it (`empty`, `full`, `mutex`), behind the ipc
 *   `Transport`. Importing this package registers the `sem` scheme with `@ipc/core` (which also
 *   imports it by itself on the first `sem:` address).
 *
 * @packageDocumentation
 */
import { type Listener, type Transport, connect as coreConnect, listen as coreListen } from '@ipc/core'
import { type Address, registerScheme } from '@ipc/core/mechanism'
import { connectSegment, listenSegment } from '@ipc/shm/handshake'
import { basename } from 'node:path'
import { SEM_OPTIONS, type SemConnectOptions, type SemListenOptions } from './options.js'
import { SEM_FLAVOUR } from './transport.js'

export { SEMVMX, SEM_VALUE_MAX } from './errors.js'
export { KEY_FILE_TEXT } from './names.js'
export { DEFAULT_SLOTS, DEFAULT_SLOT_SIZE, type SemConnectOptions, type SemListenOptions } from './options.js'
export { Semaphore, type SemaphoreCreateOptions, type SemaphoreKind, type SemaphoreLock, type SemaphoreOpenOptions } from './semaphore.js'

registerScheme('sem', {
  connect: (a: Address, o: SemConnectOptions) => connectSegment(a, o, SEM_FLAVOUR),
  listen: (a: Address, o: SemListenOptions) => listenSegment(a, o, SEM_FLAVOUR as never),
  options: SEM_OPTIONS,
  sampleAddresses: (dir: string) => [`sem:/${basename(dir).replace(/[^A-Za-z0-9._-]/g, '_')}-swap`],
})

/** Connects to a `sem:` address (the same as `@ipc/core`'s `connect`). */
export function connect<Out = unknown, In = unknown>(address: string, options?: SemConnectOptions<In>): Promise<Transport<Out, In>> {
  return coreConnect<Out, In>(address, options)
}

/** Listens at a `sem:` address (the same as `@ipc/core`'s `listen`). */
export function listen<Out = unknown, In = unknown>(address: string, options?: SemListenOptions<In>): Promise<Listener<Out, In>> {
  return coreListen<Out, In>(address, options)
}
export { leftovers } from './leftovers.js'
