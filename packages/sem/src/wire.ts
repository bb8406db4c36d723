/**
 * The `sem:` wire format, written down once: the link and the tests' raw clients use these numbers;
 * the README documents them for peers in other languages.
 *
 * A connection is one sealed memfd made by the client, laid out as an `shm:` segment with the
 * smallest rings (4096 bytes each; only the handshake and the doorbells are used) followed by the
 * bounded buffers:
 *
 * ```text
 * [0, 12288)       shm: header (handshake words; see @ipc/shm) and its two unused 4 KiB rings
 * 12288 + 256 d    direction d's semaphores (d 0: client → listener, 1: listener → client), each a
 *                  process-shared POSIX sem_t (32 bytes) on a cache line of its own:
 *                    +0 empty (starts at `slots`), +64 full (starts at 0), +128 mutex (starts at 1)
 * 16384            the slots: direction d's slot i at 16384 + (d × slots + i) × slotSize, each
 *                    +0 seq (u32 LE, the slot's number in its direction, wrapping), +4 len (u32 LE),
 *                    +8 reserved, +16 len bytes of core's framed stream
 * ```
 *
 * Producer: take `empty`, take `mutex`, copy the unit into the next slot and write `seq` and `len`,
 * post `mutex`, then post `full` — last, so a producer killed before it exposes nothing. Consumer:
 * take `full`, check `seq` and `len`, copy the unit out, post `empty`. Handshake words 16 and 17
 * hold `slots` and `slotSize`.
 */
import { FLAVOUR_WORDS, MIN_CAPACITY, segmentSize } from '@ipc/shm/handshake'

/** `"SEM1"` read as a little-endian u32: the segment's handshake word MAGIC. */
export const SEM_MAGIC = 0x314d4553

/** Ring capacity of the shm: part (its rings are unused). */
export const CONTROL_CAPACITY = MIN_CAPACITY
/** Where the semaphores begin. */
export const SEMAPHORES_BASE = segmentSize(CONTROL_CAPACITY)
/** Bytes of each direction's semaphore block. */
export const SEMAPHORES_STRIDE = 256
/** Offsets of the three semaphores in a direction's block. */
export const Sem = { EMPTY: 0, FULL: 64, MUTEX: 128 } as const
/** Where the slots begin. */
export const SLOTS_BASE = 16384
/** Bytes of a slot's header. */
export const SLOT_HEADER = 16

/** The value each of a direction's semaphores starts at (the client makes them before its offer). */
export function initialValues(slots: number): [number, number][] {
  return [
    [Sem.EMPTY, slots],
    [Sem.FULL, 0],
    [Sem.MUTEX, 1],
  ]
}

/** Handshake words of sem:. */
export const SemWord = { SLOTS: FLAVOUR_WORDS, SLOT_SIZE: FLAVOUR_WORDS + 1 } as const

/** Limits of the layout. */
export const MIN_SLOTS = 1
export const MAX_SLOTS = 65536
export const MIN_SLOT_SIZE = 256
export const MAX_SLOT_SIZE = 16 * 1024 * 1024
/** Bytes of all slots of one direction, at most. */
export const MAX_DIRECTION_BYTES = 1024 * 1024 * 1024

/** Byte offset of semaphore `which` of direction `d`. */
export function semaphoreOffset(d: 0 | 1, which: number): number {
  return SEMAPHORES_BASE + SEMAPHORES_STRIDE * d + which
}

/** Byte offset of slot `i` of direction `d`. */
export function slotOffset(d: 0 | 1, i: number, slots: number, slotSize: number): number {
  return SLOTS_BASE + (d * slots + i) * slotSize
}

/** Segment size for a layout. */
export function semSegmentSize(slots: number, slotSize: number): number {
  return SLOTS_BASE + 2 * slots * slotSize
}

/** Why a layout is impossible, or undefined when it is fine. */
export function layoutProblem(slots: number, slotSize: number): string | undefined {
  if (!Number.isSafeInteger(slots) || slots < MIN_SLOTS || slots > MAX_SLOTS) return `slots must be an integer from ${MIN_SLOTS} to ${MAX_SLOTS}, got ${slots}`
  if (!Number.isSafeInteger(slotSize) || slotSize < MIN_SLOT_SIZE || slotSize > MAX_SLOT_SIZE || slotSize % 64 !== 0) {
    return `slotSize must be a multiple of 64 from ${MIN_SLOT_SIZE} B to 16 MiB, got ${slotSize}`
  }
  if (slots * slotSize > MAX_DIRECTION_BYTES) return `slots × slotSize must be at most 1 GiB per direction, got ${slots * slotSize}`
  return undefined
}
