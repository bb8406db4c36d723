// Promise 1 under load: a burst of clients larger than any backlog all connect.
import { expect, it } from 'vitest'
import { connect } from '../../registry.js'
import type { Transport } from '../../transport.js'
import type { Kit } from '../util.js'

/** 500 simultaneous `connect()` calls to one listener all succeed (mechanisms with listeners). */
export function burstCases(kit: Kit): void {
  const { target, cleanups } = kit
  const lt = target.listener
  if (!lt) return
  const clients = lt.burst?.clients ?? 500
  it(`promise 1: ${clients} simultaneous connect() calls to one listener all succeed and each gets its own conversation`, async () => {
    const server = await lt.listen(lt.fresh() + (lt.burst?.params ?? ''), {})
    cleanups.push(() => server.close())
    const accepted: Transport<any, any>[] = []
    const serving = (async () => {
      for await (const conn of server) {
        accepted.push(conn)
        void (async () => {
          for await (const m of conn) await conn.send(m).catch(() => undefined)
        })()
        if (accepted.length === clients) return
      }
    })()
    const ends = await Promise.all(Array.from({ length: clients }, () => connect(server.address, { timeout: 60_000 })))
    cleanups.push(() => Promise.all(ends.map((t) => t.close())))
    const replies = await Promise.all(
      ends.map(async (t, k) => {
        await t.send({ k })
        return ((await t.receive({ timeout: 60_000 })) as { k: number }).k
      }),
    )
    expect(replies).toEqual(ends.map((_, k) => k))
    await serving
    expect(accepted.length).toBe(clients)
    await Promise.all(ends.map((t) => t.close()))
    await Promise.all(accepted.map((c) => c.closed))
  }, 120_000)
}
