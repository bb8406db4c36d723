import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll } from 'vitest'
import { type ConformanceTarget, addressTarget } from '@ipc/core/testing'
import { native } from '@ipc/native'
import '../src/index.js'
import { queueKey } from '../src/sysv/keyfile.js'

const require = createRequire(import.meta.url)
const ROOT = dirname(require.resolve('@ipc/mq/package.json'))
/** The built entry of this package, for peer processes. */
export const ENTRY = join(ROOT, 'dist', 'index.js')
/** The built wire modules: the raw clients in child processes speak the handshake with the package's own code. */
const POSIX_WIRE = pathToFileURL(join(ROOT, 'dist', 'posix', 'wire.js')).href
const SYSV_WIRE = pathToFileURL(join(ROOT, 'dist', 'sysv', 'wire.js')).href
const NATIVE = pathToFileURL(require.resolve('@ipc/native')).href

/** Mounts the mqueue filesystem at /dev/mqueue when possible, so tests can see leftover queues. */
export function mqueueVisible(): boolean {
  try {
    if (readFileSync('/proc/self/mounts', 'utf8').includes(' /dev/mqueue mqueue ')) return true
  } catch {
    // no /proc/self/mounts: try mounting anyway
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
/** A fresh POSIX queue name of this test process. */
export const fresh = (): string => `mq:/ipc-test-${process.pid}-${++n}`

/** POSIX queues named for this test process that exist now (needs /dev/mqueue). */
export async function leftovers(): Promise<string[]> {
  if (!existsSync('/dev/mqueue')) return []
  return readdirSync('/dev/mqueue').filter((q) => q.startsWith(`ipc-test-${process.pid}-`))
}

const raws = new Set<ReturnType<typeof spawn>>()
afterAll(() => {
  for (const c of raws) c.kill('SIGKILL')
})

/** Runs the ES module `script` with `args` in a child that is killed after the test file if still alive. */
export function spawnRaw(script: string, args: string[]): ReturnType<typeof spawn> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], { stdio: 'inherit' })
  raws.add(child)
  child.once('exit', () => raws.delete(child))
  return child
}

/**
 * A misbehaving POSIX client in a child process: the real handshake, built with the package's
 * wire module (its own reply queue and mark), then `bytes` raw as one unit of its connection; it
 * exits (`end`: its mark ends) or stays.
 */
const POSIX_RAW_CLIENT = `
import { randomBytes } from 'node:crypto'
import { native } from ${JSON.stringify(NATIVE)}
import * as wire from ${JSON.stringify(POSIX_WIRE)}
const [server, hex, end] = process.argv.slice(1)
const MQ = native.mqConstants
const own = new native.LivenessMark()
const random = randomBytes(wire.REPLY_RANDOM_BYTES)
const reply = wire.replyQueueName(server, process.pid, random)
const out = native.mqOpen(server, MQ.O_WRONLY | MQ.O_NONBLOCK, 0, 0, 0)
const rq = native.mqOpen(reply, MQ.O_CREAT | MQ.O_EXCL | MQ.O_RDONLY | MQ.O_NONBLOCK, 0o600, 10, 8192)
const mark = { pid: own.pid, fd: own.fd, ino: own.ino }
native.mqSend(out, wire.HELLO_TAG, wire.encodeHello({ mark, random, clientTag: 7 }), 0)
const buf = Buffer.alloc(8192 + wire.RECORD_HEADER_BYTES)
const w = new native.FdWatcher(rq, () => {
  let ack
  wire.forEachRecord(buf, native.mqReceiveMany(rq, buf, 8192), (unit) => (ack ??= wire.decodeAck(wire.untag(unit).body)))
  if (!ack) return
  w.close()
  native.mqUnlink(reply)
  native.mqSend(out, ack.tag, Buffer.from(hex, 'hex'), 0)
  if (end === 'end') process.exit(0)
  setInterval(() => {}, 1000)
})
w.start(native.READABLE)
`

/** The POSIX conformance target. */
export function mqTarget(): ConformanceTarget {
  return addressTarget({
    name: 'mq (POSIX)',
    entry: ENTRY,
    fresh,
    killedPeerReason: 'peer-exited',
    boundaries: [8192 - 8, 8192 - 4, 8192, 10 * 8192],
    leftovers,
    rawClient: async (address, bytes, end) =>
      spawnRaw(POSIX_RAW_CLIENT, [address.slice('mq:'.length), Buffer.from(bytes).toString('hex'), end ? 'end' : 'stay']),
  })
}

/**
 * A misbehaving System V client in a child process: the real handshake with the package's wire
 * module, then `bytes` raw as one data unit. It answers the listener's closed unit with its own
 * (so the listener is not left waiting) and exits then (`end`), or stays.
 */
const SYSV_RAW_CLIENT = `
import { native } from ${JSON.stringify(NATIVE)}
import * as wire from ${JSON.stringify(SYSV_WIRE)}
const [msqid, hex, end] = process.argv.slice(1)
const id = Number(msqid)
const own = new native.LivenessMark()
const mtype = wire.MIN_CLIENT_MTYPE + process.pid
const toListener = (tag, unit) => native.msgSend(id, wire.MTYPE_SERVER, wire.tagged(tag, unit))
toListener(wire.HELLO_TAG, wire.encodeHello({ mark: { pid: own.pid, fd: own.fd, ino: own.ino }, mtype }))
let tag
new native.SysvReceiver(id, mtype, 8192, (error, batch) => {
  if (error) process.exit(0) // the queue is gone
  wire.forEachRecord(batch, (record) => {
    if (tag === undefined) {
      tag = wire.decodeAck(record).tag
      toListener(tag, wire.dataUnit(Buffer.from(hex, 'hex')))
      if (end === 'end') toListener(tag, wire.CLOSED_UNIT)
    } else if (record[0] === wire.KIND_CLOSED) {
      if (end !== 'end') toListener(tag, wire.CLOSED_UNIT)
      if (end === 'end') process.exit(0)
    }
  })
})
`

/** A private folder of key files for `mq+sysv:` tests; `leftovers()` lists what this run left. */
export function sysvFolder() {
  const dir = mkdtempSync(join(tmpdir(), 'ipc-sysv-test-'))
  let k = 0
  const paths = new Set<string>()
  const keys = new Set<number>()
  const folder = {
    dir,
    /** A fresh key file path (not created). */
    path: (): string => {
      const p = join(dir, `k${++k}.key`)
      paths.add(p)
      return p
    },
    fresh: (): string => `mq+sysv:${folder.path()}`,
    /** Remembers the key of `path` now (for a key file that will be removed later). */
    track(path: string): void {
      try {
        keys.add(queueKey(path))
      } catch {
        // not there (yet)
      }
    },
    /**
     * This run's leftovers: System V queues whose key comes from this run's key files (those of
     * `path()`, those in the folder now, and those seen by earlier calls), and files in the folder.
     * Queues of other runs and other programs of this user are not counted.
     */
    leftovers: async (): Promise<string[]> => {
      const files = readdirSync(dir)
      for (const p of [...paths, ...files.map((f) => join(dir, f))]) folder.track(p)
      const queues = readFileSync('/proc/sysvipc/msg', 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => keys.has(Number(f[0])))
        .map((f) => `msqid ${f[1]} (key ${f[0]}, ${f[4]} messages)`)
      return [...queues, ...files]
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  }
  return folder
}

/** The System V conformance target. */
export function sysvTarget(folder: ReturnType<typeof sysvFolder>): ConformanceTarget {
  return addressTarget({
    name: 'mq+sysv',
    entry: ENTRY,
    fresh: folder.fresh,
    killedPeerReason: 'peer-exited',
    boundaries: [8192 - 8, 8192 - 4, 8192, 16384],
    leftovers: folder.leftovers,
    rawClient: async (address, bytes, end) => {
      const msqid = native.msgGet(queueKey(address.slice('mq+sysv:'.length)), 0)
      return spawnRaw(SYSV_RAW_CLIENT, [String(msqid), Buffer.from(bytes).toString('hex'), end ? 'end' : 'stay'])
    },
  })
}
