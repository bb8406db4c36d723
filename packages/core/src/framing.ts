import { IpcError } from './errors.js'

/** Bytes of the length prefix in front of every frame: a little-endian uint32. */
export const FRAME_HEADER_BYTES = 4

/**
 * Length prefixes with the top bit set are control frames (no body), so a message is at most
 * 2^31 - 1 bytes. The only one so far: GOODBYE, the last frame of a graceful `close()`, which tells
 * the peer that the end of stream that follows is not a crash.
 */
export const CONTROL_BIT = 0x80000000
/** The control frame a graceful close ends with. */
export const GOODBYE = CONTROL_BIT + 1
/** The largest message a frame can carry. */
export const MAX_FRAME = CONTROL_BIT - 1

/**
 * Splits a byte stream into frames (`[u32 LE length][length bytes]`). The length is checked against
 * `maxFrame` before anything is allocated for the body; a frame that arrives whole inside one chunk
 * is passed on as a view of that chunk (no copy), a frame that spans chunks is assembled once.
 */
export class FrameDecoder {
  private headerValue = 0
  private headerHave = 0
  private body: Uint8Array | undefined
  private bodyHave = 0
  private stopped = false

  /**
   * @param maxFrame largest frame accepted; a larger length prefix throws `ERR_IPC_MESSAGE_TOO_LARGE`.
   * @param onFrame called for each whole frame, in order, as `buffer[start, end)` (the buffer may
   *   hold other frames too; a frame that arrived whole inside one chunk is not copied).
   * @param onGoodbye called when the peer's GOODBYE control frame arrives (nothing follows it).
   */
  constructor(
    private readonly maxFrame: number,
    private readonly onFrame: (buffer: Uint8Array, start: number, end: number) => void,
    private readonly onGoodbye: () => void = () => {},
  ) {}

  /** `true` while a frame (or its length prefix) has begun but not ended. */
  get midFrame(): boolean {
    return this.headerHave > 0 || this.body !== undefined
  }

  /** No more frames are passed on after this (used when the consumer closes mid-chunk). */
  stop(): void {
    this.stopped = true
  }

  /** Feeds bytes; calls `onFrame` for each frame completed. Throws an `IpcError` on a bad length. */
  push(chunk: Uint8Array): void {
    let pos = 0
    const len = chunk.length
    while (pos < len && !this.stopped) {
      if (this.body !== undefined) {
        const n = Math.min(this.body.length - this.bodyHave, len - pos)
        this.body.set(chunk.subarray(pos, pos + n), this.bodyHave)
        this.bodyHave += n
        pos += n
        if (this.bodyHave === this.body.length) {
          const frame = this.body
          this.body = undefined
          this.onFrame(frame, 0, frame.length)
        }
        continue
      }
      if (this.headerHave === 0 && len - pos >= FRAME_HEADER_BYTES) {
        // fast path: the whole header is here
        const size = (chunk[pos]! | (chunk[pos + 1]! << 8) | (chunk[pos + 2]! << 16)) + chunk[pos + 3]! * 0x1000000
        pos += FRAME_HEADER_BYTES
        if (this.control(size)) continue
        this.check(size)
        if (len - pos >= size) {
          const start = pos
          pos += size
          this.onFrame(chunk, start, pos)
        } else {
          this.startBody(size)
        }
        continue
      }
      // slow path: the header is split across chunks
      this.headerValue += chunk[pos++]! * 2 ** (8 * this.headerHave)
      if (++this.headerHave === FRAME_HEADER_BYTES) {
        const size = this.headerValue
        this.headerValue = 0
        this.headerHave = 0
        if (this.control(size)) continue
        this.check(size)
        if (size === 0) this.onFrame(chunk, pos, pos)
        else this.startBody(size)
      }
    }
  }

  /** Handles a control frame; returns `true` if `size` was one. */
  private control(size: number): boolean {
    if (size !== GOODBYE) return false
    this.stopped = true
    this.onGoodbye()
    return true
  }

  private startBody(size: number): void {
    this.body = Buffer.allocUnsafe(size) // every byte is written before the frame is passed on
    this.bodyHave = 0
  }

  private check(size: number): void {
    if (size > this.maxFrame) {
      this.stopped = true
      throw new IpcError('ERR_IPC_MESSAGE_TOO_LARGE', `incoming frame of ${size} bytes exceeds maxMessageSize (${this.maxFrame})`, {
        details: { size, maxMessageSize: this.maxFrame },
      })
    }
  }
}

/** Writes the length prefix of a `size`-byte frame at `offset`. */
export function writeFrameHeader(target: Uint8Array, offset: number, size: number): void {
  target[offset] = size & 0xff
  target[offset + 1] = (size >>> 8) & 0xff
  target[offset + 2] = (size >>> 16) & 0xff
  target[offset + 3] = (size >>> 24) & 0xff
}

/** One whole frame: the length prefix, then `body` (for raw peers in tests and foreign clients). */
export function encodeFrame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.length)
  writeFrameHeader(out, 0, body.length)
  out.set(body, FRAME_HEADER_BYTES)
  return out
}
