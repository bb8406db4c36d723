/**
 * This user's objects of `@ipc/sem`, for `ipc ls` / `ipc clean`: `sem:` rendezvous files (the
 * `shm:` rule: alive while the listener's lock is held) and POSIX named semaphores
 * (`/dev/shm/sem.<name>`, as glibc keeps them), which have no owner at all: one is "alive" while
 * some process has it open (mapped). Nothing marks a named semaphore as this SDK's, so `ipc clean`
 * removes unmapped ones only when asked to (`--semaphores`); removing checks the mapping again.
 */
import { type Stats, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { type Leftover, lockKey, mappingHolders } from '@ipc/core/mechanism'
import { rendezvousLeftovers } from '@ipc/shm/handshake'
import { Semaphore } from './semaphore.js'

const SEM_DIR = '/dev/shm'

/** The processes that have the semaphore file at `path` mapped (open), looked up now. */
function mapped(path: string): number[] {
  try {
    const key = lockKey(statSync(path))
    return mappingHolders(new Set([key])).get(key) ?? []
  } catch {
    return [] // gone
  }
}

/** POSIX named semaphores of this user (mechanism `sem-posix`). */
function namedSemaphores(): Leftover[] {
  let names: string[] = []
  try {
    names = readdirSync(SEM_DIR).filter((n) => /^sem\.[A-Za-z0-9._-]{1,200}$/.test(n))
  } catch {
    return []
  }
  const found: Array<{ entry: string; path: string; st: Stats }> = []
  for (const entry of names) {
    const path = join(SEM_DIR, entry)
    try {
      const st = statSync(path)
      if (st.uid === process.getuid!()) found.push({ entry, path, st })
    } catch {
      // removed meanwhile
    }
  }
  const holders = mappingHolders(new Set(found.map((f) => lockKey(f.st))))
  const out: Leftover[] = []
  for (const { entry, path, st } of found) {
    const pids = holders.get(lockKey(st)) ?? []
    const name = `/${entry.slice(4)}`
    out.push({
      mechanism: 'sem-posix',
      kind: 'semaphore',
      name,
      pid: pids[0],
      alive: pids.length > 0,
      uid: st.uid,
      since: st.mtimeMs,
      size: st.size,
      note: pids.length > 0 ? `open in ${pids.length} process(es)` : 'open nowhere',
      async remove() {
        if (mapped(path).length > 0) return false
        try {
          Semaphore.unlink(name)
        } catch {
          return false // gone meanwhile
        }
        return true
      },
    })
  }
  return out
}

/** This user's `sem:` rendezvous files and POSIX named semaphores, alive or not. */
export async function leftovers(): Promise<Leftover[]> {
  return [...rendezvousLeftovers('sem'), ...namedSemaphores()]
}
