import type { LinkEvents } from '../link.js'
import { Queue } from '../queue.js'

/**
 * Where a unit link (message queues, rings) puts what it reads while core has paused it or has
 * not started it yet: units are passed to `events.data` in arrival order, and held (counted in
 * {@link HeldUnits.bytes}, which the link bounds) otherwise.
 */
export class HeldUnits {
  /** Core's events, once the link has started (and until it ends). */
  events: LinkEvents | undefined
  /** `true` while core has paused the link. */
  paused = false
  private readonly units = new Queue<Uint8Array>()
  private readonly lanes = new Queue<number>()
  /** Bytes held. */
  bytes = 0

  /** Passes `unit` (of `lane`) on, or holds it while paused or not started. */
  deliver(unit: Uint8Array, lane = 0): void {
    if (this.paused || this.events === undefined || this.units.length > 0) {
      this.units.push(unit)
      this.lanes.push(lane)
      this.bytes += unit.length
      if (!this.paused && this.events !== undefined) this.flush()
      return
    }
    this.events.data(unit, lane)
  }

  /** Passes on what was held, in order, until paused again. */
  flush(): void {
    while (this.units.length > 0 && !this.paused && this.events !== undefined) {
      const unit = this.units.shift()!
      const lane = this.lanes.shift()!
      this.bytes -= unit.length
      this.events.data(unit, lane)
    }
  }

  /** Drops what is held (the link is destroyed). */
  clear(): void {
    while (this.units.shift() !== undefined) this.lanes.shift()
    this.bytes = 0
  }
}
