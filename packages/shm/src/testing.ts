/**
 * `@ipc/shm/testing`: a client of the wire format done by hand, for tests that play a misbehaving
 * or crashing peer (and as a worked example for peers in other languages). It uses `wire.ts`, as
 * the package does.
 */
import { writeSync } from 'node:fs'
import type { Address } from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { readRendezvous, rendezvousPath } from './rendezvous.js'
import { SEGMENT_MAGIC, State, Word, encodeHello, offerWords, ringControl, ringData, segmentSize } from './wire.js'

export * from './wire.js'

const { O_WRONLY, O_NONBLOCK } = native.fdConstants

/** A raw client's side of a connection (see {@link rawClient}). */
export interface RawClient {
  /** The channel (ring 0 outbound). */
  channel: InstanceType<typeof native.ShmChannel>
  /** The segment's descriptor in this process (pwrite into it to play a hostile or crashing peer). */
  memfd: number
  capacity: number
  /** Writes `bytes` into ring 0 and commits them; throws if they do not fit. */
  write(bytes: Uint8Array): void
  /** Writes `bytes` into ring 0 after what is committed, without committing them (a producer killed mid-copy). */
  writeUncommitted(bytes: Uint8Array): void
  /** Overwrites ring 0's head word (a hostile peer). */
  setHead(value: number): void
  /** Rings the listener's doorbell. */
  ring(): void
  /** Ends this side: the listener's doorbell reports end-of-file. */
  end(): void
}

/** A segment as a raw client lays it out (what a flavour's plan says). */
export interface RawSegment {
  scheme: string
  magic: number
  size: number
  capacity: number
  /** Flavour words (16 to 63), written before the offer. */
  words: [number, number][]
  /** Fills the segment before the offer. */
  prepare?(memfd: number): void
}

/** The real handshake, done by hand from the wire format, for a segment of any flavour. */
export async function rawHandshake(address: string, segment: RawSegment): Promise<{ channel: InstanceType<typeof native.ShmChannel>; memfd: number }> {
  const target = address.slice(address.indexOf(':') + 1).split('?')[0]!
  const r = readRendezvous(rendezvousPath({ text: address, target } as Address, segment.scheme), 'raw client')
  const memfd = native.memfdCreate(`ipc-${segment.scheme}:raw`, segment.size)
  segment.prepare?.(memfd)
  const bell = native.doorbellPipe()
  let woke: () => void = () => {}
  const channel = new native.ShmChannel(memfd, segment.size, 0, bell.read, () => woke(), segment.capacity)
  for (const [w, v] of segment.words) channel.setWord(w, v)
  const words = offerWords({ magic: segment.magic, capacity: segment.capacity, pid: process.pid, doorbellFd: bell.read, nonceLow: 7, nonceHigh: 9 })
  for (const [w, v] of words) channel.setWord(w, v)
  const accepted = new Promise<void>((resolve) => {
    woke = () => {
      if (channel.word(Word.STATE) === State.ACCEPTED) resolve()
    }
  })
  channel.start()
  const hello = native.openPeerFd(r.pid, r.helloFd, O_WRONLY | O_NONBLOCK)
  writeSync(hello, encodeHello({ pid: process.pid, segmentFd: memfd, doorbellFd: bell.read, nonceLow: 7, nonceHigh: 9 }))
  native.closeFd(hello)
  await accepted
  channel.setPeerDoorbell(native.openPeerFd(r.pid, channel.word(Word.LISTENER_DOORBELL), O_WRONLY | O_NONBLOCK))
  native.closeFd(bell.write)
  channel.setWord(Word.STATE, State.ESTABLISHED)
  channel.ring()
  return { channel, memfd }
}

/** Connects to `address` (`shm:/name`) with the real handshake, done by hand from the wire format. */
export async function rawClient(address: string, capacity = 64 * 1024): Promise<RawClient> {
  const { channel, memfd } = await rawHandshake(address, { scheme: 'shm', magic: SEGMENT_MAGIC, size: segmentSize(capacity), capacity, words: [] })
  let committed = 0
  const word = Buffer.alloc(4)
  return {
    channel,
    memfd,
    capacity,
    write(bytes) {
      if (bytes.length > 0 && channel.write([bytes], 0) !== bytes.length) throw new Error('raw client: the ring is too small for these bytes')
      committed += bytes.length
    },
    writeUncommitted(bytes) {
      // ring data through the descriptor: the same pages the peer has mapped
      const at = committed % capacity
      const first = Math.min(bytes.length, capacity - at)
      writeSync(memfd, bytes, 0, first, ringData(0, capacity) + at)
      if (first < bytes.length) writeSync(memfd, bytes, first, bytes.length - first, ringData(0, capacity))
    },
    setHead(value) {
      word.writeUInt32LE(value >>> 0, 0)
      writeSync(memfd, word, 0, 4, ringControl(0).head)
    },
    ring: () => channel.ring(),
    end: () => channel.close(),
  }
}
