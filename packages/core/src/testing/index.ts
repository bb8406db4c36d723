/**
 * `@ipc/core/testing` — the conformance kit. Every transport runs the same cases, with real
 * child processes as peers, through one call of {@link describeConformance}. Each case file
 * proves one of the promises in the README ("The promises every transport keeps"); every case
 * title starts with the promise it proves.
 *
 * @example
 * ```ts
 * import { addressTarget, describeConformance } from '@ipc/core/testing'
 * describeConformance(addressTarget({ name: 'unix', entry, fresh: () => `unix:${dir}/s${n++}.sock`, killedPeerReason: 'peer' }))
 * ```
 *
 * @packageDocumentation
 */
import { afterEach, describe, expect } from 'vitest'
import { backpressureCases, trySendCases } from './cases/backpressure.js'
import { burstCases } from './cases/burst.js'
import { closeCases } from './cases/close.js'
import { crashCases } from './cases/crash.js'
import { decodingCases } from './cases/decoding.js'
import { deliveryCases } from './cases/delivery.js'
import { hostileCases } from './cases/hostile.js'
import { listenerCases } from './cases/listener.js'
import { optionCases } from './cases/options.js'
import { waitCases } from './cases/waits.js'
import { workerCases } from './cases/worker.js'
import type { ConformanceTarget, PeerConnection } from './target.js'
import type { Kit } from './util.js'

export { PEER_SCRIPT, exitOf, firstReport, peerCommand, peerReports, roundTrip, spawnEchoListener } from './peers.js'
export { type AddressTargetOptions, type ConformanceTarget, type PeerConnection, addressTarget } from './target.js'

/**
 * Instantiates the conformance cases for one transport (inside the caller's vitest file).
 * Every case uses real child processes through `target.startPeer`.
 */
export function describeConformance(target: ConformanceTarget): void {
  const cleanups: (() => unknown)[] = []
  const track = (p: PeerConnection): PeerConnection => {
    cleanups.push(
      () => p.transport.close(),
      () => (p.child.exitCode === null && p.child.signalCode === null ? p.child.kill('SIGKILL') : undefined),
    )
    return p
  }
  const kit: Kit = { target, track, cleanups }

  describe(`conformance: ${target.name}`, () => {
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c()
      if (target.leftovers) expect(await target.leftovers()).toEqual([])
    })
    deliveryCases(kit)
    decodingCases(kit)
    backpressureCases(kit)
    trySendCases(kit)
    crashCases(kit)
    closeCases(kit)
    waitCases(kit)
    hostileCases(kit)
    listenerCases(kit)
    burstCases(kit)
    optionCases(kit)
    workerCases(kit)
  })
}
