import { closeSync, existsSync, lstatSync, openSync, symlinkSync, writeFileSync, writeSync, constants } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { connect, isIpcError, listen } from '@ipc/core'
import { roundTrip, spawnEchoListener } from '@ipc/core/testing'
import { native } from '@ipc/native'
import '../src/index.js'
import { ENTRY, fifoFolder } from './targets.js'

const folder = fifoFolder()
afterAll(() => folder.dispose())
const path = (address: string) => address.slice('fifo:'.length)

const childListener = (address: string) => spawnEchoListener(ENTRY, address)

describe('fifo: rendezvous', () => {
  it('creates the well-known FIFO 0600 and the pair folder 0700, whatever the umask; close removes both', async () => {
    const address = folder.fresh()
    const old = process.umask(0)
    try {
      const server = await listen(address)
      expect(lstatSync(path(address)).isFIFO()).toBe(true)
      expect(lstatSync(path(address)).mode & 0o777).toBe(0o600)
      expect(lstatSync(`${path(address)}.d`).mode & 0o777).toBe(0o700)
      await server.close()
    } finally {
      process.umask(old)
    }
    expect(existsSync(path(address))).toBe(false)
    expect(existsSync(`${path(address)}.d`)).toBe(false)
  })

  it('a live listener gives ERR_IPC_ADDRESS_IN_USE; a path that is not a FIFO is never touched', async () => {
    const address = folder.fresh()
    const server = await listen(address)
    expect(isIpcError(await listen(address).catch((e) => e), 'ERR_IPC_ADDRESS_IN_USE')).toBe(true)
    await server.close()
    const file = join(folder.dir, 'plain')
    writeFileSync(file, 'keep')
    expect(isIpcError(await listen(`fifo:${file}`).catch((e) => e), 'ERR_IPC_ADDRESS_IN_USE')).toBe(true)
    expect(existsSync(file)).toBe(true)
    expect(isIpcError(await connect(folder.fresh()).catch((e) => e), 'ERR_IPC_NO_LISTENER')).toBe(true)
  })

  it('drops hostile hello records and keeps serving', async () => {
    const address = folder.fresh()
    const server = await listen(address)
    const served = (async () => {
      for await (const c of server) for await (const m of c) await c.send(m)
    })()
    const wellKnown = path(address)
    const dir = `${wellKnown}.d`
    const pid = process.pid
    // a regular file, a FIFO open to others, a symlink to a FIFO elsewhere, a token with a path in it
    writeFileSync(join(dir, `${pid}-00000000000000a1.c2s`), '')
    writeFileSync(join(dir, `${pid}-00000000000000a1.s2c`), '')
    native.mkfifo(join(dir, `${pid}-00000000000000a2.c2s`), 0o644)
    native.mkfifo(join(dir, `${pid}-00000000000000a2.s2c`), 0o644)
    ;(await import('node:fs')).chmodSync(join(dir, `${pid}-00000000000000a2.c2s`), 0o644)
    native.mkfifo(join(folder.dir, 'elsewhere'), 0o600)
    symlinkSync(join(folder.dir, 'elsewhere'), join(dir, `${pid}-00000000000000a3.c2s`))
    symlinkSync(join(folder.dir, 'elsewhere'), join(dir, `${pid}-00000000000000a3.s2c`))
    const wk = openSync(wellKnown, constants.O_WRONLY | constants.O_NONBLOCK)
    for (const junk of [
      'garbage without a magic\n',
      'IPCFIFO1 1 1-0000000000000000\n', // a pid that is not the owner of the token's pair (no pair)
      `IPCFIFO1 ${pid} ${pid}-00000000000000a1\n`,
      `IPCFIFO1 ${pid} ${pid}-00000000000000a2\n`,
      `IPCFIFO1 ${pid} ${pid}-00000000000000a3\n`,
      `IPCFIFO1 ${pid} ../../etc/passwd\n`,
      'x'.repeat(5000), // no newline, longer than PIPE_BUF
      'IPCFIFO1 not numbers at all\n',
    ]) {
      writeSync(wk, junk)
    }
    closeSync(wk)
    expect(await roundTrip(address, 'still serving')).toBe('still serving')
    expect(existsSync(join(folder.dir, 'elsewhere'))).toBe(true)
    await server.close()
    await served
  })

  it('the client sees a killed listener as peer-exited', async () => {
    const address = folder.fresh()
    const { child, ready } = childListener(address)
    await ready
    const t = await connect(address)
    await t.send(1)
    expect(await t.receive({ timeout: 10_000 })).toBe(1)
    child.kill('SIGKILL')
    expect((await t.closed).reason).toBe('peer-exited')
  })
})
