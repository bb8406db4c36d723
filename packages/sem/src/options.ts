/** Options of `sem:` addresses and of `connect()`/`listen()` for them. */
import type { ConnectOptions, ListenOptions } from '@ipc/core'
import { count, duration, size } from '@ipc/core/mechanism'
import { MAX_SLOTS, MAX_SLOT_SIZE, MIN_SLOTS, MIN_SLOT_SIZE } from './wire.js'

/** Options of `connect()` for `sem:` addresses (also as `sem:/app?slots=64&slotSize=64KiB`). */
export interface SemConnectOptions<In = unknown> extends ConnectOptions<In> {
  /**
   * Slots per direction (1 to 65536).
   * @defaultValue `16`
   */
  slots?: number | string
  /**
   * Bytes per slot, header included: a multiple of 64 from 256 B to 16 MiB.
   * @defaultValue 64 KiB
   */
  slotSize?: number | string
}

/** Options of `listen()` for `sem:` addresses. */
export interface SemListenOptions<In = unknown> extends ListenOptions<In> {
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
}

/** Default slots per direction. */
export const DEFAULT_SLOTS = 16
/** Default bytes per slot. */
export const DEFAULT_SLOT_SIZE = 64 * 1024

/** The parsers of the scheme's options (core applies them to address and options alike). */
export const SEM_OPTIONS = {
  slots: count(MIN_SLOTS, MAX_SLOTS),
  slotSize: size(MIN_SLOT_SIZE, MAX_SLOT_SIZE),
  backlog: count(1, 1 << 20),
  handshakeTimeout: duration(1),
}
