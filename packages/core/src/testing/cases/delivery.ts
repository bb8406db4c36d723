// Promise 1: delivered whole, in order, exactly once — or the transport closes with an error.
import { expect, it } from 'vitest'
import { isIpcError } from '../../errors.js'
import { type Kit, HWM, MAX, equalBytes, pattern } from '../util.js'
import { exitOf, firstReport } from '../peers.js'

/** Promise 1: every size arrives whole and in order; full duplex at volume. */
export function deliveryCases(kit: Kit): void {
  const { target, track } = kit
  it('promise 1: delivers every size, whole, in order, exactly once; rejects maxMessageSize + 1', async () => {
    const options = { codec: 'raw' as const, maxMessageSize: MAX, highWaterMark: HWM }
    const p = track(await target.startPeer('echo', options))
    const base = [0, 1, 2, 3, 4, 5, 4092, 4096, 16 * 1024, 64 * 1024, HWM, 256 * 1024, 1024 * 1024, MAX - 4, MAX]
    const sizes = new Set<number>()
    for (const b of [...base, ...(target.boundaries ?? [])]) for (const d of [-1, 0, 1]) if (b + d >= 0 && b + d <= MAX) sizes.add(b + d)
    const list = [...sizes].sort((a, b) => a - b)
    const sent = list.map((size, k) => pattern(size, k))
    const receiving = (async () => {
      const got: Uint8Array[] = []
      for (let k = 0; k < sent.length; k++) got.push(new Uint8Array(await p.transport.receive({ timeout: 30_000 })))
      return got
    })()
    for (const m of sent) await p.transport.send(m)
    const got = await receiving
    expect(got.map((g) => g.length)).toEqual(list)
    expect(got.every((g, k) => equalBytes(g, sent[k]!))).toBe(true)
    const over = await p.transport.send(new Uint8Array(MAX + 1)).catch((e) => e)
    expect(isIpcError(over, 'ERR_IPC_MESSAGE_TOO_LARGE')).toBe(true)
    // the transport still works after the refused message
    await p.transport.send(Uint8Array.of(42))
    expect(Array.from(await p.transport.receive({ timeout: 10_000 }))).toEqual([42])
    expect(p.transport.stats.messagesOut).toBe(list.length + 1)
    expect(p.transport.stats.messagesIn).toBe(list.length + 1)
  })

  it('promise 1: full duplex: 100,000 small messages each way at once, every id checked', async () => {
    const total = 100_000
    const p = track(await target.startPeer(`duplex:${total}`, {}))
    const report = firstReport(p.child)
    const sending = (async () => {
      for (let i = 0; i < total; i++) await p.transport.send({ i })
    })()
    let expected = 0
    let inOrder = true
    while (expected < total) {
      const m = (await p.transport.receive({ timeout: 30_000 })) as { i: number }
      if (m.i !== expected) inOrder = false
      expected++
    }
    await sending
    expect(inOrder).toBe(true)
    expect(expected).toBe(total)
    expect(await report).toEqual({ received: total, ok: true })
    expect((await p.transport.closed).reason).toBe('peer')
    expect(await exitOf(p.child)).toBe(0)
  })
}
