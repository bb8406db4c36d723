// Promise 2: memory is bounded — a slow reader makes send() wait.
import { expect, it } from 'vitest'
import { type Kit, HWM, settlesWithin } from '../util.js'
import { peerReports, reportSeen } from '../peers.js'

/** Promise 2: a reader that stops reading makes `send()` wait; nothing is lost. */
export function backpressureCases(kit: Kit): void {
  const { target, track } = kit
  it('promise 2: a reader that stops reading makes send() wait, memory stays bounded, nothing is lost', async () => {
    const options = { highWaterMark: HWM }
    const p = track(await target.startPeer('stall', options))
    const reports = peerReports(p.child)
    // SIGUSR1 must find the peer waiting for it: before its handler exists it would start Node's inspector
    const stalled = reportSeen(p.child, { stalled: true })
    const pad = new Uint8Array(64 * 1024).fill(3)
    const before = process.memoryUsage().arrayBuffers
    let accepted = 0
    // send until one send() has not resolved for 300 ms: the peer reads nothing, so it must wait
    while (true) {
      const pending = p.transport.send({ i: accepted, pad })
      if (!(await settlesWithin(pending, 300))) {
        accepted++ // queued behind the others; it resolves once the reader resumes
        const grown = process.memoryUsage().arrayBuffers - before
        expect(grown).toBeLessThan(64 * 1024 * 1024)
        expect(p.transport.stats.queuedBytes).toBeLessThanOrEqual(HWM + 2 * (pad.length + 64))
        await stalled
        p.child.kill('SIGUSR1')
        await pending
        break
      }
      await pending
      accepted++
      expect(accepted * pad.length).toBeLessThan(256 * 1024 * 1024) // it must block long before this
    }
    const total = accepted + 200
    for (let i = accepted; i < total; i++) await p.transport.send({ i, pad })
    await p.transport.send({ done: true })
    const all = await reports
    expect(all[1]).toEqual({ received: total, ok: true, bytes: total * pad.length })
  })
}

/** `trySend()`: queues exactly what `send()` would accept at once, and nothing once the reader stalls. */
export function trySendCases(kit: Kit): void {
  const { target, track } = kit
  it('promise 2: trySend() queues while there is room, returns false (queueing nothing) once send() would wait, and loses nothing', async () => {
    const options = { highWaterMark: HWM }
    const p = track(await target.startPeer('stall', options))
    const reports = peerReports(p.child)
    // SIGUSR1 must find the peer waiting for it: before its handler exists it would start Node's inspector
    const stalled = reportSeen(p.child, { stalled: true })
    const pad = new Uint8Array(16 * 1024).fill(5)
    let accepted = 0
    let refusedInARow = 0
    // the reader reads nothing: trySend must start refusing long before 256 MiB
    while (refusedInARow < 50) {
      if (p.transport.trySend({ i: accepted, pad })) {
        accepted++
        refusedInARow = 0
        expect(accepted * pad.length).toBeLessThan(256 * 1024 * 1024)
      } else {
        refusedInARow++
        // a refusal queues nothing; let the link move what it can, then try again
        expect(p.transport.stats.queuedBytes).toBeLessThanOrEqual(HWM + 2 * (pad.length + 64))
        await new Promise((r) => setTimeout(r, 2))
      }
    }
    expect(() => p.transport.trySend({ pad: new Uint8Array(64) }, { priority: 0.5 })).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ARGUMENT' }))
    await stalled
    p.child.kill('SIGUSR1')
    await p.transport.send({ done: true })
    const all = await reports
    expect(all[1]).toEqual({ received: accepted, ok: true, bytes: accepted * pad.length })
    await p.transport.close()
    expect(p.transport.trySend({ i: 0 })).toBe(false) // closed: nothing queued, no throw
  })
}
