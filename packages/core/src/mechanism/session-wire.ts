/**
 * The session unit, written down once (the session link and the tests' hostile clients use it):
 * a 16-byte header, big-endian, then the payload (data units only).
 *
 * | offset | size | field |
 * |---:|---:|---|
 * | 0 | 1 | kind: DATA 1, ACK 2, NACK 3, PING 4, PONG 5 |
 * | 1 | 1 | flags: PING bit 0 = answer wanted; others 0 |
 * | 2 | 2 | 0 |
 * | 4 | 4 | `seq`: DATA: this unit's number; others: the next unit number the sender of this unit has *received* (for NACK: the first one missing) |
 * | 8 | 4 | `ack`: the next unit number the sender of this unit will *deliver* (cumulative; units before it are done) |
 * | 12 | 4 | `window`: bytes of data the sender of this unit accepts beyond `ack` |
 */

/** Bytes of the header. */
export const SESSION_HEADER = 16

/** Unit kinds. */
export const UNIT = { DATA: 1, ACK: 2, NACK: 3, PING: 4, PONG: 5 } as const

/** PING flag: the peer should answer with a PONG. */
export const ANSWER_WANTED = 1

/** A parsed unit header. */
export interface UnitHeader {
  kind: number
  flags: number
  seq: number
  ack: number
  window: number
}

/** Writes a unit: the header, then `payload` (DATA). */
export function encodeUnit(kind: number, flags: number, seq: number, ack: number, window: number, payload?: Uint8Array): Uint8Array {
  const unit = new Uint8Array(SESSION_HEADER + (payload?.length ?? 0))
  const view = new DataView(unit.buffer)
  view.setUint8(0, kind)
  view.setUint8(1, flags)
  view.setUint32(4, seq >>> 0)
  view.setUint32(8, ack >>> 0)
  view.setUint32(12, window >>> 0)
  if (payload !== undefined) unit.set(payload, SESSION_HEADER)
  return unit
}

/** Reads a unit's header; a string says what is wrong with it. */
export function decodeUnit(unit: Uint8Array): UnitHeader | string {
  if (unit.length < SESSION_HEADER) return `a unit of ${unit.length} bytes is shorter than its header`
  const view = new DataView(unit.buffer, unit.byteOffset, unit.byteLength)
  const kind = view.getUint8(0)
  const flags = view.getUint8(1)
  if (kind < UNIT.DATA || kind > UNIT.PONG) return `unknown unit kind ${kind}`
  if (view.getUint16(2) !== 0) return 'reserved header bytes are not 0'
  if (flags !== 0 && !(kind === UNIT.PING && flags === ANSWER_WANTED)) return `bad flags ${flags} for unit kind ${kind}`
  if (kind !== UNIT.DATA && unit.length !== SESSION_HEADER) return `a control unit (kind ${kind}) with a payload`
  if (kind === UNIT.DATA && unit.length === SESSION_HEADER) return 'an empty data unit'
  return { kind, flags, seq: view.getUint32(4), ack: view.getUint32(8), window: view.getUint32(12) }
}

/** `a - b` for unit numbers that wrap at 2^32 (positive when `a` is after `b`). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0
}
