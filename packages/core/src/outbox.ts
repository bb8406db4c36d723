import { FRAME_HEADER_BYTES, writeFrameHeader } from './framing.js'

/** Frames at least this large are queued by reference instead of copied into the staging slab. */
export const BY_REFERENCE = 16 * 1024
/** Size of the largest staging slab; small frames are packed back to back into it. */
const SLAB_MAX = 256 * 1024
/** Size of a transport's first slab: an occasional sender never holds more than this. */
const SLAB_FIRST = 16 * 1024
/** How often idle slabs are given back (ms); a slab unused for a whole period is dropped. */
const SWEEP_MS = 1000

/** Outboxes holding a slab; a slab that saw no frame for a whole sweep period is dropped. */
const holding = new Set<Outbox>()
let sweeper: NodeJS.Timeout | undefined

function sweep(): void {
  for (const outbox of holding) outbox.releaseIfIdle()
  if (holding.size === 0 && sweeper !== undefined) {
    clearInterval(sweeper)
    sweeper = undefined
  }
}

const EMPTY = new Uint8Array(0)

/**
 * The send queue's byte store: frames are length-prefixed and packed back to back, so everything
 * queued in one tick leaves in one write (or, for links with a maximum unit, in as few units as
 * fit). Small frames are copied into a slab that is handed out in pieces and never rewritten;
 * large frames are kept by reference behind their prefix.
 */
export class Outbox {
  private chunks: Uint8Array[] = []
  private slab: Uint8Array = EMPTY
  private slabStart = 0 // first byte of the slab not yet handed out
  private slabEnd = 0 // first free byte of the slab
  private nextSlab = SLAB_FIRST // size of the next slab: doubles up to SLAB_MAX while busy
  private used = false // a frame was added since the last sweep
  private lastSize = 0 // size of the last frame encoded in place (or tried): a guess at the next
  /** Bytes queued (prefixes included) and not yet taken. */
  bytes = 0
  /** Frames queued and not yet taken. */
  frames = 0

  /** Appends one frame. */
  add(frame: Uint8Array): void {
    const size = frame.length
    const total = FRAME_HEADER_BYTES + size
    if (size >= BY_REFERENCE) {
      this.reserve(FRAME_HEADER_BYTES)
      writeFrameHeader(this.slab, this.slabEnd, size)
      this.slabEnd += FRAME_HEADER_BYTES
      this.sealSlabPiece()
      this.chunks.push(frame)
    } else {
      this.reserve(total)
      writeFrameHeader(this.slab, this.slabEnd, size)
      this.slab.set(frame, this.slabEnd + FRAME_HEADER_BYTES)
      this.slabEnd += total
    }
    this.bytes += total
    this.frames++
  }

  /** Appends the frame `source[start, end)` by copying it (for frames below the by-reference size). */
  addCopy(source: Uint8Array, start: number, end: number): void {
    const size = end - start
    this.reserve(FRAME_HEADER_BYTES + size)
    const slab = this.slab
    let at = this.slabEnd
    writeFrameHeader(slab, at, size)
    at += FRAME_HEADER_BYTES
    if (size <= 128) for (let i = start; i < end; i++) slab[at++] = source[i]!
    else {
      slab.set(source.subarray(start, end), at)
      at += size
    }
    this.slabEnd = at
    this.bytes += FRAME_HEADER_BYTES + size
    this.frames++
  }

  /**
   * Encodes one frame straight into the slab: `encodeInto(value, slab, start)` writes the message
   * after room for its prefix and returns its end, or -1 when it does not fit. Returns the
   * message's size once queued; -1 when nothing was queued (no slab yet, not enough room left, or
   * a message as large as the last one would not fit); a size above `maxSize` is returned without
   * queueing the message. Throws what `encodeInto` throws (nothing is queued then).
   */
  addEncoded<T>(encodeInto: (value: T, target: Uint8Array, start: number) => number, value: T, maxSize: number): number {
    const slab = this.slab
    const free = slab.length - this.slabEnd - FRAME_HEADER_BYTES
    if (free < this.lastSize || free <= 0) return -1
    const start = this.slabEnd + FRAME_HEADER_BYTES
    const end = encodeInto(value, slab, start)
    if (end < 0) {
      this.lastSize = free + 1
      return -1
    }
    const size = end - start
    this.lastSize = size
    if (size > maxSize) return size
    writeFrameHeader(slab, this.slabEnd, size)
    this.slabEnd = end
    this.used = true
    this.bytes += FRAME_HEADER_BYTES + size
    this.frames++
    return size
  }

  /**
   * Takes everything queued, as byte chunks to write in order. With `maxUnit`, every chunk is at
   * most that long (the stream is cut into units; the receiver joins them again).
   */
  take(maxUnit?: number): Uint8Array[] {
    this.sealSlabPiece()
    let out = this.chunks
    this.chunks = []
    this.bytes = 0
    this.frames = 0
    if (maxUnit !== undefined) out = cutIntoUnits(out, maxUnit)
    return out
  }

  /**
   * Drops the slab if no frame was added since the last call and nothing is queued: an idle
   * connection holds no send memory (pieces already handed out stay valid; they are never
   * rewritten). Called by the shared sweeper.
   */
  releaseIfIdle(): void {
    if (this.used || this.frames > 0) {
      this.used = false
      return
    }
    this.drop()
  }

  /** Discards everything queued and gives the slab back (the transport has ended). */
  drop(): void {
    this.chunks = []
    this.bytes = 0
    this.frames = 0
    this.slab = EMPTY
    this.slabStart = 0
    this.slabEnd = 0
    this.nextSlab = SLAB_FIRST
    holding.delete(this)
  }

  /** Bytes of slab memory this outbox holds (for tests and stats). */
  get reservedBytes(): number {
    return this.slab.length
  }

  private reserve(n: number): void {
    this.used = true
    if (this.slab.length - this.slabEnd >= n) return
    this.sealSlabPiece()
    const size = Math.max(this.nextSlab, n)
    this.nextSlab = Math.min(SLAB_MAX, this.nextSlab * 2)
    this.slab = Buffer.allocUnsafeSlow(size)
    this.slabStart = 0
    this.slabEnd = 0
    this.lastSize = 0
    if (!holding.has(this)) {
      holding.add(this)
      sweeper ??= setInterval(sweep, SWEEP_MS).unref()
    }
  }

  private sealSlabPiece(): void {
    if (this.slabEnd > this.slabStart) {
      this.chunks.push(this.slab.subarray(this.slabStart, this.slabEnd))
      this.slabStart = this.slabEnd
    }
  }
}

/** Re-cuts chunks into units of at most `maxUnit` bytes, each unit as full as possible. */
export function cutIntoUnits(chunks: Uint8Array[], maxUnit: number): Uint8Array[] {
  if (chunks.length === 1 && chunks[0]!.length <= maxUnit) return chunks // one unit already
  const units: Uint8Array[] = []
  let unit: Uint8Array | undefined
  let fill = 0
  let left = 0 // bytes not yet placed in a unit: a unit is never allocated larger than what fills it
  for (const chunk of chunks) left += chunk.length
  for (const chunk of chunks) {
    let pos = 0
    while (pos < chunk.length) {
      if (unit === undefined && chunk.length - pos >= maxUnit) {
        units.push(chunk.subarray(pos, pos + maxUnit)) // a whole unit inside one chunk: no copy
        pos += maxUnit
        left -= maxUnit
        continue
      }
      unit ??= new Uint8Array(Math.min(maxUnit, left))
      const n = Math.min(unit.length - fill, chunk.length - pos)
      unit.set(chunk.subarray(pos, pos + n), fill)
      fill += n
      pos += n
      left -= n
      if (fill === unit.length) {
        units.push(unit)
        unit = undefined
        fill = 0
      }
    }
  }
  if (unit !== undefined) units.push(unit.subarray(0, fill))
  return units
}
