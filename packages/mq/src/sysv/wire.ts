/**
 * Every byte `mq+sysv:` puts on a System V queue besides core's frames, written down once. The
 * code and the tests' raw clients both use it (the tests' child processes import the built copy,
 * `dist/sysv/wire.js`).
 *
 * One queue per address carries every conversation, told apart by mtype:
 * - mtype {@link MTYPE_HEADER}: the listener's header ({@link HEADER}), kept in the queue so a
 *   later listener can tell a queue of ours from someone else's;
 * - mtype {@link MTYPE_SERVER}: every listener-bound message, `[u32 tag][unit]`; tag 0 is a hello,
 *   any other the connection's tag from the ack;
 * - each client's own random mtype in [{@link MIN_CLIENT_MTYPE}, {@link MAX_CLIENT_MTYPE}]: the
 *   ack, then its units (no tag).
 *
 * A connection unit starts with a kind byte: data (core's bytes follow), credit (a u32 of bytes
 * the receiver consumed), closed (the sender is done: it sends nothing more and reads nothing
 * more; the other side answers with its own closed unless it has sent it already).
 * A `SysvReceiver` batch is a run of records `[u32 length][bytes]`.
 */
import { MARK_REF_BYTES, type MarkRef, writeMarkRef } from '@ipc/core/mechanism'
import { type Ack, HELLO_TAG, decodeAckWith, encodeAckWith, openHello } from '../tagging.js'

export { ACK_BYTES, type Ack, HELLO_TAG, TAG_BYTES, tagged, untag } from '../tagging.js'

/** mtype of the header message. */
export const MTYPE_HEADER = 1
/** mtype of every listener-bound message. */
export const MTYPE_SERVER = 2
/** The lowest mtype a client receives on. */
export const MIN_CLIENT_MTYPE = 0x1000000
/** The highest mtype a client receives on. */
export const MAX_CLIENT_MTYPE = 0x7fffffff
/** The header's bytes (version 2: liveness marks; version 1 named the owner pid). */
export const HEADER = Buffer.from('IPCSV2', 'latin1')
/** Bytes of a record header in a `SysvReceiver` batch: `[u32 length]`. */
export const RECORD_HEADER_BYTES = 4

/** "ISH2" little-endian: starts every hello. */
export const HELLO_MAGIC = 0x32485349
/** "ISA2" little-endian: starts every ack. */
export const ACK_MAGIC = 0x32415349
/** `[u32 magic][mark 16][u32 client mtype]`. */
export const HELLO_BYTES = 4 + MARK_REF_BYTES + 4

/** Kind byte of a data unit: core's bytes follow. */
export const KIND_DATA = 0
/** Kind byte of a credit unit: a u32 of data bytes the receiver has consumed follows. */
export const KIND_CREDIT = 1
/** Kind byte of the closed unit, the last unit a side sends. */
export const KIND_CLOSED = 2
/** The closed unit. */
export const CLOSED_UNIT: Uint8Array = Uint8Array.of(KIND_CLOSED)

/** A client's hello: its environment's mark (the pid in it is the client's) and the mtype it receives on. */
export interface Hello {
  mark: MarkRef
  mtype: number
}

/** `true` when `bytes` is our header. */
export function isHeader(bytes: Uint8Array | null): boolean {
  return bytes !== null && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).equals(HEADER)
}

/** The hello's bytes (sent tagged with {@link HELLO_TAG} on {@link MTYPE_SERVER}). */
export function encodeHello(hello: Hello): Buffer {
  const out = Buffer.alloc(HELLO_BYTES)
  out.writeUInt32LE(HELLO_MAGIC, 0)
  writeMarkRef(hello.mark, out, 4)
  out.writeUInt32LE(hello.mtype, 4 + MARK_REF_BYTES)
  return out
}

/** Parses a hello (after the tag); throws an `Error` saying what is wrong. */
export function decodeHello(bytes: Uint8Array): Hello {
  const { b, mark } = openHello(bytes, HELLO_MAGIC, HELLO_BYTES)
  const mtype = b.readUInt32LE(4 + MARK_REF_BYTES)
  if (mtype < MIN_CLIENT_MTYPE || mtype > MAX_CLIENT_MTYPE) throw new Error(`mtype ${mtype} is outside ${MIN_CLIENT_MTYPE}–${MAX_CLIENT_MTYPE}`)
  return { mark, mtype }
}

/** The ack's bytes (the first message on the client's mtype). */
export const encodeAck = (ack: Ack): Buffer => encodeAckWith(ACK_MAGIC, ack)

/** Parses an ack, or `undefined` if the bytes are not one. */
export const decodeAck = (bytes: Uint8Array): Ack | undefined => decodeAckWith(ACK_MAGIC, bytes)

/** A data unit: the kind byte, then `bytes`. */
export function dataUnit(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(1 + bytes.length)
  out[0] = KIND_DATA
  out.set(bytes, 1)
  return out
}

/** A credit unit for `bytes` consumed. */
export function creditUnit(bytes: number): Buffer {
  const out = Buffer.alloc(5)
  out[0] = KIND_CREDIT
  out.writeUInt32LE(bytes, 1)
  return out
}

/** Calls `each(record)` for every record of a `SysvReceiver` batch. */
export function forEachRecord(batch: Buffer, each: (bytes: Buffer) => void): void {
  let at = 0
  while (at + RECORD_HEADER_BYTES <= batch.length) {
    const length = batch.readUInt32LE(at)
    each(batch.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + length))
    at += RECORD_HEADER_BYTES + length
  }
}
