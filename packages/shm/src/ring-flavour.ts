/** `shm:`'s flavour of segment: the whole segment is its two byte rings (see `wire.ts`). */
import type { SegmentFlavour, SegmentPlan } from './flavour.js'
import { ShmLink } from './link.js'
import { type ShmConnectOptions, capacityOf } from './options.js'
import { HEADER_BYTES, MAX_CAPACITY, MIN_CAPACITY, SEGMENT_MAGIC, segmentSize } from './wire.js'

function ringPlan(capacity: number): SegmentPlan {
  return {
    size: segmentSize(capacity),
    capacity,
    words: [],
    link: (channel, _fd, _side, context) => new ShmLink(channel, context),
  }
}

export const SHM_FLAVOUR: SegmentFlavour<ShmConnectOptions<unknown>> = {
  scheme: 'shm',
  magic: SEGMENT_MAGIC,
  plan: (options) => ringPlan(capacityOf(options.capacity)),
  planFor(size) {
    const capacity = (size - HEADER_BYTES) / 2
    if (!Number.isInteger(capacity) || capacity < MIN_CAPACITY || capacity > MAX_CAPACITY || (capacity & (capacity - 1)) !== 0) {
      return `its segment has an impossible size (${size})`
    }
    return ringPlan(capacity)
  },
}
