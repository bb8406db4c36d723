import { readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { type ConformanceTarget, addressTarget } from '@ipc/core/testing'
import { writeSync } from 'node:fs'
import { native } from '@ipc/native'
import '../src/index.js'
import type { Address } from '@ipc/core/mechanism'
import { FILE_PREFIX, RENDEZVOUS_DIR, readRendezvous, rendezvousPath } from '../src/rendezvous.js'
import { SEGMENT_MAGIC, State, VERSION, Word, encodeHello, segmentSize } from '../src/wire.js'

const { O_WRONLY, O_NONBLOCK } = native.fdConstants

/**
 * A misbehaving client done by hand from the wire format: the real handshake (segment, doorbell,
 * hello, established), then `bytes` raw into ring 0. Returns the channel and a function that ends
 * its side (closing the channel, which ends the listener's doorbell).
 */
export async function rawClient(address: string, bytes: Uint8Array, capacity = 64 * 1024) {
  const target = address.slice('shm:'.length).split('?')[0]!
  const r = readRendezvous(rendezvousPath({ text: address, target } as Address), 'raw client')
  const size = segmentSize(capacity)
  const memfd = native.memfdCreate('ipc-shm:raw', size)
  const bell = native.doorbellPipe()
  let woke: () => void = () => {}
  const channel = new native.ShmChannel(memfd, size, 0, bell.read, () => woke())
  const words: [number, number][] = [
    [Word.MAGIC, SEGMENT_MAGIC],
    [Word.VERSION, VERSION],
    [Word.CAPACITY, capacity],
    [Word.CLIENT_PID, process.pid],
    [Word.CLIENT_DOORBELL, bell.read],
    [Word.NONCE_LOW, 7],
    [Word.NONCE_HIGH, 9],
    [Word.STATE, State.OFFERED],
  ]
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
  if (bytes.length > 0 && channel.write([bytes], 0) !== bytes.length) throw new Error('raw client: the ring is too small for these bytes')
  return { channel, end: () => channel.close() }
}

const require = createRequire(import.meta.url)
/** The built entry of this package, for peer processes. */
export const ENTRY = join(dirname(require.resolve('@ipc/shm/package.json')), 'dist', 'index.js')

/** Names of this test process's addresses, and what of them is left in the rendezvous folder. */
export function shmNames(tag: string) {
  const prefix = `t${process.pid}-${tag}-`
  let n = 0
  return {
    fresh: () => `shm:/${prefix}${++n}`,
    leftovers: async () => readdirSync(RENDEZVOUS_DIR).filter((f) => f.startsWith(`${FILE_PREFIX}${prefix}`) || f.startsWith(`.${FILE_PREFIX}${process.pid}.`)),
  }
}

export function shmTarget(names: ReturnType<typeof shmNames>): ConformanceTarget {
  return addressTarget({
    name: 'shm',
    entry: ENTRY,
    fresh: names.fresh,
    killedPeerReason: 'peer-exited',
    boundaries: [4096, 64 * 1024],
    leftovers: names.leftovers,
    burst: { params: '?capacity=16KiB' },
    async rawClient(address, bytes, end) {
      const client = await rawClient(address, bytes)
      if (end) client.end()
    },
  })
}
