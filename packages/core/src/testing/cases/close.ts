// Promise 4: close() flushes, then releases every kernel object that side made.
import { expect, it } from 'vitest'
import { isIpcError } from '../../errors.js'
import type { Kit } from '../util.js'
import { exitOf, firstReport } from '../peers.js'

/** Promise 4: a close by either side is seen by the other, after what was queued. */
export function closeCases(kit: Kit): void {
  const { target, track } = kit
  it('promise 4: close() by the peer: this side sees it, and everything is released', async () => {
    const p = track(await target.startPeer('close-after:3', {}))
    const report = firstReport(p.child)
    for (let i = 0; i < 3; i++) await p.transport.send({ i })
    const info = await p.transport.closed
    expect(info.reason).toBe('peer')
    expect(info.error).toBeUndefined()
    expect(await report).toEqual({ closed: true })
    expect(await exitOf(p.child)).toBe(0)
    const err = await p.transport.receive().catch((e) => e)
    expect(isIpcError(err, 'ERR_IPC_CLOSED')).toBe(true)
  })

  it('promise 4: close() by this side: the peer sees it, queued messages are flushed first', async () => {
    const p = track(await target.startPeer('echo', {}))
    const report = firstReport(p.child)
    for (let i = 0; i < 1000; i++) void p.transport.send({ i })
    await p.transport.close()
    expect((await p.transport.closed).reason).toBe('local')
    expect(await report).toEqual({ count: 1000, reason: 'peer' })
    expect(await exitOf(p.child)).toBe(0)
    const sendErr = await p.transport.send({ i: 0 }).catch((e) => e)
    expect(isIpcError(sendErr, 'ERR_IPC_CLOSED')).toBe(true)
    // echoes that arrived before the close are still given out (Transport.receive); then ERR_IPC_CLOSED
    let recvErr: unknown
    for (let n = 0; n <= 1000 && recvErr === undefined; n++)
      recvErr = await p.transport.receive().then(
        () => undefined,
        (e) => e,
      )
    expect(isIpcError(recvErr, 'ERR_IPC_CLOSED')).toBe(true)
  })
}
