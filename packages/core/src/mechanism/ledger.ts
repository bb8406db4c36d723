/**
 * The ledger: where a listener notes the rendezvous it made at a path of the user's choosing
 * (`unix:` socket files, `fifo:` FIFOs, `mq+sysv:` key files) or under a name another program
 * could also use (`mq:` server queues), so that `ipc ls` / `ipc clean` can find them after a
 * crash. Objects in namespaces of their own (`/dev/shm/ipc-shm.*`, reply queues) need no entry.
 *
 * One small owner-only file per rendezvous in a per-user folder (`$IPC_LEDGER_DIR`, else
 * `<tmpdir>/ipc-<uid>`, 0700), named `<hash of scheme and path>.<pid>.<random>.json` and holding
 * one JSON object ({@link LedgerEntry}). An entry says only "this was made here"; whether its
 * object is alive is always asked of the object (its owner mark), never of the pid in the entry.
 * A listener removes its entry when it closes; a new listener of the same path removes the
 * entries of earlier ones (it has just reclaimed their object), and any entry whose file is gone. A folder that is not this user's
 * and owner-only is never used (then nothing is noted; logged with `NODE_DEBUG=ipc`).
 */
import { createHash, randomBytes } from 'node:crypto'
import { lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { debug } from '../debug.js'
import { OWNER_ONLY_DIR_MODE, OWNER_ONLY_MODE, isOwnerOnly } from './owner.js'
import { unlinkQuietly } from './quiet.js'

/** What a ledger entry holds. */
export interface LedgerEntry {
  /** Format version: 1. */
  v: 1
  /** The address scheme: `unix`, `fifo`, `mq`, `mq+sysv`. */
  scheme: string
  /** The address as the listener was given it. */
  address: string
  /** The object's path (a file) or name (a POSIX queue, `/app`). */
  path: string
  /** The process that made it (information only: pids are reused). */
  pid: number
  /** When it was made (ms since the epoch). */
  created: number
  /** `unix:` only: the name the socket was bound at first (the one `/proc/net/unix` shows; removed since). */
  bound?: string
  /** `true` when `path` names a file in the file system (not a POSIX queue name). */
  onDisk?: boolean
}

/** An entry as read back, with the file it is in. */
export interface LedgerRecord extends LedgerEntry {
  /** The entry's own file. */
  file: string
}

/** A note in the ledger; {@link LedgerNote.remove} takes it out (idempotent). */
export interface LedgerNote {
  remove(): void
}

const NONE: LedgerNote = { remove() {} }
const ENTRY = /^([0-9a-f]{16})\.([1-9][0-9]{0,9})\.[0-9a-f]{12}\.json$/

/** The ledger folder of this user (created on first use by {@link noteRendezvous}). */
export function ledgerDir(): string {
  return process.env.IPC_LEDGER_DIR || join(tmpdir(), `ipc-${process.getuid!()}`)
}

function keyOf(scheme: string, path: string): string {
  return createHash('sha256').update(`${scheme}\0${path}`).digest('hex').slice(0, 16)
}

/** The folder, made if missing; `undefined` (logged) when it is not an owner-only folder of this user. */
function usableDir(create: boolean): string | undefined {
  const dir = ledgerDir()
  try {
    if (create) mkdirSync(dir, { mode: OWNER_ONLY_DIR_MODE, recursive: true })
    const st = lstatSync(dir)
    if (st.isDirectory() && isOwnerOnly(st)) return dir
    debug('ledger: %s is not an owner-only folder of this user; not used', dir)
  } catch (err) {
    if (create || (err as NodeJS.ErrnoException).code !== 'ENOENT') debug('ledger: cannot use %s: %s', dir, (err as Error).message)
  }
  return undefined
}

/**
 * Notes that this process now holds the rendezvous `path` of `scheme` (and drops the entries of
 * earlier holders of the same path: the caller has just claimed it). Never throws: a ledger that
 * cannot be written only means `ipc ls` will not see this rendezvous.
 */
export function noteRendezvous(scheme: string, address: string, path: string, extra: Pick<LedgerEntry, 'bound' | 'onDisk'> = {}): LedgerNote {
  const dir = usableDir(true)
  if (dir === undefined) return NONE
  const key = keyOf(scheme, path)
  try {
    for (const name of readdirSync(dir)) {
      if (name.startsWith(`${key}.`)) unlinkQuietly(join(dir, name))
      else pruneIfGone(join(dir, name))
    }
    const file = join(dir, `${key}.${process.pid}.${randomBytes(6).toString('hex')}.json`)
    const entry: LedgerEntry = { v: 1, scheme, address, path, pid: process.pid, created: Date.now(), ...extra }
    writeFileSync(file, JSON.stringify(entry), { mode: OWNER_ONLY_MODE, flag: 'wx' })
    let removed = false
    return {
      remove() {
        if (removed) return
        removed = true
        unlinkQuietly(file)
      },
    }
  } catch (err) {
    debug('ledger: cannot note %s in %s: %s', address, dir, (err as Error).message)
    return NONE
  }
}

/** Removes an entry whose file is gone (its folder was removed, say): it can no longer point at anything. */
function pruneIfGone(file: string): void {
  if (!ENTRY.test(basename(file))) return
  try {
    const entry = parseEntry(readFileSync(file, 'utf8'))
    if (entry?.onDisk !== true) return
    lstatSync(entry.path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') unlinkQuietly(file)
  }
}

function parseEntry(text: string): LedgerEntry | undefined {
  try {
    const e = JSON.parse(text) as Partial<LedgerEntry>
    if (e.v !== 1 || typeof e.scheme !== 'string' || typeof e.address !== 'string' || typeof e.path !== 'string') return undefined
    if (!Number.isSafeInteger(e.pid) || !Number.isFinite(e.created)) return undefined
    return e as LedgerEntry
  } catch {
    return undefined
  }
}

/**
 * Every entry of this user's ledger (optionally only those of `scheme`). A file that is not an
 * entry of this format is reported as a record with scheme `''` so that a cleaner can remove it.
 */
export function readLedger(scheme?: string): LedgerRecord[] {
  const dir = usableDir(false)
  if (dir === undefined) return []
  const out: LedgerRecord[] = []
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return out
  }
  for (const name of names) {
    const m = ENTRY.exec(name)
    if (m === null) continue
    const file = join(dir, name)
    let entry: LedgerEntry | undefined
    try {
      entry = parseEntry(readFileSync(file, 'utf8'))
    } catch {
      continue // removed meanwhile
    }
    if (entry === undefined || keyOf(entry.scheme, entry.path) !== m[1]) {
      if (scheme === undefined) out.push({ v: 1, scheme: '', address: '', path: '', pid: Number(m[2]), created: 0, file })
      continue
    }
    if (scheme === undefined || entry.scheme === scheme) out.push({ ...entry, file })
  }
  return out
}

/** Removes a ledger record's file (a missing one is fine). */
export function forgetRecord(record: LedgerRecord): void {
  unlinkQuietly(record.file)
}
