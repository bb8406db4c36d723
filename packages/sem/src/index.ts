/**
 * `@ipc/sem` — semaphores shared between processes, for Node: {@link Semaphore} (POSIX named, or
 * System V with `SEM_UNDO` so a crashed holder gives its units back), whose waits never block the
 * event loop and never occupy the libuv threadpool.
 *
 * @packageDocumentation
 */
export { SEMVMX, SEM_VALUE_MAX } from './errors.js'
export { KEY_FILE_TEXT } from './names.js'
export { Semaphore, type SemaphoreCreateOptions, type SemaphoreKind, type SemaphoreLock, type SemaphoreOpenOptions } from './semaphore.js'
