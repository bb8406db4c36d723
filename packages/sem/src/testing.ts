/**
 * `@ipc/sem/testing`: a client of the `sem:` wire format done by hand, for tests that play a
 * misbehaving or crashing peer (and as a worked example for peers in other languages). It uses
 * `wire.ts`, as the package does, and `@ipc/shm/testing`'s handshake.
 */
import { native } from '@ipc/native'
import { rawHandshake } from '@ipc/shm/testing'
import { CONTROL_CAPACITY, SEM_MAGIC, SLOT_HEADER, Sem, SemWord, initialValues, semSegmentSize, semaphoreOffset, slotOffset } from './wire.js'

export * from './wire.js'

/** A raw client's side of a connection (see {@link rawClient}); it writes direction 0. */
export interface RawSemClient {
  /** Bytes of stream one slot carries. */
  maxUnit: number
  /** Cuts `bytes` into slots and commits each (take empty and mutex, copy, post mutex, post full); throws if there is no free slot. */
  write(bytes: Uint8Array): void
  /** Takes a slot and copies `bytes` (one slot's worth at most) into it, and never posts `full` (a producer killed mid-copy). */
  writeUncommitted(bytes: Uint8Array): void
  /** Writes a slot header and bytes as given (a hostile peer) and posts `full`. */
  writeRaw(seq: number, len: number, bytes: Uint8Array): void
  /** Ends this side: the listener's doorbell reports end-of-file. */
  end(): void
}

/** Connects to `address` (`sem:/name`) with the real handshake and layout, done by hand. */
export async function rawClient(address: string, slots = 8, slotSize = 4096): Promise<RawSemClient> {
  const size = semSegmentSize(slots, slotSize)
  let ring: InstanceType<typeof native.SemRing> | undefined
  const { channel, memfd } = await rawHandshake(address, {
    scheme: 'sem',
    magic: SEM_MAGIC,
    size,
    capacity: CONTROL_CAPACITY,
    words: [
      [SemWord.SLOTS, slots],
      [SemWord.SLOT_SIZE, slotSize],
    ],
    prepare(fd) {
      ring = new native.SemRing(fd, size)
      for (const d of [0, 1] as const) for (const [which, value] of initialValues(slots)) ring.init(semaphoreOffset(d, which), value)
    },
  })
  void memfd
  const r = ring!
  const bytes = new Uint8Array(r.buffer!)
  const view = new DataView(r.buffer!)
  const sem = (which: number): InstanceType<typeof native.Semaphore> => new native.Semaphore(2, r, semaphoreOffset(0, which), undefined, () => {})
  const empty = sem(Sem.EMPTY)
  const full = sem(Sem.FULL)
  const mutex = sem(Sem.MUTEX)
  const maxUnit = slotSize - SLOT_HEADER
  let index = 0
  let seq = 0
  const take = (): number => {
    if (!empty.tryWait()) throw new Error('raw sem client: no free slot')
    if (!mutex.tryWait()) throw new Error('raw sem client: mutex held')
    const at = slotOffset(0, index, slots, slotSize)
    index = (index + 1) % slots
    return at
  }
  const fill = (at: number, s: number, len: number, data: Uint8Array): void => {
    bytes.set(data.subarray(0, Math.min(data.length, maxUnit)), at + SLOT_HEADER)
    view.setUint32(at, s >>> 0, true)
    view.setUint32(at + 4, len >>> 0, true)
  }
  return {
    maxUnit,
    write(data) {
      for (let pos = 0; pos < data.length; pos += maxUnit) {
        const unit = data.subarray(pos, pos + maxUnit)
        const at = take()
        fill(at, seq++, unit.length, unit)
        mutex.post(1)
        full.post(1)
      }
    },
    writeUncommitted(data) {
      const at = take()
      fill(at, seq, Math.min(data.length, maxUnit), data)
    },
    writeRaw(s, len, data) {
      const at = take()
      fill(at, s, len, data)
      seq++
      mutex.post(1)
      full.post(1)
    },
    end() {
      for (const s of [empty, full, mutex]) s.close()
      r.close()
      channel.close()
    },
  }
}
