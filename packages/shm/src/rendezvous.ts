/**
 * The one named object of `shm:`: a rendezvous file `ipc-shm.<name>` (in `/dev/shm`), 0600, naming
 * the listener's pid and hello pipe, and locked (`flock`) by the live listener. Nothing in it is
 * mapped, so nothing named can be truncated under anyone. A file whose lock is free belongs to a
 * dead listener: the next `listen()` reclaims it, a `connect()` reports no listener.
 */
import { existsSync, fstatSync, linkSync, lstatSync, readSync, unlinkSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { type Address, IpcError, assertOwnerOnly, closeQuietly, fromErrno, unlinkQuietly } from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { type Rendezvous, formatRendezvous, parseRendezvous } from './wire.js'

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = native.fdConstants

/** Where rendezvous files live: `/dev/shm` (tmpfs, as POSIX shm names), else the temp folder. */
export const RENDEZVOUS_DIR = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()

/** Prefix of every rendezvous file (and `.`-prefixed of the temporary ones). */
export const FILE_PREFIX = 'ipc-shm.'

const NAME = /^\/[A-Za-z0-9._-]{1,200}$/

/** The rendezvous path of `<scheme>:/name` (`ipc-<scheme>.name`); throws `ERR_IPC_INVALID_ADDRESS` for other names. */
export function rendezvousPath(address: Address, scheme = 'shm'): string {
  const name = address.target
  if (!NAME.test(name) || name === '/.' || name === '/..') {
    throw new IpcError('ERR_IPC_INVALID_ADDRESS', `${address.text}: the name must be "/" and 1 to 200 of A-Z a-z 0-9 . _ - (like a POSIX shm name)`)
  }
  return join(RENDEZVOUS_DIR, `ipc-${scheme}.${name.slice(1)}`)
}

/** Claims of this environment that are still held: removed at a normal process exit too. */
const held = new Set<Claim>()
let exitHooked = false

function releaseAllAtExit(): void {
  for (const claim of [...held]) claim.release()
}

/** A claimed rendezvous: the locked file, held open (the lock ends with this process or Worker). */
export interface Claim {
  path: string
  fd: number
  ino: number
  /** Unlinks the file (if it is still ours) and closes it, which drops the lock. */
  release(): void
}

/**
 * Creates the rendezvous file for `r` and locks it: written under a temporary name, locked, then
 * linked into place (atomic: an existing file is never replaced). A file there whose lock is free
 * is a dead listener's and is removed first; a locked one is `ERR_IPC_ADDRESS_IN_USE`.
 */
export function claimRendezvous(path: string, r: Rendezvous, what: string): Claim {
  const prefix = /^ipc-[a-z]+\./.exec(basename(path))?.[0] ?? FILE_PREFIX
  const temp = join(RENDEZVOUS_DIR, `.${prefix}${process.pid}.${Math.random().toString(36).slice(2)}`)
  let fd: number | undefined
  try {
    fd = native.openFd(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
    if (!native.lockExclusive(fd)) throw new Error(`${temp}: locked by someone else`)
    writeSync(fd, formatRendezvous(r))
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(temp, path)
        break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err
        reclaimStale(path, what)
      }
    }
    const ino = fstatSync(fd).ino
    const lockFd = fd
    const claim: Claim = {
      path,
      fd: lockFd,
      ino,
      release() {
        if (!held.delete(claim)) return
        try {
          if (lstatSync(path).ino === ino) unlinkSync(path)
        } catch {
          // gone already
        }
        closeQuietly(lockFd, native.closeFd)
      },
    }
    held.add(claim)
    if (!exitHooked) {
      exitHooked = true
      process.once('exit', releaseAllAtExit) // a process that ends without closing its listener leaves nothing
    }
    return claim
  } catch (err) {
    closeQuietly(fd, native.closeFd)
    throw isAddressInUse(err) ? err : fromErrno(err, what)
  } finally {
    unlinkQuietly(temp)
  }
}

function isAddressInUse(err: unknown): boolean {
  return err instanceof IpcError && err.code === 'ERR_IPC_ADDRESS_IN_USE'
}

/** Removes the file at `path` if no live listener holds its lock; else `ERR_IPC_ADDRESS_IN_USE`. */
export function reclaimStale(path: string, what: string): void {
  let fd: number | undefined
  try {
    fd = native.openFd(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0)
    const st = fstatSync(fd)
    if (!st.isFile()) throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${what}: ${path} exists and is not a rendezvous file`)
    if (!native.lockExclusive(fd)) throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${what}: a live listener holds ${path}`)
    // ours now, and dead: remove it if the name still means this file
    if (lstatSync(path).ino === st.ino) unlinkSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return // removed meanwhile
    throw err
  } finally {
    closeQuietly(fd, native.closeFd)
  }
}

/**
 * Reads a listener's rendezvous file as a client: owner-only and ours, locked (a live listener),
 * well-formed. `ERR_IPC_NO_LISTENER` when it is missing or its listener is dead.
 */
export function readRendezvous(path: string, what: string): Rendezvous {
  let fd: number | undefined
  try {
    fd = native.openFd(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0)
    const st = fstatSync(fd)
    if (!st.isFile()) throw new IpcError('ERR_IPC_PERMISSION', `${what}: ${path} is not a rendezvous file`)
    assertOwnerOnly(st, path)
    if (native.lockExclusive(fd)) throw new IpcError('ERR_IPC_NO_LISTENER', `${what}: the listener of ${path} is gone`)
    const buf = Buffer.alloc(128)
    const n = readSync(fd, buf, 0, buf.length, 0)
    const r = parseRendezvous(buf.toString('latin1', 0, n))
    if (r === undefined) throw new IpcError('ERR_IPC_NO_LISTENER', `${what}: ${path} is not a rendezvous file of this version`)
    return r
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new IpcError('ERR_IPC_NO_LISTENER', `${what}: nothing listens (${path} does not exist)`, { cause: err })
    throw fromErrno(err, what)
  } finally {
    closeQuietly(fd, native.closeFd) // closing drops the probe's lock, if it got one
  }
}
