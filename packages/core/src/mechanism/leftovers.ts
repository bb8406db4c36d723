/**
 * What a mechanism package tells tools such as `ipc ls` / `ipc clean` about the kernel objects and
 * rendezvous files of the SDK on this machine, and the `/proc` readings they share. Each mechanism
 * exports `leftovers()` (its own `leftovers.ts`), which finds its objects and knows its own reclaim
 * rule; this file only describes the result.
 */
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs'
import { type LedgerRecord, forgetRecord } from './ledger.js'

/** One object of the SDK: a queue, a socket file, a FIFO, a rendezvous file, a semaphore. */
export interface Leftover {
  /** The address scheme (or `sem-posix` for a POSIX named semaphore of `Semaphore`). */
  mechanism: string
  /** What it is: `socket file`, `fifo`, `pair folder`, `server queue`, `reply queue`, `key file`, `queue`, `rendezvous file`, `semaphore`, `ledger entry`. */
  kind: string
  /** Its path, or its name for POSIX queues (`/app`) and System V queues (`msqid 5`). */
  name: string
  /** The address it serves, when known. */
  address?: string
  /** The pid of its live owner (or, when dead, of the process that made it, when known). */
  pid?: number
  /** `true` while its owner mark is held (a live listener or client); `false` when it is a leftover of a dead owner. */
  alive: boolean
  /** The uid it belongs to. */
  uid?: number
  /** When it was made or last changed (ms since the epoch), when known. */
  since?: number
  /** Bytes: queued bytes for a queue, the file's size otherwise, when known. */
  size?: number
  /** More about it, for people (e.g. `3 messages queued`). */
  note?: string
  /**
   * Removes it if its owner is still dead (checked again, by the mechanism's own reclaim rule,
   * under its lock where there is one); `true` when it was removed. Never removes a live one.
   */
  remove(): Promise<boolean>
}

/** A device number as `/proc/locks` writes it (`major:minor`, hex) from `st_dev`. */
export function deviceText(dev: number): string {
  const major = ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff)
  const minor = (dev & 0xff) | ((dev >>> 12) & ~0xff)
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`
}

/**
 * Holders of `flock` locks, by `"<major>:<minor>:<inode>"` (as {@link lockKey} makes), read from
 * `/proc/locks`: the SDK's owner marks of queues, key files and rendezvous files.
 */
export function flockHolders(): Map<string, number> {
  const out = new Map<string, number>()
  let text = ''
  try {
    text = readFileSync('/proc/locks', 'utf8')
  } catch {
    return out
  }
  for (const line of text.split('\n')) {
    // "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"
    const m = /^\d+:\s+FLOCK\s+\S+\s+\S+\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line)
    if (m === null) continue
    out.set(`${m[2].padStart(2, '0')}:${m[3].padStart(2, '0')}:${m[4]}`, Number(m[1]))
  }
  return out
}

/** The key of a file in {@link flockHolders}. */
export function lockKey(st: { dev: number; ino: number }): string {
  return `${deviceText(st.dev)}:${st.ino}`
}

/** The pids of every process in /proc (those of other users included; what can be read of them is another matter). */
function processIds(): string[] {
  try {
    return readdirSync('/proc').filter((n) => /^\d+$/.test(n))
  } catch {
    return []
  }
}

function addHolder(out: Map<string, number[]>, key: string, pid: string): void {
  const list = out.get(key) ?? []
  if (!list.includes(Number(pid))) list.push(Number(pid))
  out.set(key, list)
}

/**
 * The processes that hold a descriptor on each of the given objects (by `"<dev>:<ino>"` of the
 * file, or `"socket:<ino>"` for sockets), found by looking through `/proc/<pid>/fd` of every
 * process this user may read. One pass for all of them.
 */
export function descriptorHolders(wanted: Set<string>): Map<string, number[]> {
  const out = new Map<string, number[]>()
  if (wanted.size === 0) return out
  for (const pid of processIds()) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue // another user's, or gone
    }
    for (const fd of fds) {
      let key: string
      try {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`)
        const sock = /^socket:\[(\d+)\]$/.exec(link)
        if (sock !== null) key = `socket:${sock[1]}`
        else {
          if (!link.startsWith('/')) continue
          const st = statSync(`/proc/${pid}/fd/${fd}`)
          key = `${st.dev}:${st.ino}`
        }
      } catch {
        continue
      }
      if (wanted.has(key)) addHolder(out, key, pid)
    }
  }
  return out
}

/**
 * The processes that have each of the given files mapped, by {@link lockKey} (device and inode,
 * as `/proc/<pid>/maps` shows them; names there can be a temporary one since removed), for every
 * process this user may read: a POSIX named semaphore is mapped by every process that has it open.
 */
export function mappingHolders(keys: Set<string>): Map<string, number[]> {
  const out = new Map<string, number[]>()
  if (keys.size === 0) return out
  for (const pid of processIds()) {
    let maps: string
    try {
      maps = readFileSync(`/proc/${pid}/maps`, 'latin1')
    } catch {
      continue
    }
    for (const line of maps.split('\n')) {
      // "7f..-7f.. rw-s 00000000 00:1a 12345   /dev/shm/sem.name"
      const f = line.split(/\s+/, 6)
      if (f.length < 6 || f[4] === '0') continue
      const key = `${f[3]}:${f[4]}`
      if (keys.has(key)) addHolder(out, key, pid)
    }
  }
  return out
}

/**
 * A ledger entry whose object is gone (or is no longer what the entry says): listed so that
 * `ipc clean` removes the entry; `also` removes what else belongs to it (e.g. a FIFO pair folder).
 */
export function staleEntry(mechanism: string, record: LedgerRecord, note: string, also?: () => void): Leftover {
  return {
    mechanism,
    kind: 'ledger entry',
    name: record.file,
    address: record.address,
    pid: record.pid,
    alive: false,
    since: record.created,
    note,
    async remove() {
      also?.()
      forgetRecord(record)
      return true
    },
  }
}
