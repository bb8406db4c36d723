/** `sem:` as a flavour of `@ipc/shm`'s segment handshake: the layout, its checks, its link. */
import { IpcError } from '@ipc/core'
import type { SegmentFlavour, SegmentPlan } from '@ipc/shm/handshake'
import { native } from '@ipc/native'
import { SemLink } from './link.js'
import { DEFAULT_SLOTS, DEFAULT_SLOT_SIZE, type SemConnectOptions } from './options.js'
import { CONTROL_CAPACITY, SEM_MAGIC, SLOTS_BASE, SemWord, initialValues, layoutProblem, semSegmentSize, semaphoreOffset } from './wire.js'

function semPlan(slots: number, slotSize: number): SegmentPlan {
  let ring: InstanceType<typeof native.SemRing> | undefined
  return {
    size: semSegmentSize(slots, slotSize),
    capacity: CONTROL_CAPACITY,
    words: [
      [SemWord.SLOTS, slots],
      [SemWord.SLOT_SIZE, slotSize],
    ],
    prepare(fd) {
      // the client makes the semaphores of both directions before anyone else can see the segment
      ring = new native.SemRing(fd, semSegmentSize(slots, slotSize))
      for (const d of [0, 1] as const) for (const [which, value] of initialValues(slots)) ring.init(semaphoreOffset(d, which), value)
    },
    check(word) {
      if (word(SemWord.SLOTS) !== slots || word(SemWord.SLOT_SIZE) !== slotSize) throw new Error('its segment size does not match its slots and slotSize')
    },
    link(channel, fd, side, context) {
      ring?.close()
      ring = undefined
      return new SemLink(channel, fd, side, slots, slotSize, context)
    },
    dispose() {
      ring?.close()
      ring = undefined
    },
  }
}

export const SEM_FLAVOUR: SegmentFlavour<SemConnectOptions<unknown>> = {
  scheme: 'sem',
  magic: SEM_MAGIC,
  plan(options) {
    const slots = options.slots === undefined ? DEFAULT_SLOTS : Number(options.slots)
    const slotSize = options.slotSize === undefined ? DEFAULT_SLOT_SIZE : Number(options.slotSize)
    const problem = layoutProblem(slots, slotSize)
    if (problem !== undefined) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', problem)
    return semPlan(slots, slotSize)
  },
  planFor(size) {
    // slots and slotSize are in the words; the size tells only that they can fit
    if (!Number.isSafeInteger(size) || size < SLOTS_BASE || (size - SLOTS_BASE) % 128 !== 0) return `its segment has an impossible size (${size})`
    let plan: SegmentPlan | undefined
    const lazy: SegmentPlan = {
      size,
      capacity: CONTROL_CAPACITY,
      words: [],
      check(word) {
        const slots = word(SemWord.SLOTS)
        const slotSize = word(SemWord.SLOT_SIZE)
        const problem = layoutProblem(slots, slotSize)
        if (problem !== undefined) throw new Error(`its layout is impossible: ${problem}`)
        if (semSegmentSize(slots, slotSize) !== size) throw new Error(`its size (${size}) does not match ${slots} slots of ${slotSize} bytes`)
        plan = semPlan(slots, slotSize)
      },
      link(channel, fd, side, context) {
        if (plan === undefined) throw new Error('sem: link before check')
        return plan.link(channel, fd, side, context)
      },
    }
    return lazy
  },
}
