/**
 * `@ipc/cli` — the `ipc` command (`npx ipc help`), and the same work as functions: list the SDK's
 * kernel objects and rendezvous files ({@link inventory}), remove those of dead owners
 * ({@link clean}), read the kernel limits that matter ({@link doctor}), send to and listen at any
 * address with JSON in and out ({@link send}, {@link listen}).
 *
 * @packageDocumentation
 */
export { bench, findBench } from './bench.js'
export { type CleanOptions, type CleanResult, clean } from './clean.js'
export { type LimitReport, doctor } from './doctor.js'
export { type InventoryOptions, type Leftover, inventory } from './inventory.js'
export { fromJsonText, toJsonLine } from './json.js'
export { type ListenOptions, listen } from './listen.js'
export { type SendOptions, send } from './send.js'
