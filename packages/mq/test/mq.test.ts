import { spawn } from 'node:child_process'
import { fchmodSync, fstatSync, readdirSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { connect, isIpcError, listen } from '@ipc/core'
import { exitOf, roundTrip } from '@ipc/core/testing'
import { native } from '@ipc/native'
import '../src/index.js'
import { queueBytes, readLimits } from '../src/limits.js'
import { HELLO_TAG, encodeHello, replyQueueName } from '../src/posix/wire.js'
import { backlogFullHellosWait } from './backlog.js'
import { ENTRY, fresh, leftovers, mqueueVisible } from './targets.js'

const visible = mqueueVisible() // so leftover queues are visible to the checks
afterAll(async () => expect(await leftovers()).toEqual([]))
const MQ = native.mqConstants
const queuesOf = (name: string): string[] => readdirSync('/dev/mqueue').filter((q) => `/${q}` === name || `/${q}`.startsWith(`${name}.`))

describe('mq: POSIX queues', () => {
  it('the server queue is owner-only; a live listener gives ERR_IPC_ADDRESS_IN_USE; nothing listening gives ERR_IPC_NO_LISTENER', async () => {
    const address = fresh()
    const server = await listen(address)
    const fd = native.mqOpen(address.slice(3), MQ.O_RDONLY | MQ.O_NONBLOCK, 0, 0, 0)
    expect(fstatSync(fd).mode & 0o777).toBe(0o600)
    native.closeFd(fd)
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

  it('refuses hostile hellos (counted), never writes to a queue that fails the checks, and keeps serving', async () => {
    const address = fresh()
    const name = address.slice(3)
    const server = await listen(address)
    const served = (async () => {
      for await (const c of server) for await (const m of c) await c.send(m)
    })()
    const out = native.mqOpen(name, MQ.O_WRONLY | MQ.O_NONBLOCK, 0, 0, 0)
    const live = new native.LivenessMark()
    const mark = { pid: live.pid, fd: live.fd, ino: live.ino }
    const gone = new native.LivenessMark()
    const goneMark = { pid: gone.pid, fd: gone.fd, ino: gone.ino }
    gone.release()
    const looseRandom = Buffer.from('00000000000000aa', 'hex')
    const loose = native.mqOpen(replyQueueName(name, process.pid, looseRandom), MQ.O_CREAT | MQ.O_EXCL | MQ.O_RDONLY | MQ.O_NONBLOCK, 0o600, 4, 1024)
    fchmodSync(loose, 0o644) // open to others: must not be trusted
    const mine = native.mqOpen(
      replyQueueName(name, process.pid, Buffer.from('00000000000000bb', 'hex')),
      MQ.O_CREAT | MQ.O_EXCL | MQ.O_RDONLY | MQ.O_NONBLOCK,
      0o600,
      4,
      1024,
    )
    const hellos = [
      Buffer.from('garbage'),
      Buffer.from(`IPCMQ1 ${process.pid} ${name}.${process.pid}.0123456789abcdef`), // the old text hello
      encodeHello({ mark, random: randomBytes(8), clientTag: 1 }).subarray(0, 20), // truncated
      encodeHello({ mark, random: randomBytes(8), clientTag: 1 }), // names a reply queue that does not exist
      encodeHello({ mark, random: looseRandom, clientTag: 1 }), // a reply queue others may write
      encodeHello({ mark: goneMark, random: Buffer.from('00000000000000bb', 'hex'), clientTag: 1 }), // the client's mark has ended
      encodeHello({ mark: { ...mark, pid: 1 }, random: Buffer.from('00000000000000bb', 'hex'), clientTag: 1 }), // a mark that is not the client's (the name's pid differs)
      encodeHello({ mark, random: Buffer.from('00000000000000bb', 'hex'), clientTag: 0 }), // client tag 0
    ]
    for (const hello of hellos) native.mqSend(out, HELLO_TAG, hello, 0)
    native.mqSend(out, 12345, Buffer.from('a unit for a connection that does not exist'), 0)
    native.closeFd(out)
    expect(await roundTrip(address, 'still serving')).toBe('still serving')
    expect(server.stats.rejected).toBe(hellos.length)
    expect(native.mqGetattr(loose).curmsgs).toBe(0) // the listener never wrote to the loose queue
    expect(native.mqGetattr(mine).curmsgs).toBe(0) // nor to a queue named by a hello that failed its checks
    for (const [fd, random] of [
      [loose, looseRandom],
      [mine, Buffer.from('00000000000000bb', 'hex')],
    ] as const) {
      native.closeFd(fd)
      native.mqUnlink(replyQueueName(name, process.pid, random))
    }
    live.release()
    await server.close()
    await served
  })

  it('connections whose handshakes overlap share one reply queue: 30 at the default shape fit where 30 queues would not, and no name outlives its handshake', async () => {
    const address = fresh()
    const name = address.slice(3)
    const server = await listen(address)
    const served = (async () => {
      for await (const c of server)
        void (async () => {
          for await (const m of c) await c.send(m)
        })()
    })()
    const { bytesPerUser } = readLimits()
    const probe = native.mqOpen(name, MQ.O_RDONLY | MQ.O_NONBLOCK, 0, 0, 0)
    const shape = native.mqGetattr(probe)
    native.closeFd(probe)
    if (bytesPerUser !== Infinity) expect(31 * queueBytes(shape)).toBeGreaterThan(bytesPerUser) // one queue each could not work
    const ends = await Promise.all(Array.from({ length: 30 }, () => connect(address, { timeout: 10_000 })))
    if (visible) expect(queuesOf(name)).toEqual([name.slice(1)]) // the reply queue lives on without its name
    await Promise.all(
      ends.map(async (t, k) => {
        await t.send(k)
        expect(await t.receive({ timeout: 10_000 })).toBe(k)
      }),
    )
    await Promise.all(ends.map((t) => t.close()))
    await server.close()
    await served
  })

  it('while the backlog is full, hellos wait (none refused) and every client gets in as accept() makes room', async () => {
    await backlogFullHellosWait(fresh())
  })

  it('a client process killed while connected is seen as peer-exited and leaves no queue behind', async () => {
    const address = fresh()
    const name = address.slice(3)
    const server = await listen(address)
    const script = `import(${JSON.stringify(ENTRY)}).then(async ({ connect }) => {
      const t = await connect(${JSON.stringify(address)})
      await t.send('here'); setInterval(() => {}, 1000)
    })`
    const child = spawn(process.execPath, ['-e', script], { stdio: 'inherit' })
    const conn = await server.accept({ timeout: 10_000 })
    expect(await conn.receive({ timeout: 10_000 })).toBe('here')
    child.kill('SIGKILL')
    expect((await conn.closed).reason).toBe('peer-exited')
    if (visible) expect(queuesOf(name)).toEqual([name.slice(1)])
    await server.close()
    await exitOf(child)
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
    // RLIMIT_MSGQUEUE: default-sized listeners until the per-user bytes run out
    const servers = []
    let limit: any
    for (let k = 0; k < 40 && limit === undefined; k++) {
      try {
        servers.push(await listen(fresh()))
      } catch (e) {
        limit = e
      }
    }
    for (const s of servers) await s.close()
    expect(isIpcError(limit, 'ERR_IPC_SYSTEM')).toBe(true)
    expect(limit.message).toMatch(/RLIMIT_MSGQUEUE = \d+ bytes.*ulimit -q/)
    expect(limit.details).toMatchObject({ limit: 'RLIMIT_MSGQUEUE' })
  })
})
