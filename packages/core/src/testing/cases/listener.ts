// Listeners: many clients (promise 1), reclaim after a crash (promise 4), isolation of a bad connection (promise 5).
import { expect, it } from 'vitest'
import { isIpcError } from '../../errors.js'
import { connect } from '../../registry.js'
import type { Transport } from '../../transport.js'
import type { Kit } from '../util.js'
import { exitOf, firstReport, roundTrip } from '../peers.js'

/** Cases for mechanisms with listeners. */
export function listenerCases(kit: Kit): void {
  const { target, cleanups } = kit
  const lt = target.listener
  if (lt) {
    it('promise 1: many clients on one listener at once, each with its own conversation', async () => {
      const address = lt.fresh()
      const server = await lt.listen(address, {})
      cleanups.push(() => server.close())
      const clients = Array.from({ length: 6 }, () => lt.spawnClient(server.address, 'echo', {}))
      for (const c of clients) cleanups.push(() => (c.exitCode === null ? c.kill('SIGKILL') : undefined))
      const reports = clients.map((c) => firstReport(c))
      const conns: Transport<any, any>[] = []
      for (let k = 0; k < clients.length; k++) conns.push(await server.accept({ timeout: 20_000 }))
      await Promise.all(
        conns.map(async (conn, k) => {
          for (let i = 0; i < 500; i++) await conn.send({ k, i })
          for (let i = 0; i < 500; i++) expect(await conn.receive({ timeout: 20_000 })).toEqual({ k, i })
          await conn.close()
        }),
      )
      expect((await Promise.all(reports)).map((r) => r.count)).toEqual(clients.map(() => 500))
      const pids = new Set(conns.map((c) => c.peer?.pid).filter((pid) => pid !== undefined))
      expect(pids).toEqual(target.reportsPeer === false ? new Set() : new Set(clients.map((c) => c.pid)))
      for (const c of clients) expect(await exitOf(c)).toBe(0)
    })

    if (lt.spawnListener) {
      const spawnListener = lt.spawnListener.bind(lt)
      it("promise 4: a crashed listener's address is reclaimed by the next listen() (50 kill-and-restart cycles)", async () => {
        const address = lt.fresh()
        for (let cycle = 0; cycle < 50; cycle++) {
          const { child, ready } = spawnListener(address)
          cleanups.push(() => (child.exitCode === null && child.signalCode === null ? child.kill('SIGKILL') : undefined))
          await ready
          if (cycle % 10 === 0) expect(await roundTrip(address, { cycle })).toEqual({ cycle })
          // once, a client stays connected: it must see its listener's death
          const witness = cycle === 25 ? await connect(address, { timeout: 10_000 }) : undefined
          if (witness) cleanups.push(() => witness.close())
          const killedAt = performance.now()
          child.kill('SIGKILL')
          await exitOf(child)
          if (witness) {
            const info = await witness.closed
            expect(info.reason).toBe(target.killedPeerReason)
            expect(performance.now() - killedAt).toBeLessThan(1000)
          }
        }
        // what the last crash left is not a listener, and the next listen() takes it over
        expect(isIpcError(await connect(address).catch((e) => e), 'ERR_IPC_NO_LISTENER')).toBe(true)
        const server = await lt.listen(address, {})
        cleanups.push(() => server.close())
        const served = (async () => {
          for await (const c of server) for await (const m of c) await c.send(m)
        })()
        expect(await roundTrip(address, 'after 50 crashes')).toBe('after 50 crashes')
        await server.close()
        await served
      }, 120_000)
    }

    if (lt.injectRaw) {
      const injectAt = lt.injectRaw.bind(lt)
      it('promise 5: the listener and other connections keep working after a connection sent garbage', async () => {
        const address = lt.fresh()
        const server = await lt.listen(address, {})
        cleanups.push(() => server.close())
        const before = lt.spawnClient(server.address, 'echo', {})
        cleanups.push(() => (before.exitCode === null ? before.kill('SIGKILL') : undefined))
        const beforeConn = await server.accept({ timeout: 20_000 })
        await injectAt(server.address, Uint8Array.from([0xff, 0xff, 0xff, 0x7f, 0, 0]), false)
        const badConn = await server.accept({ timeout: 20_000 })
        cleanups.push(() => badConn.close())
        expect((await badConn.closed).error?.code).toBe('ERR_IPC_MESSAGE_TOO_LARGE')
        const after = lt.spawnClient(server.address, 'echo', {})
        cleanups.push(() => (after.exitCode === null ? after.kill('SIGKILL') : undefined))
        const afterConn = await server.accept({ timeout: 20_000 })
        for (const conn of [beforeConn, afterConn]) {
          await conn.send({ ok: 1 })
          expect(await conn.receive({ timeout: 10_000 })).toEqual({ ok: 1 })
          await conn.close()
        }
        expect(await exitOf(before)).toBe(0)
        expect(await exitOf(after)).toBe(0)
      })
    }
  }
}
