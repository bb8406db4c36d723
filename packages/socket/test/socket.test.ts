import { spawn } from 'node:child_process'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { connect, isIpcError, listen } from '@ipc/core'
import { exitOf, firstReport, peerCommand, spawnEchoListener } from '@ipc/core/testing'
import '../src/index.js'
import { ENTRY, socketFolder } from './targets.js'

const folder = socketFolder()
afterAll(() => folder.dispose())

const childListener = (address: string) => spawnEchoListener(ENTRY, address)

describe('unix: socket files', () => {
  it('are created 0600 whatever the umask, and removed on close', async () => {
    const address = folder.fresh()
    const path = address.slice('unix:'.length)
    const old = process.umask(0)
    try {
      const server = await listen(address)
      expect(statSync(path).mode & 0o777).toBe(0o600)
      expect(statSync(path).isSocket()).toBe(true)
      await server.close()
      expect(existsSync(path)).toBe(false)
    } finally {
      process.umask(old)
    }
    expect(await folder.leftovers()).toEqual([])
  })

  it('honour an explicit mode', async () => {
    const address = `${folder.fresh()}?mode=660`
    const server = await listen(address)
    expect(statSync(address.slice(5, -'?mode=660'.length)).mode & 0o777).toBe(0o660)
    await server.close()
  })

  it('left by a crashed server are reclaimed; a live server gives ERR_IPC_ADDRESS_IN_USE', async () => {
    const address = folder.fresh()
    const path = address.slice('unix:'.length)
    const { child, ready } = childListener(address)
    await ready
    const inUse = await listen(address).catch((e) => e)
    expect(isIpcError(inUse, 'ERR_IPC_ADDRESS_IN_USE')).toBe(true)
    child.kill('SIGKILL')
    await exitOf(child)
    expect(statSync(path).isSocket()).toBe(true) // the crash left it behind
    const server = await listen(address)
    const t = await connect(address)
    const conn = await server.accept({ timeout: 5000 })
    await t.send('after reclaim')
    expect(await conn.receive({ timeout: 5000 })).toBe('after reclaim')
    await t.close()
    await conn.close()
    await server.close()
    expect(existsSync(path)).toBe(false)
  })

  it('a path that is not a socket is never removed', async () => {
    const path = join(folder.dir, 'not-a-socket')
    writeFileSync(path, 'keep me')
    const err = await listen(`unix:${path}`).catch((e) => e)
    expect(isIpcError(err, 'ERR_IPC_ADDRESS_IN_USE')).toBe(true)
    expect(existsSync(path)).toBe(true)
  })

  it('reports ERR_IPC_NO_LISTENER, and bad addresses clearly', async () => {
    expect(isIpcError(await connect(folder.fresh()).catch((e) => e), 'ERR_IPC_NO_LISTENER')).toBe(true)
    expect(isIpcError(await connect(`unix:/${'x'.repeat(200)}`).catch((e) => e), 'ERR_IPC_INVALID_ADDRESS')).toBe(true)
    expect(isIpcError(await listen(`${folder.fresh()}?bogus=1`).catch((e) => e), 'ERR_IPC_INVALID_ADDRESS')).toBe(true)
    expect(isIpcError(await connect('tcp://127.0.0.1:1').catch((e) => e), 'ERR_IPC_NO_LISTENER')).toBe(true)
    expect(isIpcError(await connect('tcp:nohost').catch((e) => e), 'ERR_IPC_INVALID_ADDRESS')).toBe(true)
  })
})

describe('unix: peer credentials and allow', () => {
  const nobody = 65534

  it('report the peer pid, uid and gid on both ends', async () => {
    const address = folder.fresh()
    const server = await listen(address)
    const child = spawn(process.execPath, peerCommand(ENTRY, { connect: address }, 'echo', {}), { stdio: ['ignore', 'pipe', 'inherit'] })
    const conn = await server.accept({ timeout: 10_000 })
    expect(conn.peer).toEqual({ pid: child.pid, uid: process.getuid!(), gid: process.getgid!() })
    await conn.close()
    await server.close()
    expect(await exitOf(child)).toBe(0)
  })

  // needs root to start a process as another uid; CI runs as root
  it.skipIf(process.getuid!() !== 0)('rejects other uids before reading a byte; allow admits them', async () => {
    const address = `unix:@ipc-allow-${process.pid}`
    const server = await listen(address) // default: only our uid
    const stranger = spawn(process.execPath, peerCommand(ENTRY, { connect: address }, 'watch-close', {}), {
      stdio: ['ignore', 'pipe', 'inherit'],
      uid: nobody,
      gid: nobody,
    })
    const strangerSaw = firstReport(stranger)
    expect(await strangerSaw).toEqual({ reason: 'peer' }) // connected by the kernel, then closed unread
    const friend = spawn(process.execPath, peerCommand(ENTRY, { connect: address }, 'echo', {}), { stdio: ['ignore', 'pipe', 'inherit'] })
    const conn = await server.accept({ timeout: 10_000 })
    expect(conn.peer?.pid).toBe(friend.pid) // the stranger never became a connection
    await conn.close()
    await server.close()

    const open = await listen(`unix:@ipc-allow2-${process.pid}?allow=${nobody}`)
    const guest = spawn(process.execPath, peerCommand(ENTRY, { connect: open.address }, 'echo', {}), {
      stdio: ['ignore', 'pipe', 'inherit'],
      uid: nobody,
      gid: nobody,
    })
    const guestConn = await open.accept({ timeout: 10_000 })
    expect(guestConn.peer?.uid).toBe(nobody)
    await guestConn.send('hi')
    expect(await guestConn.receive({ timeout: 10_000 })).toBe('hi')
    await guestConn.close()
    await open.close()
    expect(await exitOf(guest)).toBe(0)
  })
})

describe('tcp:', () => {
  it('listens on loopback unless a host is given', async () => {
    const server = await listen('tcp://:0')
    expect(server.address).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/)
    await server.close()
  })
})
