import { spawn } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
import { connect, isIpcError, listen } from '@ipc/core'
import { exitOf, roundTrip } from '@ipc/core/testing'
import { native } from '@ipc/native'
import '../src/index.js'
import { ENTRY, fresh, leftovers, mqueueVisible } from './targets.js'

mqueueVisible() // so leftover queues are visible to the checks
afterAll(async () => expect(await leftovers()).toEqual([]))


describe('mq: POSIX queues', () => {
  it('the server queue is owner-only; a live listener gives ERR_IPC_ADDRESS_IN_USE; nothing listening gives ERR_IPC_NO_LISTENER', async () => {
    const address = fresh()
    const server = await listen(address)
    const fd = native.mqOpen(address.slice(3), native.mqConstants.O_RDONLY | native.mqConstants.O_NONBLOCK, 0, 0, 0)
    const { fstatSync, closeSync } = await import('node:fs')
    expect(fstatSync(fd).mode & 0o777).toBe(0o600)
    closeSync(fd)
    expect(isIpcError(await listen(address).catch((e) => e), 'ERR_IPC_ADDRESS_IN_USE')).toBe(true)
    await server.close()
    expect(isIpcError(await connect(address).catch((e) => e), 'ERR_IPC_NO_LISTENER')).toBe(true)
    expect(isIpcError(await listen('mq:no-slash').catch((e) => e), 'ERR_IPC_INVALID_ADDRESS')).toBe(true)
  })

  it('priorities: higher first across processes, order kept within each priority', async () => {
    const address = fresh()
    const server = await listen(address)
    const script = `import(${JSON.stringify(ENTRY)}).then(async ({ connect }) => {
      const t = await connect(${JSON.stringify(address)})
      await t.receive() // go
      for (let i = 0; i < 60; i++) void t.send({ i, p: i % 3 }, { priority: (i % 3) * 10 })
      await t.close()
    })`
    const child = spawn(process.execPath, ['-e', script], { stdio: 'inherit' })
    const conn = await server.accept({ timeout: 10_000 })
    expect(isIpcError(await conn.send({}, { priority: 32 }).catch((e) => e), 'ERR_IPC_INVALID_ARGUMENT')).toBe(true)
    await conn.send('go')
    const got: { i: number; p: number }[] = []
    for await (const m of conn) got.push(m as { i: number; p: number })
    expect(got).toHaveLength(60)
    for (const p of [0, 1, 2]) {
      const ids = got.filter((m) => m.p === p).map((m) => m.i)
      expect(ids).toEqual([...ids].sort((a, b) => a - b))
    }
    expect(got[0]!.p).toBe(2) // all queued in one tick: the top priority leaves and arrives first
    await server.close()
    expect(await exitOf(child)).toBe(0)
  })

  it('drops hostile hellos and keeps serving', async () => {
    const address = fresh()
    const name = address.slice(3)
    const server = await listen(address)
    const served = (async () => {
      for await (const c of server) for await (const m of c) await c.send(m)
    })()
    const K = native.mqConstants
    const out = native.mqOpen(name, K.O_WRONLY | K.O_NONBLOCK, 0, 0, 0)
    const other = `${name}.${process.pid}.00000000000000aa`
    const loose = native.mqOpen(other, K.O_CREAT | K.O_EXCL | K.O_RDONLY | K.O_NONBLOCK, 0o644, 4, 1024)
    ;(await import('node:fs')).fchmodSync(loose, 0o644)
    for (const junk of ['garbage', 'IPCMQ1 1 /etc/passwd', `IPCMQ1 ${process.pid} /elsewhere.${process.pid}.0000000000000000`, `IPCMQ1 ${process.pid} ${other}`, 'IPCMQ1 x y z']) {
      native.mqSend(out, 0, Buffer.from(junk), 0)
    }
    native.mqSend(out, 12345, Buffer.from('a unit for a connection that does not exist'), 0)
    ;(await import('node:fs')).closeSync(out)
    expect(await roundTrip(address, 'still serving')).toBe('still serving')
    expect(native.mqGetattr(loose).curmsgs).toBe(0) // the listener never wrote to the loose queue
    ;(await import('node:fs')).closeSync(loose)
    native.mqUnlink(other)
    await server.close()
    await served
  })

  it('names the limit when a queue cannot be created', async () => {
    // as root msg_max may be exceeded, but not the kernel's hard cap or the per-user bytes
    const err = await listen(`${fresh()}?maxmsg=60000`).catch((e) => e)
    expect(isIpcError(err)).toBe(true)
    expect(err.message).toMatch(/fs\.mqueue\.msg_max = \d+|RLIMIT_MSGQUEUE = \d+/)
    expect(err.message).toMatch(/sysctl|ulimit/)
    const big = await listen(`${fresh()}?maxmsg=10&msgsize=1MiB`).catch((e) => e)
    expect(isIpcError(big)).toBe(true)
    expect(big.message).toMatch(/msgsize_max|RLIMIT_MSGQUEUE/)
  })
})
