import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { afterAll } from 'vitest'
import { type ConformanceTarget, addressTarget } from '@ipc/core/testing'
import '../src/index.js'

const require = createRequire(import.meta.url)
/** The built entry of this package, for peer processes. */
export const ENTRY = join(dirname(require.resolve('@ipc/mq/package.json')), 'dist', 'index.js')
const NATIVE = require.resolve('@ipc/native')

/** Mounts the mqueue filesystem at /dev/mqueue when possible, so tests can see leftover queues. */
export function mqueueVisible(): boolean {
  if (existsSync('/dev/mqueue') && readdirSync('/proc/self').length > 0) {
    try {
      if (execFileSync('mount', [], { encoding: 'utf8' }).includes('/dev/mqueue type mqueue')) return true
    } catch {
      // no mount(8)
    }
  }
  try {
    mkdirSync('/dev/mqueue', { recursive: true })
    execFileSync('mount', ['-t', 'mqueue', 'none', '/dev/mqueue'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

let n = 0
/** A fresh queue name for this test process. */
export const fresh = (): string => `mq:/ipc-test-${process.pid}-${++n}`

/** Queues named for this test process that exist now (needs /dev/mqueue). */
export async function leftovers(): Promise<string[]> {
  if (!existsSync('/dev/mqueue')) return []
  return readdirSync('/dev/mqueue').filter((q) => q.startsWith(`ipc-test-${process.pid}-`))
}

/**
 * A misbehaving client in a child process: the real handshake by hand, then `bytes` raw on its
 * connection; it exits (`end`) or stays.
 */
const RAW_CLIENT = `
const { native } = require(${JSON.stringify(NATIVE)})
const [server, hex, end] = process.argv.slice(1)
const K = native.mqConstants
const reply = server + '.' + process.pid + '.' + '0123456789abcdef'
const out = native.mqOpen(server, K.O_WRONLY | K.O_NONBLOCK, 0, 0, 0)
const rq = native.mqOpen(reply, K.O_CREAT | K.O_EXCL | K.O_RDONLY | K.O_NONBLOCK, 0o600, 10, 8192)
native.mqSend(out, 0, Buffer.from('IPCMQ1 ' + process.pid + ' ' + reply), 0)
const buf = Buffer.alloc(8192 + 8)
const w = new native.FdWatcher(rq, () => {
  if (native.mqReceiveMany(rq, buf, 8192) === 0) return
  w.close()
  native.mqUnlink(reply)
  const tag = buf.readUInt32LE(8 + 4)
  native.mqSend(out, tag, Buffer.from(hex, 'hex'), 0)
  if (end === 'end') process.exit(0)
  setInterval(() => {}, 1000)
})
w.start(native.READABLE)
`

const raws = new Set<ReturnType<typeof spawn>>()
afterAll(() => raws.forEach((c) => c.kill('SIGKILL')))

/** Runs `script` with `args` in a child that is killed after the test file if still alive. */
export function spawnRaw(script: string, args: string[]): ReturnType<typeof spawn> {
  const child = spawn(process.execPath, ['-e', script, ...args], { stdio: 'inherit' })
  raws.add(child)
  child.once('exit', () => raws.delete(child))
  return child
}

export function mqTarget(): ConformanceTarget {
  return addressTarget({
    name: 'mq (POSIX)',
    entry: ENTRY,
    fresh,
    killedPeerReason: 'peer-exited',
    boundaries: [8192 - 8, 8192 - 4, 8192, 10 * 8192],
    leftovers,
    rawClient: async (address, bytes, end) => spawnRaw(RAW_CLIENT, [address.slice('mq:'.length), Buffer.from(bytes).toString('hex'), end ? 'end' : 'stay']),
  })
}
