import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { afterAll, describe, expect, it } from 'vitest'
import { connect, isIpcError, listen } from '@ipc/core'
import { addressTarget, describeConformance, roundTrip, spawnEchoListener } from '@ipc/core/testing'
import { ENTRY, spawnRaw } from './targets.js'

const dir = mkdtempSync(join(tmpdir(), 'ipc-sysv-test-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const NATIVE = createRequire(import.meta.url).resolve('@ipc/native')

/** A misbehaving client in a child: the handshake by hand, then `bytes` as one data unit; it exits (`end`) or stays. */
const RAW_CLIENT = `
const { native } = require(${JSON.stringify(NATIVE)})
const [keyFile, hex, end] = process.argv.slice(1)
const id = native.msgGet(native.ftokKey(keyFile, 0x49), 0)
const mtype = 0x2000000 + process.pid
const tagged = (tag, body) => { const b = Buffer.alloc(4 + body.length); b.writeUInt32LE(tag, 0); body.copy(b, 4); return b }
native.msgSend(id, 2, tagged(0, Buffer.from('IPCSV1 ' + process.pid + ' ' + mtype)))
const r = new native.SysvReceiver(id, mtype, 8192, (error, batch) => {
  if (!batch || batch.length < 16) return
  const tag = batch.readUInt32LE(4 + 4)
  r.close()
  native.msgSend(id, 2, tagged(tag, Buffer.concat([Buffer.from([0]), Buffer.from(hex, 'hex')])))
  if (end === 'end') { native.msgSend(id, 2, tagged(tag, Buffer.from([2]))); process.exit(0) }
  setInterval(() => {}, 1000)
})
`

/** System V queues created by this user that exist now, and key files left in the test folder. */
async function leftovers(): Promise<string[]> {
  const uid = String(process.getuid!())
  const queues = readFileSync('/proc/sysvipc/msg', 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[9] === uid)
    .map((f) => `msqid ${f[1]}`)
  return [...queues, ...readdirSync(dir)]
}

describeConformance(
  addressTarget({
    name: 'mq+sysv',
    entry: ENTRY,
    fresh: () => `mq+sysv:${join(dir, `k${++n}.key`)}`,
    killedPeerReason: 'peer-exited',
    boundaries: [8192 - 8, 8192 - 4, 8192, 16384],
    leftovers,
    rawClient: async (address, bytes, end) => spawnRaw(RAW_CLIENT, [address.slice('mq+sysv:'.length), Buffer.from(bytes).toString('hex'), end ? 'end' : 'stay']),
  }),
)

describe('mq+sysv: rendezvous', () => {
  it('a live listener gives ERR_IPC_ADDRESS_IN_USE; nothing listening gives ERR_IPC_NO_LISTENER; a foreign key file is never touched', async () => {
    const address = `mq+sysv:${join(dir, `k${++n}.key`)}`
    const server = await listen(address)
    expect(readFileSync(address.slice('mq+sysv:'.length), 'latin1')).toBe(`IPCSV1 ${process.pid}\n`)
    const other = spawnEchoListener(ENTRY, address)
    await expect(other.ready).rejects.toThrow(/exited/) // the second listener fails: in use
    await server.close()
    expect(isIpcError(await connect(address).catch((e) => e), 'ERR_IPC_NO_LISTENER')).toBe(true)
    const foreign = join(dir, 'foreign.key')
    writeFileSync(foreign, 'not ours\n')
    chmodSync(foreign, 0o600)
    const native = (await import('@ipc/native')).native
    const id = native.msgGet(native.ftokKey(foreign, 0x49), native.sysvConstants.IPC_CREAT | 0o600) // a queue without our header
    try {
      expect(isIpcError(await listen(`mq+sysv:${foreign}`).catch((e) => e), 'ERR_IPC_ADDRESS_IN_USE')).toBe(true)
      expect(native.msgStat(id).qnum).toBe(0)
    } finally {
      native.msgRemove(id)
      rmSync(foreign)
    }
  })

  it('drops hostile hellos and units for unknown connections, and keeps serving', async () => {
    const address = `mq+sysv:${join(dir, `k${++n}.key`)}`
    const server = await listen(address)
    const served = (async () => {
      for await (const c of server) void (async () => {
        for await (const m of c) await c.send(m)
      })()
    })()
    const gone = spawn(process.execPath, ['-e', ''])
    await new Promise((r) => gone.once('exit', r)) // a pid that no longer runs
    const native = (await import('@ipc/native')).native
    const id = native.msgGet(native.ftokKey(address.slice('mq+sysv:'.length), 0x49), 0)
    const tagged = (tag: number, text: string) => Buffer.concat([Buffer.from(Uint32Array.of(tag).buffer), Buffer.from(text, 'latin1')])
    for (const junk of ['garbage', `IPCSV1 ${gone.pid} 33554432`, `IPCSV1 ${process.pid} 5`, `IPCSV1 ${process.pid} 99999999999`, 'IPCSV1 x y']) {
      native.msgSend(id, 2, tagged(0, junk))
    }
    native.msgSend(id, 2, tagged(4242, 'a unit for no connection'))
    native.msgSend(id, 2, Buffer.from([1])) // shorter than a tag
    expect(await roundTrip(address, 'still serving')).toBe('still serving')
    await server.close()
    await served
  })
})
