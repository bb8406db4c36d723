/**
 * Newline-delimited framing, for programs that do not speak the SDK's length-prefixed frames
 * (`sort`, `grep`, a Python filter): each message is one line ending in `\n` (a `\r` before it is
 * dropped on reading). Bounded: a line longer than `maxLine` bytes is an error, never unbounded
 * memory.
 */
import { IpcError } from '../errors.js'

const NEWLINE = 0x0a

/** Cuts a byte stream into lines. */
export class LineSplitter {
  private parts: Uint8Array[] = []
  private partBytes = 0

  constructor(private readonly maxLine: number) {}

  /** Bytes of an unfinished line held. */
  get pending(): number {
    return this.partBytes
  }

  /** The complete lines in `chunk` (with what was held before), without their `\n`. Throws `ERR_IPC_MESSAGE_TOO_LARGE`. */
  push(chunk: Uint8Array): Uint8Array[] {
    const lines: Uint8Array[] = []
    let start = 0
    for (let at = chunk.indexOf(NEWLINE); at >= 0; at = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, at)
      lines.push(this.take(piece))
      start = at + 1
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start)
      this.check(this.partBytes + rest.length)
      this.parts.push(rest.slice()) // the chunk's memory may be reused
      this.partBytes += rest.length
    }
    return lines
  }

  /** The unfinished last line at the end of the stream, if any. */
  end(): Uint8Array | undefined {
    if (this.partBytes === 0) return undefined
    return this.take(new Uint8Array(0))
  }

  private take(piece: Uint8Array): Uint8Array {
    this.check(this.partBytes + piece.length)
    let line: Uint8Array
    if (this.partBytes === 0) line = piece.slice()
    else {
      line = new Uint8Array(this.partBytes + piece.length)
      let off = 0
      for (const p of this.parts) {
        line.set(p, off)
        off += p.length
      }
      line.set(piece, off)
      this.parts = []
      this.partBytes = 0
    }
    return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line
  }

  private check(size: number): void {
    if (size > this.maxLine) {
      throw new IpcError('ERR_IPC_MESSAGE_TOO_LARGE', `a line of more than ${this.maxLine} bytes (maxMessageSize) arrived`, {
        details: { maxMessageSize: this.maxLine },
      })
    }
  }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** A text line as bytes with its `\n`; `ERR_IPC_INVALID_ARGUMENT` for a non-string or one with a newline. */
export function encodeLine(text: unknown): Uint8Array {
  if (typeof text !== 'string') throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `a line must be a string, got ${typeof text}`)
  if (text.includes('\n')) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', 'a line cannot contain a newline: send one message per line')
  return encoder.encode(`${text}\n`)
}

/** A line's bytes as text; `ERR_IPC_DECODE` for invalid UTF-8. */
export function decodeLine(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes)
  } catch (err) {
    throw new IpcError('ERR_IPC_DECODE', 'a line is not valid UTF-8', { cause: err })
  }
}
