/**
 * The hello record a client writes to the well-known FIFO, and the listener's ack. A hello is one
 * ASCII line of at most PIPE_BUF bytes, so the kernel writes it atomically even when many clients
 * write at once; a line that fails to parse is dropped without affecting the others.
 */

/** Starts every hello line. */
export const HELLO_MAGIC = 'IPCFIFO1'
/** Longest line accepted (PIPE_BUF on Linux). */
export const MAX_HELLO = 4096
/** The ack the listener writes first on the server→client FIFO: "IPCF" + the listener's pid (u32 LE). */
export const ACK_BYTES = 8
const ACK_MAGIC = 0x46435049 // "IPCF" little-endian

/** A client's announcement. `token` names its FIFO pair: `<dir>/<token>.c2s` and `<dir>/<token>.s2c`. */
export interface Hello {
  pid: number
  token: string
}

const TOKEN = /^([1-9][0-9]{0,9})-[0-9a-f]{16}$/

/** The token of a client with this pid: the pid (for reclaiming after a crash) and 8 random bytes. */
export function makeToken(pid: number, random: string): string {
  return `${pid}-${random}`
}

/** The pid a token names, or `undefined` for something that is not a token. */
export function tokenPid(token: string): number | undefined {
  const m = TOKEN.exec(token)
  return m ? Number(m[1]) : undefined
}

export function formatHello(hello: Hello): string {
  return `${HELLO_MAGIC} ${hello.pid} ${hello.token}\n`
}

/**
 * Parses one line. Junk written before a hello by a misbehaving writer is skipped (the last magic
 * in the line counts), so it cannot take a good client's hello down with it.
 */
export function parseHello(line: string): Hello | undefined {
  const at = line.lastIndexOf(HELLO_MAGIC)
  if (at < 0) return undefined
  const parts = line.slice(at).split(' ')
  if (parts.length !== 3) return undefined
  const pid = Number(parts[1])
  const token = parts[2]!
  if (!Number.isSafeInteger(pid) || pid <= 0 || tokenPid(token) !== pid) return undefined
  return { pid, token }
}

/** Splits a byte stream of hello lines, bounding how much of an unfinished line is kept. */
export class HelloReader {
  private partial = ''

  constructor(
    private readonly onHello: (hello: Hello) => void,
    /** Called with a reason for every line that is not a hello (and for junk with no newline). */
    private readonly onJunk: (reason: string) => void = () => {},
  ) {}

  push(chunk: Buffer): void {
    const text = this.partial + chunk.toString('latin1')
    const lines = text.split('\n')
    this.partial = lines.pop()!
    if (this.partial.length > MAX_HELLO) {
      this.onJunk(`more than ${MAX_HELLO} bytes without a newline`)
      this.partial = ''
    }
    for (const line of lines) {
      const hello = parseHello(line)
      if (hello) this.onHello(hello)
      else this.onJunk(`not a hello line (${line.length} bytes)`)
    }
  }
}

export function encodeAck(pid: number): Buffer {
  const ack = Buffer.alloc(ACK_BYTES)
  ack.writeUInt32LE(ACK_MAGIC, 0)
  ack.writeUInt32LE(pid, 4)
  return ack
}

/** The listener's pid from an ack, or `undefined` if the bytes are not an ack. */
export function decodeAck(bytes: Buffer): number | undefined {
  if (bytes.length !== ACK_BYTES || bytes.readUInt32LE(0) !== ACK_MAGIC) return undefined
  const pid = bytes.readUInt32LE(4)
  return pid > 0 ? pid : undefined
}
