/**
 * What the two queue mechanisms' wire formats share: listener-bound messages carry a connection
 * tag (`[u32 LE tag][bytes]`, tag 0 is a hello), and the listener's ack is
 * `[u32 LE magic][u32 LE connection tag][the listener's liveness mark, 16 bytes]`.
 */
import { MARK_REF_BYTES, type MarkRef, readMarkRef, writeMarkRef } from '@ipc/core/mechanism'

/** The tag of hellos; connections get tags from 1. */
export const HELLO_TAG = 0
/** Bytes of the connection tag in front of a listener-bound message. */
export const TAG_BYTES = 4
/** Bytes of an ack. */
export const ACK_BYTES = 4 + 4 + MARK_REF_BYTES

/** The listener's ack: the connection's tag, and the listener's mark. */
export interface Ack {
  tag: number
  mark: MarkRef
}

/** An ack's bytes, with the mechanism's `magic`. */
export function encodeAckWith(magic: number, ack: Ack): Buffer {
  const out = Buffer.alloc(ACK_BYTES)
  out.writeUInt32LE(magic, 0)
  out.writeUInt32LE(ack.tag, 4)
  writeMarkRef(ack.mark, out, 8)
  return out
}

/** Parses an ack with the mechanism's `magic`, or `undefined` if the bytes are not one. */
export function decodeAckWith(magic: number, bytes: Uint8Array): Ack | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (b.length !== ACK_BYTES || b.readUInt32LE(0) !== magic) return undefined
  const tag = b.readUInt32LE(4)
  const mark = readMarkRef(b, 8)
  return tag === HELLO_TAG || mark === undefined ? undefined : { tag, mark }
}

/** `[u32 tag][bytes]`. */
export function tagged(tag: number, bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(TAG_BYTES + bytes.length)
  out.writeUInt32LE(tag, 0)
  out.set(bytes, TAG_BYTES)
  return out
}

/** Splits a tagged message into its tag and body, or `undefined` if it is too short to have a tag. */
export function untag(message: Buffer): { tag: number; body: Buffer } | undefined {
  if (message.length < TAG_BYTES) return undefined
  return { tag: message.readUInt32LE(0), body: message.subarray(TAG_BYTES) }
}

/**
 * The start every hello shares: `[u32 LE magic][the client's liveness mark, 16 bytes]`, then the
 * mechanism's fields. Checks the length, the magic and the mark; throws an `Error` saying what is
 * wrong. Returns the bytes (as a Buffer) and the mark.
 */
export function openHello(bytes: Uint8Array, magic: number, size: number): { b: Buffer; mark: MarkRef } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (b.length !== size) throw new Error(`a hello is ${size} bytes, got ${b.length}`)
  if (b.readUInt32LE(0) !== magic) throw new Error('not a hello (bad magic)')
  const mark = readMarkRef(b, 4)
  if (mark === undefined) throw new Error('the hello names no valid liveness mark')
  return { b, mark }
}

/** Hands out connection tags: u32, never 0 (the hello tag), never one `inUse` still holds. */
export function tagAllocator(inUse: { has(tag: number): boolean }): () => number {
  let next = 1
  const step = (): void => {
    next = next >= 0xffffffff ? 1 : next + 1
  }
  return () => {
    while (inUse.has(next)) step()
    const tag = next
    step()
    return tag
  }
}
