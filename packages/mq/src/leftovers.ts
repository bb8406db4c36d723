/**
 * This user's message queues of the SDK, for `ipc ls` / `ipc clean`: POSIX server queues (named in
 * the ledger: a queue name could be anyone's), POSIX reply queues (`/<server>.<pid>.<16 hex>`),
 * and `mq+sysv:` key files with their queues. Alive while their owner's `flock` is held (read from
 * `/proc/locks`); removed only by the reclaim rules of `listen()`, which take that lock first.
 */
import { existsSync, fstatSync, lstatSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { IpcError } from '@ipc/core'
import { type LedgerRecord, type Leftover, closeQuietly, flockHolders, forgetRecord, lockKey, readLedger, staleEntry } from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { MQ, openExisting, reclaimReplyQueue, reclaimServerQueue } from './posix/rendezvous.js'
import { releaseKeyFile, queueKey } from './sysv/keyfile.js'
import { removeOldQueue } from './sysv/listen.js'

const REPLY = /^\/.+\.([1-9][0-9]{0,9})\.[0-9a-f]{16}$/
const FD = native.fdConstants

/** Bytes queued in a POSIX queue (`QSIZE:` of its /dev/mqueue file). */
function queued(file: string): number | undefined {
  try {
    const m = /QSIZE:(\d+)/.exec(readFileSync(file, 'latin1'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

function inUse(err: unknown): boolean {
  return err instanceof IpcError && err.code === 'ERR_IPC_ADDRESS_IN_USE'
}

/** A server queue named in the ledger, opened by name (no /dev/mqueue needed). */
function serverQueue(r: LedgerRecord, locks: Map<string, number>): Leftover {
  let fd: number | undefined
  try {
    fd = openExisting(r.path, MQ.O_RDONLY)
    const st = fstatSync(fd)
    const attr = native.mqGetattr(fd)
    const holder = locks.get(lockKey(st))
    return {
      mechanism: 'mq',
      kind: 'server queue',
      name: r.path,
      address: r.address,
      pid: holder ?? r.pid,
      alive: holder !== undefined,
      uid: st.uid,
      since: r.created,
      note: `${attr.curmsgs} unit(s) queued (${attr.maxmsg} × ${attr.msgsize} B)`,
      async remove() {
        try {
          await reclaimServerQueue(r.path, `ipc clean ${r.path}`)
        } catch (err) {
          if (inUse(err)) return false
          throw err
        }
        forgetRecord(r)
        return true
      },
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return staleEntry('mq', r, `${r.path} is gone`)
    throw err
  } finally {
    closeQuietly(fd, native.closeFd)
  }
}

/**
 * Reply queues of clients, where the mqueue filesystem is mounted at /dev/mqueue (nothing else
 * lists POSIX queue names). A reply queue's name exists only while its client has a handshake
 * under way, so one is left behind only by a client that died in the middle of connecting.
 */
function replyQueues(locks: Map<string, number>): Leftover[] {
  const out: Leftover[] = []
  let entries: string[] = []
  try {
    entries = existsSync('/dev/mqueue') ? readdirSync('/dev/mqueue') : []
  } catch {
    return out
  }
  for (const entry of entries) {
    const name = `/${entry}`
    const reply = REPLY.exec(name)
    if (reply === null) continue
    const file = `/dev/mqueue/${entry}`
    let st: ReturnType<typeof statSync>
    try {
      st = statSync(file)
    } catch {
      continue // removed meanwhile
    }
    const holder = locks.get(lockKey(st))
    out.push({
      mechanism: 'mq',
      kind: 'reply queue',
      name,
      pid: holder ?? Number(reply[1]),
      alive: holder !== undefined,
      uid: st.uid,
      since: st.mtimeMs,
      size: queued(file),
      async remove() {
        return reclaimReplyQueue(name)
      },
    })
  }
  return out
}

function posixLeftovers(locks: Map<string, number>): Leftover[] {
  const servers = readLedger('mq').map((r) => serverQueue(r, locks))
  const known = new Set(servers.map((l) => l.name))
  return [...servers, ...replyQueues(locks).filter((l) => !known.has(l.name))]
}

function sysvLeftovers(locks: Map<string, number>): Leftover[] {
  const out: Leftover[] = []
  for (const r of readLedger('mq+sysv')) {
    let st: ReturnType<typeof lstatSync>
    try {
      st = lstatSync(r.path)
    } catch {
      out.push(staleEntry('mq+sysv', r, `${r.path} is gone`))
      continue
    }
    if (!st.isFile()) {
      out.push(staleEntry('mq+sysv', r, `${r.path} is no longer a file`))
      continue
    }
    const holder = locks.get(lockKey(st))
    let id: number | undefined
    let note = 'no queue'
    try {
      id = native.msgGet(queueKey(r.path), 0)
      const q = native.msgStat(id)
      note = `msqid ${id}: ${q.qnum} message(s) queued`
    } catch {
      id = undefined
    }
    out.push({
      mechanism: 'mq+sysv',
      kind: 'key file',
      name: r.path,
      address: r.address,
      pid: holder ?? r.pid,
      alive: holder !== undefined,
      uid: st.uid,
      since: st.mtimeMs,
      note,
      async remove() {
        let fd: number
        try {
          fd = native.openFd(r.path, FD.O_RDONLY | FD.O_NOFOLLOW | FD.O_NONBLOCK, 0)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
          forgetRecord(r)
          return true
        }
        if (!native.lockExclusive(fd)) {
          closeQuietly(fd, native.closeFd)
          return false // a live listener holds it
        }
        try {
          let queue: number | undefined
          try {
            queue = native.msgGet(queueKey(r.path), 0)
          } catch {
            queue = undefined // no queue left: only the key file
          }
          if (queue !== undefined) removeOldQueue(queue, r.path, `ipc clean ${r.path}`)
        } catch (err) {
          closeQuietly(fd, native.closeFd)
          if (inUse(err)) return false
          throw err
        }
        releaseKeyFile({ fd, ino: st.ino }, r.path) // removes the file if it is still ours, drops the lock
        forgetRecord(r)
        return true
      },
    })
  }
  return out
}

/** This user's POSIX and System V queues of `@ipc/mq` (and their key files), alive or not. */
export async function leftovers(): Promise<Leftover[]> {
  const locks = flockHolders()
  return [...posixLeftovers(locks), ...sysvLeftovers(locks)]
}
