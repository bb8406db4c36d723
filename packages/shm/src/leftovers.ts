/**
 * Rendezvous files of `shm:` (and, with `scheme = 'sem'`, of `sem:`) listeners, for `ipc ls` /
 * `ipc clean`: `<RENDEZVOUS_DIR>/ipc-<scheme>.<name>` and the temporary `.ipc-<scheme>.<pid>.<random>`
 * a listener writes first. Alive while the listener's `flock` is held (`/proc/locks`); removed by
 * the reclaim rule of `listen()` (the lock can be taken). Segments are memfds: nothing else is named.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { IpcError } from '@ipc/core'
import { type Leftover, flockHolders, lockKey } from '@ipc/core/mechanism'
import { RENDEZVOUS_DIR, reclaimStale } from './rendezvous.js'
import { parseRendezvous } from './wire.js'

/** The rendezvous files of `<scheme>:` listeners of this user, alive or not. */
export function rendezvousLeftovers(scheme: string): Leftover[] {
  const locks = flockHolders()
  const out: Leftover[] = []
  let names: string[] = []
  try {
    names = readdirSync(RENDEZVOUS_DIR)
  } catch {
    return out
  }
  const prefix = `ipc-${scheme}.`
  const temporary = new RegExp(`^\\.ipc-${scheme}\\.([1-9][0-9]*)\\.[0-9a-z]+$`)
  for (const entry of names) {
    const temp = temporary.exec(entry)
    if (!entry.startsWith(prefix) && temp === null) continue
    const path = join(RENDEZVOUS_DIR, entry)
    let st: ReturnType<typeof statSync>
    let text: string
    try {
      st = statSync(path)
      if (!st.isFile()) continue
      text = readFileSync(path, 'latin1')
    } catch {
      continue // removed meanwhile, or not ours to read
    }
    const r = parseRendezvous(text)
    if (temp === null && r === undefined) continue // not a rendezvous file of this version
    const holder = locks.get(lockKey(st))
    out.push({
      mechanism: scheme,
      kind: temp === null ? 'rendezvous file' : 'temporary file',
      name: path,
      address: temp === null ? `${scheme}:/${entry.slice(prefix.length)}` : undefined,
      pid: holder ?? r?.pid ?? (temp ? Number(temp[1]) : undefined),
      alive: holder !== undefined,
      uid: st.uid,
      since: st.mtimeMs,
      size: st.size,
      async remove() {
        try {
          reclaimStale(path, `ipc clean ${path}`)
          return true
        } catch (err) {
          if (err instanceof IpcError && err.code === 'ERR_IPC_ADDRESS_IN_USE') return false
          throw err
        }
      },
    })
  }
  return out
}

/** This user's `shm:` rendezvous files, alive or not (the rendezvous files; see `@ipc/shm/handshake`). */
export async function leftovers(): Promise<Leftover[]> {
  return rendezvousLeftovers('shm')
}
