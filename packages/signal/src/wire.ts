/**
 * The `signal:` wire format, written down once (the code and the tests' raw senders use it; the
 * README documents it for peers in other languages).
 *
 * Three real-time signals per address: data `D` (default `SIGRTMIN+20`), control `C` = `D + 1` and
 * hello `H` = `D + 2`. Every signal is queued with `si_code` `SI_QUEUE` and a 64-bit value
 * (`sival_ptr`; its low half is `sival_int`): `high << 32 | low`. Hellos go to the listener's
 * process (its one reader of `H` takes them); everything else is directed at the thread of the
 * other end (`rt_tgsigqueueinfo`; each end names its thread in the handshake), which reads it from
 * a signalfd on its own event loop.
 *
 * - Data (`D`): `low` = up to four bytes of core's framed stream, little-endian (byte 0 in bits
 *   0–7); `high` = `side << 24 | conn << 8 | len`, `len` 1 to 4 the bytes used.
 * - Control (`C`) and hello (`H`): `high` = `side << 24 | conn << 8 | kind`, `low` = its argument
 *   ({@link Kind}).
 *
 * `side` is 1 when the listener's end sent it, 0 for the client's (so a process can connect to
 * itself: both ends then have the same pid and `conn`).
 *
 * `conn` (1 to 65535) is chosen by the client and names the connection together with the pids of
 * both ends (`si_pid`). Handshake: the client sends HELLO, TID, MARK_FD, MARK_INO_LO, MARK_INO_HI
 * (its thread and liveness mark) on `H`; the listener answers on `C` with ACK, TID and its own
 * three MARK signals, or REFUSE. Each side
 * then sends data while it has credit (the other side's window, announced in HELLO / ACK), and
 * gives credit back (CREDIT n) as it delivers what it received.
 */

/** The data signal's offset from SIGRTMIN unless the address names another: SIGRTMIN+20. */
export const DEFAULT_DATA_OFFSET = 20

/** Control kinds (low 8 bits of a control signal's high half). */
export const Kind = {
  /** Client → listener: `low` = {@link HELLO_MAGIC} << 16 | {@link VERSION} << 8 | log2(window). */
  HELLO: 1,
  /** The sender's liveness mark: its descriptor number (`low`); the mark's pid is `si_pid`. */
  MARK_FD: 2,
  /** The mark's inode, low 32 bits. */
  MARK_INO_LO: 3,
  /** The mark's inode, high 32 bits. */
  MARK_INO_HI: 4,
  /** Listener → client: as HELLO, with the listener's window. */
  ACK: 5,
  /** `low` more data signals may be sent. */
  CREDIT: 6,
  /** The sender's thread for this connection (`low` = its thread id): where signals to it go. */
  TID: 8,
  /** The sender's end is closed (after its last data): the end of the stream, as EOF. */
  CLOSE: 9,
  /** Listener → client: the hello is refused (`low` = {@link Refusal}). */
  REFUSE: 7,
} as const

/** Why a listener refuses a hello. */
export const Refusal = {
  /** The connection number is in use between these two processes: pick another. */
  IN_USE: 1,
  /** The listener is closing. */
  CLOSING: 2,
  /** Wrong magic or version. */
  VERSION: 3,
} as const

/** `"IS"` in the top half of HELLO/ACK's argument. */
export const HELLO_MAGIC = 0x4953
export const VERSION = 1

/** Largest window (data signals in flight per direction and connection) an end announces. */
export const MAX_WINDOW_LOG2 = 10

/** A HELLO or ACK argument. */
export function helloArg(windowLog2: number): number {
  return ((HELLO_MAGIC << 16) | (VERSION << 8) | windowLog2) >>> 0
}

/** The window of a HELLO or ACK argument, or undefined when it is not one of this version. */
export function parseHelloArg(low: number): number | undefined {
  const arg = low >>> 0
  if (arg >>> 16 !== HELLO_MAGIC || ((arg >>> 8) & 0xff) !== VERSION) return undefined
  const log2 = arg & 0xff
  return log2 <= MAX_WINDOW_LOG2 ? 1 << log2 : undefined
}

/** The `side` bit of a signal sent by the listener's end. */
export const FROM_LISTENER = 1 << 24

/** The high half of a control signal (`side` 0 or {@link FROM_LISTENER}). */
export function controlHigh(side: number, conn: number, kind: number): number {
  return (side | (conn << 8) | kind) >>> 0
}

/** The high half of a data signal. */
export function dataHigh(side: number, conn: number, len: number): number {
  return (side | (conn << 8) | len) >>> 0
}

/** The fields of a signal's high half. */
export function parseHigh(high: number): { side: number; conn: number; kind: number } {
  return { side: high & FROM_LISTENER, conn: (high >>> 8) & 0xffff, kind: high & 0xff }
}
