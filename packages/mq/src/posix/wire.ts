/**
 * Every byte `mq:` puts on a POSIX queue besides core's frames, written down once. The code and
 * the tests' raw clients both use it (the tests' child processes import the built copy,
 * `dist/posix/wire.js`).
 *
 * - Server queue `/name`: units `[u32 tag][bytes]` (the tag is prepended by `mqSend`). Tag 0
 *   is a hello; any other tag is the listener's connection tag, given in the ack.
 * - Reply queue `/name.<pid>.<16 hex>` (one per client environment and server, shared by that
 *   environment's connections): units `[u32 tag][bytes]` with the client's own tag, chosen in
 *   the hello. The first unit of a tag is the ack; core's frames follow.
 * - `mqReceiveMany` fills its buffer with records `[u32 length][u32 priority][bytes]`.
 */
import { MARK_REF_BYTES, type MarkRef, writeMarkRef } from '@ipc/core/mechanism'
import { type Ack, HELLO_TAG, decodeAckWith, encodeAckWith, openHello } from '../tagging.js'

export { ACK_BYTES, type Ack, HELLO_TAG, TAG_BYTES, tagged, untag } from '../tagging.js'

/** Priorities offered to `send(msg, { priority })`: 0 (lowest) to `PRIORITIES - 1`; the ack goes at the top one. */
export const PRIORITIES = 32
/** Bytes of a record header in an `mqReceiveMany` buffer: `[u32 length][u32 priority]`. */
export const RECORD_HEADER_BYTES = 8
/** The smallest queue message that carries a tagged hello or ack (and the `msgsize` option's minimum). */
export const MIN_MSGSIZE = 64

/** "IPM2" little-endian: starts every hello (version 2: marks and client tags; version 1 was a text line). */
export const HELLO_MAGIC = 0x324d5049
/** "IPA2" little-endian: starts every ack. */
export const ACK_MAGIC = 0x32415049
/** Random bytes in a reply queue's name. */
export const REPLY_RANDOM_BYTES = 8
/** `[u32 magic][mark 16][8 random][u32 client tag]`. */
export const HELLO_BYTES = 4 + MARK_REF_BYTES + REPLY_RANDOM_BYTES + 4

/**
 * A client's hello: its environment's mark (whose pid is the client's), the random part of its
 * reply queue's name, and the tag the listener puts in front of every unit for this connection.
 */
export interface Hello {
  mark: MarkRef
  random: Buffer
  clientTag: number
}

/** The reply queue a hello names: `<server>.<pid>.<random as hex>`. */
export function replyQueueName(server: string, pid: number, random: Uint8Array): string {
  return `${server}.${pid}.${Buffer.from(random).toString('hex')}`
}

/** The hello's bytes (sent with tag {@link HELLO_TAG}). */
export function encodeHello(hello: Hello): Buffer {
  if (hello.random.length !== REPLY_RANDOM_BYTES) throw new RangeError(`a hello names ${REPLY_RANDOM_BYTES} random bytes`)
  const out = Buffer.alloc(HELLO_BYTES)
  out.writeUInt32LE(HELLO_MAGIC, 0)
  writeMarkRef(hello.mark, out, 4)
  hello.random.copy(out, 4 + MARK_REF_BYTES)
  out.writeUInt32LE(hello.clientTag, 4 + MARK_REF_BYTES + REPLY_RANDOM_BYTES)
  return out
}

/** Parses a hello's bytes (after the tag); throws an `Error` saying what is wrong. */
export function decodeHello(bytes: Uint8Array): Hello {
  const { b, mark } = openHello(bytes, HELLO_MAGIC, HELLO_BYTES)
  const clientTag = b.readUInt32LE(4 + MARK_REF_BYTES + REPLY_RANDOM_BYTES)
  if (clientTag === 0) throw new Error('client tag 0')
  return { mark, random: Buffer.from(b.subarray(4 + MARK_REF_BYTES, 4 + MARK_REF_BYTES + REPLY_RANDOM_BYTES)), clientTag }
}

/** The ack's bytes (sent with the client's tag, at priority `PRIORITIES - 1`). */
export const encodeAck = (ack: Ack): Buffer => encodeAckWith(ACK_MAGIC, ack)

/** Parses an ack, or `undefined` if the bytes are not one. */
export const decodeAck = (bytes: Uint8Array): Ack | undefined => decodeAckWith(ACK_MAGIC, bytes)

/** Calls `each(bytes, priority)` for every record of an `mqReceiveMany` buffer (the first `used` bytes). */
export function forEachRecord(buffer: Buffer, used: number, each: (bytes: Buffer, priority: number) => void): number {
  let at = 0
  let count = 0
  while (at + RECORD_HEADER_BYTES <= used) {
    const length = buffer.readUInt32LE(at)
    const priority = buffer.readUInt32LE(at + 4)
    each(buffer.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + length), priority)
    at += RECORD_HEADER_BYTES + length
    count++
  }
  return count
}
