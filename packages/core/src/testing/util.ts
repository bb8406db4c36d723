import type { StandardSchemaV1 } from '../schema.js'
import type { ConformanceTarget, PeerConnection } from './target.js'

/** What every case file gets from {@link describeConformance}. */
export interface Kit {
  target: ConformanceTarget
  /** Registers a peer for cleanup after the case (its transport closed, its process killed). */
  track(p: PeerConnection): PeerConnection
  /** Cleanups run after each case, last first. */
  cleanups: (() => unknown)[]
}

export function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size)
  for (let j = 0; j < size; j++) out[j] = (seed * 131 + j * 7) & 0xff
  return out
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

/** Resolves `true` if `p` settles within `ms`, else `false` (to observe that something waits). */
export function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    p.then(
      () => {
        clearTimeout(timer)
        resolve(true)
      },
      () => {
        clearTimeout(timer)
        resolve(true)
      },
    )
  })
}

/** A Standard Schema that accepts `{ i: number }` only. */
export const numberedSchema: StandardSchemaV1<unknown, { i: number }> = {
  '~standard': {
    version: 1,
    vendor: 'ipc-conformance',
    validate: (v) =>
      typeof v === 'object' && v !== null && typeof (v as { i?: unknown }).i === 'number'
        ? { value: v as { i: number } }
        : { issues: [{ message: 'expected { i: number }', path: ['i'] }] },
  },
}

/** maxMessageSize used by the size cases (small enough to keep the suite fast). */
export const MAX = 2 * 1024 * 1024 + 17
/** highWaterMark used by the size and backpressure cases. */
export const HWM = 256 * 1024
