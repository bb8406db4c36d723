/**
 * The key file of an `mq+sysv:` address: its path names the queue (`ftok`), and its lock is the
 * listener's owner mark. The listener opens it through the addon (a native-owned descriptor, so a
 * Worker's lock goes with the Worker) and holds `flock(LOCK_EX)` on it while it listens. Whether a
 * listener lives is "can the lock be taken?", never "is the pid in a file running?" (pids are reused).
 */
import { fstatSync, lstatSync, readFileSync, writeSync } from 'node:fs'
import { resolve } from 'node:path'
import { IpcError } from '@ipc/core'
import { type Address, OWNER_ONLY_MODE, assertOwnerOnly, closeQuietly, debug, fromErrno, unlinkQuietly } from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { lockSoon } from '../marks.js'

/** The `ftok` project id of every queue of ours. */
export const PROJ_ID = 0x49
/** What a key file this package created holds; a key file with other content is never removed. */
export const KEY_FILE_TEXT = 'IPCSV2 key file of an @ipc/mq mq+sysv: listener; removed when it closes\n'

const FD = native.fdConstants

/** The key file's path: `mq+sysv:/run/app.key` → `/run/app.key` (relative paths resolve against the working directory). */
export function keyPath(address: Address): string {
  const t = decodeURIComponent(address.target)
  if (t.length === 0 || t.startsWith('//') || t.endsWith('/')) {
    throw new IpcError('ERR_IPC_INVALID_ADDRESS', `mq+sysv: needs a key file path, e.g. mq+sysv:/run/app.key; got "${address.text}"`)
  }
  return resolve(t)
}

/** The System V key of the address's queue. Throws errno errors (`ENOENT` when the key file is missing). */
export function queueKey(path: string): number {
  return native.ftokKey(path, PROJ_ID)
}

/** A key file held by a listener. */
export interface KeyFileClaim {
  /** The native-owned descriptor whose lock is held. */
  fd: number
  /** The file's inode (so close removes this file only, never a successor at the same path). */
  ino: number
}

/**
 * Opens (or creates, 0600) the key file and takes its lock. A lock held by someone else is a live
 * listener: `ERR_IPC_ADDRESS_IN_USE`; so is anything at the path that is not a regular file of
 * this user. Nothing at the path is modified except a file this call creates.
 */
export async function claimKeyFile(path: string, label: string): Promise<KeyFileClaim> {
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number | undefined
    let created = false
    try {
      try {
        fd = native.openFd(path, FD.O_RDWR | FD.O_CREAT | FD.O_EXCL | FD.O_NOFOLLOW | FD.O_NONBLOCK, OWNER_ONLY_MODE)
        created = true
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ELOOP') throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: ${path} is a symbolic link, not a key file`)
        if (code !== 'EEXIST') throw err
        fd = native.openFd(path, FD.O_RDONLY | FD.O_NOFOLLOW | FD.O_NONBLOCK, 0)
      }
      const st = fstatSync(fd)
      if (!st.isFile()) throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: ${path} is not a regular file`)
      if (st.uid !== process.getuid!()) throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: ${path} belongs to uid ${st.uid}`)
      assertOwnerOnly(st, `${label}: the key file ${path}`)
      if (!(await lockSoon(fd))) throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: a live listener holds the lock of ${path}`)
      // a closing listener removes its key file: make sure the lock is on the file the path names now
      let now: number | undefined
      try {
        now = lstatSync(path).ino
      } catch {
        now = undefined
      }
      if (now !== st.ino) {
        debug('%s: %s was replaced while it was being locked; trying again', label, path)
        closeQuietly(fd, native.closeFd)
        continue
      }
      if (created) writeSync(fd, KEY_FILE_TEXT)
      return { fd, ino: st.ino }
    } catch (err) {
      if (created) unlinkQuietly(path)
      closeQuietly(fd, native.closeFd)
      throw fromErrno(err, label)
    }
  }
  throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: ${path} keeps being replaced`)
}

/** Releases a claim: removes the key file if it is still the one claimed and one of ours, then drops the lock. */
export function releaseKeyFile(claim: KeyFileClaim, path: string): void {
  try {
    if (lstatSync(path).ino === claim.ino && readFileSync(path, 'latin1') === KEY_FILE_TEXT) unlinkQuietly(path)
  } catch (err) {
    debug('mq+sysv: cannot check the key file %s before removing it: %s', path, (err as Error).message)
  }
  closeQuietly(claim.fd, native.closeFd)
}

/**
 * Throws `ERR_IPC_NO_LISTENER` unless a live listener holds the key file's lock. The probe takes
 * the lock if it is free — nobody listens — and releases it at once by closing its descriptor.
 */
export function assertListenerHolds(path: string, label: string): void {
  let probe: number
  try {
    probe = native.openFd(path, FD.O_RDONLY | FD.O_NOFOLLOW | FD.O_NONBLOCK, 0)
  } catch (err) {
    throw fromErrno(err, label)
  }
  let free: boolean
  try {
    free = native.lockExclusive(probe)
  } finally {
    closeQuietly(probe, native.closeFd)
  }
  if (free) throw new IpcError('ERR_IPC_NO_LISTENER', `${label}: no live listener holds the lock of ${path}`)
}
