import { fstatSync, lstatSync, mkdirSync, readdirSync, rmdirSync, type Stats } from 'node:fs'
import { Socket } from 'node:net'
import { join, resolve } from 'node:path'
import { IpcError } from '@ipc/core'
import {
  type Address,
  OWNER_ONLY_DIR_MODE,
  OWNER_ONLY_MODE,
  assertOwnerOnly,
  closeQuietly,
  debug,
  fromErrno,
  processAlive,
  unlinkQuietly,
} from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { tokenPid } from './hello.js'

const { O_RDONLY, O_WRONLY, O_NONBLOCK, O_NOFOLLOW } = native.fdConstants
/**
 * Flags of every FIFO open: never blocks (readiness comes from the event loop), never follows a
 * symlink; the addon adds O_CLOEXEC. FIFOs are opened by the addon, not `fs.openSync`: in a Worker,
 * Node closes fs-opened descriptors at its end, after libuv has closed those it wrapped in sockets,
 * which could close a reused number; the addon checks a descriptor is still the file it opened.
 */
export const READ_FLAGS = O_RDONLY | O_NONBLOCK | O_NOFOLLOW
export const WRITE_FLAGS = O_WRONLY | O_NONBLOCK | O_NOFOLLOW

/** A socket over a FIFO descriptor: the descriptor passes from the addon to libuv, which closes it. */
export function fifoSocket(fd: number, readable: boolean): Socket {
  return new Socket({ fd: native.disownFd(fd), readable, writable: !readable })
}

/** Closes a FIFO descriptor (the addon's), quietly. */
export function closeFifo(fd: number | undefined): void {
  closeQuietly(fd, native.closeFd)
}

/** Where an address's FIFOs live: the well-known FIFO, and the folder of the per-client pairs. */
export interface FifoPaths {
  wellKnown: string
  folder: string
}

export function fifoPaths(address: Address): FifoPaths {
  const target = decodeURIComponent(address.target)
  if (target.length === 0 || target.startsWith('//') || target.endsWith('/')) {
    throw new IpcError('ERR_IPC_INVALID_ADDRESS', `fifo: needs a file path, e.g. fifo:/run/app; got "${address.text}"`)
  }
  const wellKnown = resolve(target)
  return { wellKnown, folder: `${wellKnown}.d` }
}

/** The FIFO pair of a client token. */
export function pairPaths(folder: string, token: string): { c2s: string; s2c: string } {
  return { c2s: join(folder, `${token}.c2s`), s2c: join(folder, `${token}.s2c`) }
}

/** mkfifo with exactly `mode` (mkfifo applies the umask, which can only remove bits). */
export function makeFifo(path: string, mode = OWNER_ONLY_MODE): void {
  native.mkfifo(path, mode)
}

/** Opens a FIFO without blocking or following symlinks, and checks it is the FIFO `expected` describes. */
export function openFifo(path: string, flags: number, expected?: Stats): number {
  const fd = native.openFd(path, flags, 0)
  try {
    const st = fstatSync(fd)
    if (!st.isFIFO() || (expected && (st.ino !== expected.ino || st.dev !== expected.dev))) {
      throw new IpcError('ERR_IPC_PERMISSION', `${path} is not the FIFO it was a moment ago`)
    }
    return fd
  } catch (err) {
    closeFifo(fd)
    throw err
  }
}

/** Removes a path if it is there; never throws (failures other than "gone" are logged). */
export function removeQuietly(path: string): void {
  unlinkQuietly(path)
}

/**
 * Makes (or takes over) the folder of client pairs: owner-only, really a folder of ours, and
 * cleared of pairs whose client is dead (left by crashes).
 */
export function prepareFolder(folder: string): void {
  try {
    mkdirSync(folder, { mode: OWNER_ONLY_DIR_MODE })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fromErrno(err, `fifo: cannot create ${folder}`)
    const st = lstatSync(folder)
    if (!st.isDirectory()) throw new IpcError('ERR_IPC_PERMISSION', `fifo: ${folder} exists and is not a folder`)
    assertOwnerOnly(st, `fifo: the folder ${folder}`)
  }
  reclaimPairs(folder)
}

/** Removes client FIFOs whose owner (named by the token) is dead. */
export function reclaimPairs(folder: string): void {
  let names: string[]
  try {
    names = readdirSync(folder)
  } catch (err) {
    debug('fifo: cannot read %s to reclaim pairs: %s', folder, (err as Error).message)
    return
  }
  for (const name of names) {
    const pid = tokenPid(name.replace(/\.(c2s|s2c)$/, ''))
    if (pid !== undefined && !processAlive(pid)) removeQuietly(join(folder, name))
  }
}

/** Removes the folder if nothing (alive) is left in it. */
export function removeFolder(folder: string): void {
  reclaimPairs(folder)
  try {
    rmdirSync(folder)
  } catch {
    // a live client's pair is still there (ENOTEMPTY); it removes it itself
  }
}

/**
 * Takes the well-known FIFO's path: free, or held by a FIFO nobody reads (a crashed listener's,
 * reclaimed). A FIFO with a live reader gives ERR_IPC_ADDRESS_IN_USE; anything else at the path
 * is never touched.
 */
export function claimWellKnown(path: string, label: string): void {
  let st: Stats
  try {
    st = lstatSync(path)
  } catch {
    return // free
  }
  if (!st.isFIFO()) throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `listen ${label}: ${path} exists and is not a FIFO`)
  if (st.uid !== process.getuid!()) throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `listen ${label}: ${path} belongs to uid ${st.uid}`)
  let read: boolean
  try {
    read = hasReader(path)
  } catch (err) {
    throw fromErrno(err, `listen ${label}`)
  }
  if (read) throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `listen ${label}: a live listener reads ${path}`)
  removeQuietly(path) // nobody reads it: its listener is dead
}

/**
 * `true` while someone reads the FIFO at `path` (a live listener): opening it for writing without
 * blocking succeeds (nothing is written); ENXIO means no reader. Other errno errors are thrown.
 */
export function hasReader(path: string): boolean {
  try {
    closeFifo(native.openFd(path, WRITE_FLAGS, 0))
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENXIO') return false
    throw err
  }
}
