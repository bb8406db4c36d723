// Promise 3: a peer that exits, even by SIGKILL, is noticed.
import { expect, it } from 'vitest'
import { isIpcError } from '../../errors.js'
import type { Kit } from '../util.js'
import { exitOf } from '../peers.js'

/** Promise 3: a peer killed mid-stream is noticed within 100 ms; pending calls reject. */
export function crashCases(kit: Kit): void {
  const { target, track } = kit
  it('promise 3: a peer killed with SIGKILL mid-stream: whole messages only, closed within 100 ms, pending calls reject', async () => {
    const p = track(await target.startPeer('source:100000000:1000', {}))
    let count = 0
    let whole = true
    let killedAt = 0
    const consuming = (async () => {
      try {
        while (true) {
          const m = (await p.transport.receive()) as { i: number; pad: Uint8Array }
          if (m.i !== count || m.pad.length !== 1000 || m.pad[999] !== 7) whole = false
          count++
          if (count === 2000) {
            killedAt = performance.now()
            p.child.kill('SIGKILL')
          }
        }
      } catch (err) {
        return err
      }
    })()
    const info = await p.transport.closed
    const detectedAfter = performance.now() - killedAt
    const err = await consuming
    expect(killedAt).toBeGreaterThan(0)
    expect(info.reason).toBe(target.killedPeerReason)
    expect(detectedAfter).toBeLessThan(100)
    expect(whole).toBe(true)
    expect(count).toBeGreaterThanOrEqual(2000)
    expect(isIpcError(err, target.killedPeerReason === 'peer' ? 'ERR_IPC_CLOSED' : 'ERR_IPC_PEER_EXITED')).toBe(true)
    const sendErr = await p.transport.send({ i: -1 }).catch((e) => e)
    expect(isIpcError(sendErr, target.killedPeerReason === 'peer' ? 'ERR_IPC_CLOSED' : 'ERR_IPC_PEER_EXITED')).toBe(true)
    expect(await exitOf(p.child)).toBe('SIGKILL')
  })
}
