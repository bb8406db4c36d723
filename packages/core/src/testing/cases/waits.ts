// Every wait honours its timeout and AbortSignal.
import { expect, it } from 'vitest'
import { isIpcError } from '../../errors.js'
import type { Kit } from '../util.js'

/** `receive()` honours `timeout` and `AbortSignal`, and the transport keeps working. */
export function waitCases(kit: Kit): void {
  const { target, track } = kit
  it('waits: receive() honours timeout and AbortSignal; the transport keeps working', async () => {
    const p = track(await target.startPeer('echo', {}))
    const t = p.transport
    const timedOut = await t.receive({ timeout: 20 }).catch((e) => e)
    expect(isIpcError(timedOut, 'ERR_IPC_TIMEOUT')).toBe(true)
    const ac = new AbortController()
    const aborted = t.receive({ signal: ac.signal }).catch((e) => e)
    ac.abort(new Error('stop'))
    expect(isIpcError(await aborted, 'ERR_IPC_ABORTED')).toBe(true)
    const pre = await t.receive({ signal: AbortSignal.abort() }).catch((e) => e)
    expect(isIpcError(pre, 'ERR_IPC_ABORTED')).toBe(true)
    const bad = await Promise.resolve()
      .then(() => t.receive({ timeout: -1 }))
      .catch((e) => e)
    expect(isIpcError(bad, 'ERR_IPC_INVALID_ARGUMENT')).toBe(true)
    await t.send({ hello: 'again' })
    expect(await t.receive({ timeout: 10_000 })).toEqual({ hello: 'again' })
    await t.close()
    const afterClose = await t.send({}).catch((e) => e)
    expect(isIpcError(afterClose, 'ERR_IPC_CLOSED')).toBe(true)
  })
}
