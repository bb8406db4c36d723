/** Options of `shm:` addresses and of `connect()`/`listen()` for them. */
import type { ConnectOptions, ListenOptions } from '@ipc/core'
import { IpcError, count, duration, size } from '@ipc/core/mechanism'
import { MAX_CAPACITY, MIN_CAPACITY } from './wire.js'

/** Options of `connect()` for `shm:` addresses (also as `shm:/app?capacity=4MiB&spin=50`). */
export interface ShmConnectOptions<In = unknown> extends ConnectOptions<In> {
  /**
   * Bytes of each ring (per direction): a power of two from 4 KiB to 1 GiB.
   * @defaultValue 1 MiB
   */
  capacity?: number | string
  /**
   * Microseconds to busy-poll an empty ring before sleeping (lower latency, a busy core).
   * @defaultValue `0`
   */
  spin?: number | string
}

/** Options of `listen()` for `shm:` addresses. */
export interface ShmListenOptions<In = unknown> extends ListenOptions<In> {
  /**
   * Connections waiting for `accept()`; past it, hellos wait in the hello pipe.
   * @defaultValue `511`
   */
  backlog?: number
  /**
   * Milliseconds a client may take to finish its handshake after its hello.
   * @defaultValue `10_000`
   */
  handshakeTimeout?: number
  /**
   * Microseconds to busy-poll an empty ring before sleeping, for accepted connections.
   * @defaultValue `0`
   */
  spin?: number | string
}

/** Default ring capacity (per direction). */
export const DEFAULT_CAPACITY = 1024 * 1024

/** The parsers of the scheme's options (core applies them to address and options alike). */
export const SHM_OPTIONS = {
  capacity: size(MIN_CAPACITY, MAX_CAPACITY),
  spin: count(0, 1_000_000),
  backlog: count(1, 1 << 20),
  handshakeTimeout: duration(1),
}

/** The ring capacity asked for: a power of two (`ERR_IPC_INVALID_ARGUMENT` otherwise). */
export function capacityOf(value: number | string | undefined): number {
  const capacity = value === undefined ? DEFAULT_CAPACITY : Number(value)
  if (!Number.isSafeInteger(capacity) || capacity < MIN_CAPACITY || capacity > MAX_CAPACITY || (capacity & (capacity - 1)) !== 0) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `capacity must be a power of two from 4 KiB to 1 GiB, got ${String(value)}`)
  }
  return capacity
}
