/**
 * `unix:` socket files of this user's listeners, for `ipc ls` / `ipc clean`: found through the
 * ledger (a socket file can be anywhere), alive while `/proc/net/unix` lists a listening socket
 * bound where the listener first bound it, removed only when a connect is refused (the reclaim
 * rule of `listen()`).
 */
import { readFileSync } from 'node:fs'
import { lstat, unlink } from 'node:fs/promises'
import { type Leftover, descriptorHolders, forgetRecord, readLedger, staleEntry } from '@ipc/core/mechanism'
import { probe } from './unix.js'

/** Listening Unix sockets by the path they were bound at: their socket inode. */
function listeningSockets(): Map<string, string> {
  const out = new Map<string, string>()
  let text = ''
  try {
    text = readFileSync('/proc/net/unix', 'utf8')
  } catch {
    return out
  }
  for (const line of text.split('\n').slice(1)) {
    // "Num: RefCount Protocol Flags Type St Inode Path"; __SO_ACCEPTCON (0x10000) marks a listener
    const f = line.trim().split(/\s+/)
    if (f.length < 8 || (Number.parseInt(f[3], 16) & 0x10000) === 0) continue
    out.set(f.slice(7).join(' '), f[6])
  }
  return out
}

/** This user's `unix:` socket files (path addresses; abstract names leave nothing behind). */
export async function leftovers(): Promise<Leftover[]> {
  const records = readLedger('unix')
  const listening = listeningSockets()
  const out: Leftover[] = []
  const sockets = new Map<Leftover, string>()
  for (const r of records) {
    const st = await lstat(r.path).catch(() => undefined)
    if (st === undefined) {
      out.push(staleEntry('unix', r, `${r.path} is gone`))
      continue
    }
    if (!st.isSocket()) {
      out.push(staleEntry('unix', r, `${r.path} is no longer a socket`))
      continue
    }
    const inode = r.bound !== undefined ? listening.get(r.bound) : undefined
    const item: Leftover = {
      mechanism: 'unix',
      kind: 'socket file',
      name: r.path,
      address: r.address,
      pid: r.pid,
      alive: inode !== undefined,
      uid: st.uid,
      since: st.mtimeMs,
      size: st.size,
      async remove() {
        // the reclaim rule of listen(): only a socket file whose connect is refused is a dead listener's
        const state = await probe(r.path).catch(() => 'live' as const)
        if (state === 'live') return false
        if (state === 'stale') {
          const now = await lstat(r.path).catch(() => undefined)
          if (now === undefined || now.ino !== st.ino) return false
          await unlink(r.path)
        }
        forgetRecord(r)
        return true
      },
    }
    if (inode !== undefined) sockets.set(item, `socket:${inode}`)
    out.push(item)
  }
  const holders = descriptorHolders(new Set(sockets.values()))
  for (const [item, key] of sockets) item.pid = holders.get(key)?.[0] ?? item.pid
  return out
}
