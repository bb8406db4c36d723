// Promise 2: memory is bounded — a slow reader makes send() wait.
import { expect, it } from 'vitest'
import { type Kit, HWM, settlesWithin } from '../util.js'
import { peerReports } from '../peers.js'

/** Promise 2: a reader that stops reading makes `send()` wait; nothing is lost. */
export function backpressureCases(kit: Kit): void {
  const { target, track } = kit
  it('promise 2: a reader that stops reading makes send() wait, memory stays bounded, nothing is lost', async () => {
    const options = { highWaterMark: HWM }
    const p = track(await target.startPeer('stall', options))
    const reports = peerReports(p.child)
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
