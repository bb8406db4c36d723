/**
 * The `shm:` wire format, written down once: the code and the tests' raw clients use these
 * numbers, `native/src/shm.cc` the same ones for the rings, and the README documents them for
 * peers in other languages.
 *
 * A connection is one sealed memfd made by the client: a 4096-byte header, then ring 0 (client →
 * listener) and ring 1 (listener → client) of `capacity` bytes each. The header starts with 64
 * little-endian u32 handshake words ({@link Word}); the rings' indices live in its second half
 * (see shm.cc). The hello a client writes into the listener's hello pipe is {@link HELLO_BYTES}
 * bytes (below PIPE_BUF, so hellos of concurrent clients never interleave).
 */

/** Bytes before ring 0's data. */
export const HEADER_BYTES = 4096

/** `"SHM1"` read as a little-endian u32: handshake word {@link Word.MAGIC}. */
export const SEGMENT_MAGIC = 0x314d4853

/** Version of this format (word {@link Word.VERSION}, and in the hello). */
export const VERSION = 1

/** Indices of the handshake words. */
export const Word = {
  MAGIC: 0,
  VERSION: 1,
  /** Ring capacity in bytes (per direction), a power of two. */
  CAPACITY: 2,
  /** {@link State}. */
  STATE: 3,
  /** Why the listener refused ({@link Refusal}), with `STATE` = `REFUSED`. */
  REASON: 4,
  CLIENT_PID: 5,
  /** The read end of the client's doorbell pipe, as a descriptor number in the client. */
  CLIENT_DOORBELL: 6,
  LISTENER_PID: 7,
  /** The read end of the listener's doorbell pipe for this connection, in the listener. */
  LISTENER_DOORBELL: 8,
  /** 64 random bits the hello repeats: the segment is the one the hello meant. */
  NONCE_LOW: 9,
  NONCE_HIGH: 10,
  // 11 to 15 unused; 16 to 63 belong to the flavour of segment (sem: uses some, shm: none)
} as const

/** Handshake states (word {@link Word.STATE}). */
export const State = {
  /** Written by the client before its hello. */
  OFFERED: 1,
  /** The listener mapped the segment and holds the client's doorbell; its own is in the header. */
  ACCEPTED: 2,
  /** The listener refused (reason in {@link Word.REASON}). */
  REFUSED: 3,
  /** The client holds the listener's doorbell: the connection is up. */
  ESTABLISHED: 4,
} as const

/**
 * The handshake words a client writes before its hello, in order (`STATE` = OFFERED last, so a
 * listener that sees OFFERED sees the rest).
 */
export function offerWords(o: { magic?: number; capacity: number; pid: number; doorbellFd: number; nonceLow: number; nonceHigh: number }): [number, number][] {
  return [
    [Word.MAGIC, o.magic ?? SEGMENT_MAGIC],
    [Word.VERSION, VERSION],
    [Word.CAPACITY, o.capacity],
    [Word.CLIENT_PID, o.pid],
    [Word.CLIENT_DOORBELL, o.doorbellFd],
    [Word.NONCE_LOW, o.nonceLow],
    [Word.NONCE_HIGH, o.nonceHigh],
    [Word.STATE, State.OFFERED],
  ]
}

/** Reasons for {@link State.REFUSED}. */
export const Refusal = {
  /** The segment did not check out (magic, version, size, nonce). */
  BAD_SEGMENT: 1,
  /** The listener is closing. */
  CLOSING: 2,
} as const

/** Byte offsets of ring `r`'s control words (0: client → listener, 1: listener → client); u32 each. */
export function ringControl(r: 0 | 1): { head: number; producerSleeping: number; tail: number; consumerSleeping: number } {
  const base = 256 + 256 * r
  return { head: base, producerSleeping: base + 4, tail: base + 128, consumerSleeping: base + 132 }
}

/** Byte offset of ring `r`'s data. */
export function ringData(r: 0 | 1, capacity: number): number {
  return HEADER_BYTES + r * capacity
}

/** The smallest and largest ring capacity. */
export const MIN_CAPACITY = 4096
export const MAX_CAPACITY = 1 << 30

/** Segment size for a ring capacity. */
export function segmentSize(capacity: number): number {
  return HEADER_BYTES + 2 * capacity
}

/** The hello: magic, version, size, client pid, segment fd, doorbell fd, nonce (low, high), padding. */
export const HELLO_BYTES = 32

/** `"IPCH"` as a little-endian u32: the hello's first word. */
export const HELLO_MAGIC = 0x48435049

/** A client's hello, as the listener reads it. */
export interface Hello {
  pid: number
  /** The segment memfd's descriptor number in the client. */
  segmentFd: number
  /** The client's doorbell read end, in the client. */
  doorbellFd: number
  nonceLow: number
  nonceHigh: number
}

export function encodeHello(h: Hello): Buffer {
  const b = Buffer.alloc(HELLO_BYTES)
  b.writeUInt32LE(HELLO_MAGIC, 0)
  b.writeUInt16LE(VERSION, 4)
  b.writeUInt16LE(HELLO_BYTES, 6)
  b.writeUInt32LE(h.pid, 8)
  b.writeUInt32LE(h.segmentFd, 12)
  b.writeUInt32LE(h.doorbellFd, 16)
  b.writeUInt32LE(h.nonceLow, 20)
  b.writeUInt32LE(h.nonceHigh, 24)
  return b
}

/** The hello at `b[at…]`, or a reason it is not one. */
export function decodeHello(b: Buffer, at: number): Hello | string {
  if (b.readUInt32LE(at) !== HELLO_MAGIC) return 'bad magic'
  if (b.readUInt16LE(at + 4) !== VERSION || b.readUInt16LE(at + 6) !== HELLO_BYTES) return `version ${b.readUInt16LE(at + 4)} / size ${b.readUInt16LE(at + 6)}`
  const pid = b.readUInt32LE(at + 8)
  if (pid < 1 || pid > 0x3fffffff) return `pid ${pid}`
  return { pid, segmentFd: b.readUInt32LE(at + 12), doorbellFd: b.readUInt32LE(at + 16), nonceLow: b.readUInt32LE(at + 20), nonceHigh: b.readUInt32LE(at + 24) }
}

/**
 * The rendezvous file's one line: `ipc-shm 1 <listener pid> <hello pipe fd> <hello pipe inode>`.
 * The file is 0600, locked (`flock`) by the live listener for as long as it listens.
 */
export interface Rendezvous {
  pid: number
  helloFd: number
  helloIno: number
}

export function formatRendezvous(r: Rendezvous): string {
  return `ipc-shm ${VERSION} ${r.pid} ${r.helloFd} ${r.helloIno}\n`
}

export function parseRendezvous(text: string): Rendezvous | undefined {
  const m = /^ipc-shm (\d+) (\d+) (\d+) (\d+)\n$/.exec(text)
  if (!m || Number(m[1]) !== VERSION) return undefined
  return { pid: Number(m[2]), helloFd: Number(m[3]), helloIno: Number(m[4]) }
}
