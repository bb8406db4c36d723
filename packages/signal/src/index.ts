/**
 * `@ipc/signal` — real-time signals for Node: {@link signals} (`on()`, `events()`) with the
 * sender's pid, uid and value, delivered in the order sent; {@link sendSignal} to queue one with a
 * value.
 *
 * @packageDocumentation
 */
export { type SendSignalOptions, type SignalEventsOptions, type SignalInfo, type SignalListener, sendSignal, signals } from './events.js'
export { SIGRTMAX, SIGRTMIN, type SignalCode, type SignalName, caughtSignals, signalName, signalNumber } from './names.js'
