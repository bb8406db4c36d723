/**
 * `fifo:` rendezvous of this user's listeners, for `ipc ls` / `ipc clean`: the well-known FIFO
 * (found through the ledger) and its pair folder. Alive while the FIFO has a reader (opening it
 * for writing does not fail with ENXIO: the reclaim rule of `listen()`); removed by that rule.
 */
import { lstatSync, readdirSync } from 'node:fs'
import { IpcError } from '@ipc/core'
import { type Leftover, descriptorHolders, forgetRecord, readLedger, staleEntry } from '@ipc/core/mechanism'
import { claimWellKnown, hasReader, removeFolder } from './rendezvous.js'

function count(folder: string): number | undefined {
  try {
    return readdirSync(folder).length
  } catch {
    return undefined
  }
}

/** This user's `fifo:` well-known FIFOs (with their pair folders). */
export async function leftovers(): Promise<Leftover[]> {
  const out: Leftover[] = []
  const fifos = new Map<Leftover, string>()
  for (const r of readLedger('fifo')) {
    const folder = `${r.path}.d`
    const st = (() => {
      try {
        return lstatSync(r.path)
      } catch {
        return undefined
      }
    })()
    if (st === undefined || !st.isFIFO()) {
      out.push(staleEntry('fifo', r, st === undefined ? `${r.path} is gone` : `${r.path} is no longer a FIFO`, () => removeFolder(folder)))
      continue
    }
    let alive: boolean
    try {
      alive = hasReader(r.path)
    } catch {
      alive = true // cannot tell (EACCES, …): never a candidate for removal
    }
    const pairs = count(folder)
    const item: Leftover = {
      mechanism: 'fifo',
      kind: 'fifo',
      name: r.path,
      address: r.address,
      pid: r.pid,
      alive,
      uid: st.uid,
      since: st.mtimeMs,
      note: pairs === undefined ? undefined : `${folder}: ${pairs} client FIFO(s)`,
      async remove() {
        try {
          claimWellKnown(r.path, r.address) // removes it if nobody reads it; throws if a listener does
        } catch (err) {
          if (err instanceof IpcError && err.code === 'ERR_IPC_ADDRESS_IN_USE') return false
          throw err
        }
        removeFolder(folder)
        forgetRecord(r)
        return true
      },
    }
    if (alive) fifos.set(item, `${st.dev}:${st.ino}`)
    out.push(item)
  }
  const holders = descriptorHolders(new Set(fifos.values()))
  for (const [item, key] of fifos) item.pid = holders.get(key)?.[0] ?? item.pid
  return out
}
