/**
 * `@ipc/signal` — real-time signals for Node: {@link signals} (`on()`, `events()`) with the
 * sender's pid, uid and value, delivered in the order sent; {@link sendSignal} to queue one with a
 * value; and the `signal:` transport (`listen('signal:')`, `connect('signal:<pid>')`), four bytes
 * per signal — slow by nature, but it needs nothing but a pid. Importing this package registers the
 * `signal` scheme with `@ipc/core` (which also imports it by itself on the first `signal:` address).
 *
 * @packageDocumentation
 */
import { type Listener, type Transport, connect as coreConnect, listen as coreListen } from '@ipc/core'
import { type Address, registerScheme } from '@ipc/core/mechanism'
import { connectSignal } from './connect.js'
import { listenSignal } from './listen.js'
import { SIGNAL_OPTIONS, type SignalConnectOptions, type SignalListenOptions } from './options.js'

export { type SendSignalOptions, type SignalEventsOptions, type SignalInfo, type SignalListener, sendSignal, signals } from './events.js'
export { SIGRTMAX, SIGRTMIN, type SignalCode, type SignalName, caughtSignals, signalName, signalNumber } from './names.js'
export type { SignalConnectOptions, SignalListenOptions } from './options.js'
export { signalWindow } from './handshake.js'

registerScheme('signal', {
  connect: (a: Address, o: SignalConnectOptions) => connectSignal(a, o),
  listen: (a: Address, o: SignalListenOptions) => listenSignal(a, o),
  options: SIGNAL_OPTIONS,
  sampleAddresses: () => ['signal:'],
})

/** Connects to a `signal:<pid>` address (the same as `@ipc/core`'s `connect`). */
export function connect<Out = unknown, In = unknown>(address: string, options?: SignalConnectOptions<In>): Promise<Transport<Out, In>> {
  return coreConnect<Out, In>(address, options)
}

/** Listens at `signal:` (this process; the same as `@ipc/core`'s `listen`). */
export function listen<Out = unknown, In = unknown>(address: string, options?: SignalListenOptions<In>): Promise<Listener<Out, In>> {
  return coreListen<Out, In>(address, options)
}
