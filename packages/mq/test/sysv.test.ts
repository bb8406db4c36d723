import { spawn } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { afterAll, describe, expect, it } from 'vitest'
import { connect, isIpcError, listen } from '@ipc/core'
import { describeConformance, exitOf, roundTrip, spawnEchoListener } from '@ipc/core/testing'
import { native } from '@ipc/native'
import { KEY_FILE_TEXT, queueKey } from '../src/sysv/keyfile.js'
import { HEADER, HELLO_TAG, MIN_CLIENT_MTYPE, MTYPE_HEADER, MTYPE_SERVER, encodeHello, isHeader, tagged } from '../src/sysv/wire.js'
import { backlogFullHellosWait } from './backlog.js'
import { ENTRY, sysvFolder, sysvTarget } from './targets.js'

const require = createRequire(import.meta.url)
const folder = sysvFolder()
afterAll(() => folder.dispose())

describeConformance(sysvTarget(folder))

const msqidOf = (path: string): number => native.msgGet(queueKey(path), 0)
/** Messages in a queue, by kind: empty (a receiver's wake-up), header, or the first byte of a unit. */
function census(msqid: number): Record<string, number> {
  const kinds: Record<string, number> = {}
  const taken: Buffer[] = []
  for (let m = native.msgReceiveNow(msqid, -0x7fffffff, 65536); m !== null; m = native.msgReceiveNow(msqid, -0x7fffffff, 65536)) taken.push(m)
  for (const m of taken) {
    const kind = m.length === 0 ? 'empty' : isHeader(m) ? 'header' : `kind ${m[0]}`
    kinds[kind] = (kinds[kind] ?? 0) + 1
  }
  native.msgSend(msqid, MTYPE_HEADER, HEADER)
  return kinds
}

/** A child that holds `flock` on `path` (opened through the addon) until killed; resolves once it holds it. */
function lockHolder(path: string) {
  const script = `const { native } = require(${JSON.stringify(require.resolve('@ipc/native'))})
    const fd = native.openFd(${JSON.stringify(path)}, native.fdConstants.O_RDONLY, 0)
    if (!native.lockExclusive(fd)) process.exit(3)
    process.stdout.write('LOCKED\\n'); setInterval(() => {}, 1000)`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => (String(d).includes('LOCKED') ? resolve() : undefined))
    child.once('exit', (code) => reject(new Error(`lock holder exited (${code})`)))
  })
  return { child, locked }
}

describe('mq+sysv: rendezvous', () => {
  afterAll(async () => expect(await folder.leftovers()).toEqual([]))

  it('the key file is locked while a listener lives: a second listener gives ERR_IPC_ADDRESS_IN_USE; after close nothing listens and nothing is left', async () => {
    const path = folder.path()
    const address = `mq+sysv:${path}`
    const server = await listen(address)
    const served = (async () => {
      for await (const c of server) for await (const m of c) await c.send(m)
    })()
    expect(readFileSync(path, 'latin1')).toBe(KEY_FILE_TEXT)
    expect(isIpcError(await listen(address).catch((e) => e), 'ERR_IPC_ADDRESS_IN_USE')).toBe(true)
    const other = spawnEchoListener(ENTRY, address)
    await expect(other.ready).rejects.toThrow(/exited/) // another process: in use too
    expect(await roundTrip(address, 'alive')).toBe('alive')
    folder.track(path)
    await server.close()
    await served
    expect(existsSync(path)).toBe(false)
    expect(isIpcError(await connect(address).catch((e) => e), 'ERR_IPC_NO_LISTENER')).toBe(true)
  })

  it('a killed listener leaves its key file unlocked: connect() fails at once with ERR_IPC_NO_LISTENER, listen() reclaims the queue', async () => {
    const path = folder.path()
    const address = `mq+sysv:${path}`
    const { child, ready } = spawnEchoListener(ENTRY, address)
    await ready
    const old = msqidOf(path)
    child.kill('SIGKILL')
    await exitOf(child)
    expect(existsSync(path)).toBe(true) // what it left: the key file and the queue
    const started = performance.now()
    expect(isIpcError(await connect(address, { timeout: 5000 }).catch((e) => e), 'ERR_IPC_NO_LISTENER')).toBe(true)
    expect(performance.now() - started).toBeLessThan(500)
    const server = await listen(address)
    expect(msqidOf(path)).not.toBe(old)
    expect(() => native.msgStat(old)).toThrow() // the dead listener's queue is gone
    const served = (async () => {
      for await (const c of server) for await (const m of c) await c.send(m)
    })()
    expect(await roundTrip(address, 'reclaimed')).toBe('reclaimed')
    await server.close()
    await served
  })

  it('a key file whose lock another process holds is in use, whatever its queue; nothing of it is touched', async () => {
    const path = folder.path()
    writeFileSync(path, 'held elsewhere\n', { mode: 0o600 })
    const holder = lockHolder(path)
    try {
      await holder.locked
      expect(isIpcError(await listen(`mq+sysv:${path}`).catch((e) => e), 'ERR_IPC_ADDRESS_IN_USE')).toBe(true)
      expect(readFileSync(path, 'latin1')).toBe('held elsewhere\n')
    } finally {
      holder.child.kill('SIGKILL')
      await exitOf(holder.child)
    }
    // unlocked, a key file of the user's own (not made by a listener) serves, and is left in place at close
    const server = await listen(`mq+sysv:${path}`)
    await server.close()
    expect(readFileSync(path, 'latin1')).toBe('held elsewhere\n')
    rmSync(path)
  })

  it('a queue that is not ours (no header) is never reclaimed; a key file that is not owner-only is refused', async () => {
    const foreign = folder.path()
    writeFileSync(foreign, 'not ours\n')
    chmodSync(foreign, 0o600)
    const id = native.msgGet(queueKey(foreign), native.sysvConstants.IPC_CREAT | 0o600) // a queue without our header
    try {
      expect(isIpcError(await listen(`mq+sysv:${foreign}`).catch((e) => e), 'ERR_IPC_ADDRESS_IN_USE')).toBe(true)
      expect(native.msgStat(id).qnum).toBe(0)
    } finally {
      native.msgRemove(id)
    }
    chmodSync(foreign, 0o644)
    expect(isIpcError(await listen(`mq+sysv:${foreign}`).catch((e) => e), 'ERR_IPC_PERMISSION')).toBe(true)
    rmSync(foreign)
  })

  it('drops hostile hellos and units for unknown connections, counts them, and keeps serving', async () => {
    const path = folder.path()
    const address = `mq+sysv:${path}`
    const server = await listen(address)
    const served = (async () => {
      for await (const c of server)
        void (async () => {
          for await (const m of c) await c.send(m)
        })()
    })()
    const id = msqidOf(path)
    const gone = new native.LivenessMark()
    const goneRef = { pid: gone.pid, fd: gone.fd, ino: gone.ino }
    gone.release() // a mark that has ended
    const live = new native.LivenessMark()
    const liveRef = { pid: live.pid, fd: live.fd, ino: live.ino }
    const bad = [
      Buffer.from('garbage'),
      encodeHello({ mark: goneRef, mtype: MIN_CLIENT_MTYPE + 1 }), // the client is gone
      encodeHello({ mark: liveRef, mtype: MIN_CLIENT_MTYPE + 2 }).subarray(0, 20), // truncated
      Buffer.concat([Buffer.from([0, 0, 0, 0]), encodeHello({ mark: liveRef, mtype: MIN_CLIENT_MTYPE + 3 }).subarray(4)]), // bad magic
      (() => {
        const h = encodeHello({ mark: liveRef, mtype: MIN_CLIENT_MTYPE })
        h.writeUInt32LE(5, h.length - 4) // an mtype below the clients' range
        return h
      })(),
    ]
    for (const hello of bad) native.msgSend(id, MTYPE_SERVER, tagged(HELLO_TAG, hello))
    native.msgSend(id, MTYPE_SERVER, tagged(4242, Buffer.from('a unit for no connection')))
    native.msgSend(id, MTYPE_SERVER, Buffer.from([1])) // shorter than a tag
    expect(await roundTrip(address, 'still serving')).toBe('still serving')
    expect(server.stats.rejected).toBe(bad.length + 1)
    live.release()
    await server.close()
    await served
  })

  it('while the backlog is full, hellos wait (none refused) and every client gets in as accept() makes room', async () => {
    await backlogFullHellosWait(folder.fresh())
  })

  it('a queue removed from outside (ipcrm) ends its connections with "peer" and closes the listener, which removes its key file', async () => {
    const path = folder.path()
    const address = `mq+sysv:${path}`
    const server = await listen(address)
    const client = await connect(address, { timeout: 10_000 })
    const conn = await server.accept({ timeout: 10_000 })
    native.msgRemove(msqidOf(path))
    expect((await client.closed).reason).toBe('peer')
    expect((await conn.closed).reason).toBe('peer')
    await server.closed
    expect(existsSync(path)).toBe(false)
  })

  it('300 connect/send/close cycles leave nothing unread in the queue, and nothing at all once the listener closes', async () => {
    const path = folder.path()
    const address = `mq+sysv:${path}`
    const server = await listen(address)
    folder.track(path)
    const accepted: Promise<unknown>[] = []
    const served = (async () => {
      for await (const c of server) {
        accepted.push(c.closed)
        void (async () => {
          for await (const m of c) await c.send(m).catch(() => undefined)
        })()
      }
    })()
    for (let i = 0; i < 300; i++) {
      const t = await connect(address, { timeout: 10_000 })
      await t.send({ i })
      if (i % 2 === 0) expect(await t.receive({ timeout: 10_000 })).toEqual({ i }) // half of them close with the echo still on its way
      await t.close()
    }
    expect(accepted).toHaveLength(300)
    await Promise.all(accepted) // every listener-side end has seen its client's close
    // only the header: no credit, closed unit, echo or wake-up left for a client that has gone
    expect(census(msqidOf(path))).toEqual({ header: 1 })
    await server.close()
    await served
    expect(await folder.leftovers()).toEqual([])
  }, 60_000)
})
