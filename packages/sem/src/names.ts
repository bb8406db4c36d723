/**
 * Names of semaphores: a POSIX name `/name` (glibc keeps it as `/dev/shm/sem.name`), or for System
 * V a key file whose path gives the key (`ftok`). A key file this package creates holds
 * {@link KEY_FILE_TEXT} and is owner-only; only such a file is ever removed.
 */
import { fstatSync, lstatSync, readSync, unlinkSync, writeSync } from 'node:fs'
import { resolve } from 'node:path'
import { IpcError } from '@ipc/core'
import { OWNER_ONLY_MODE, assertOwnerOnly, closeQuietly, fromErrno } from '@ipc/core/mechanism'
import { native } from '@ipc/native'

/** The `ftok` project id of every System V semaphore set of this package. */
export const SEM_PROJ_ID = 0x53
/** What a key file this package created holds. */
export const KEY_FILE_TEXT = 'IPCSEM1 key file of an @ipc/sem System V semaphore; removed by unlink()\n'

const FD = native.fdConstants
const POSIX_NAME = /^\/[A-Za-z0-9._-]{1,200}$/

/** Throws `ERR_IPC_INVALID_ARGUMENT` unless `name` is a POSIX semaphore name of ours. */
export function checkPosixName(name: string): void {
  if (typeof name !== 'string' || !POSIX_NAME.test(name) || name === '/.' || name === '/..') {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `a POSIX semaphore name is "/" and 1 to 200 of A-Z a-z 0-9 . _ -, got ${JSON.stringify(name)}`)
  }
}

/** The key file path of a System V name (relative paths resolve against the working directory). */
export function keyFilePath(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.endsWith('/')) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `a System V semaphore is named by a key file path, e.g. /run/app.sem; got ${JSON.stringify(name)}`)
  }
  return resolve(name)
}

/** A key file in use: its path, inode, and whether this package made it. */
export interface KeyFile {
  path: string
  ino: number
  created: boolean
}

/**
 * The key file at `path`: created (0600, {@link KEY_FILE_TEXT}) when `create` and missing;
 * otherwise it must be a regular file of this user that grants nothing to others.
 */
export function useKeyFile(path: string, create: boolean, what: string): KeyFile {
  let fd: number | undefined
  let created = false
  try {
    if (create) {
      try {
        fd = native.openFd(path, FD.O_WRONLY | FD.O_CREAT | FD.O_EXCL | FD.O_NOFOLLOW, OWNER_ONLY_MODE)
        created = true
        writeSync(fd, KEY_FILE_TEXT)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
    }
    fd ??= native.openFd(path, FD.O_RDONLY | FD.O_NOFOLLOW | FD.O_NONBLOCK, 0)
    const st = fstatSync(fd)
    if (!st.isFile()) throw new IpcError('ERR_IPC_PERMISSION', `${what}: ${path} is not a regular file`)
    assertOwnerOnly(st, `${what}: the key file ${path}`)
    return { path, ino: st.ino, created }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new IpcError('ERR_IPC_NO_LISTENER', `${what}: the key file ${path} does not exist`, { cause: err })
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new IpcError('ERR_IPC_PERMISSION', `${what}: ${path} is a symbolic link`, { cause: err })
    throw fromErrno(err, what)
  } finally {
    closeQuietly(fd, native.closeFd)
  }
}

/** Removes the key file if it is still the one in use and holds this package's text. */
export function removeKeyFile(file: KeyFile): void {
  let fd: number | undefined
  try {
    if (lstatSync(file.path).ino !== file.ino) return
    fd = native.openFd(file.path, FD.O_RDONLY | FD.O_NOFOLLOW | FD.O_NONBLOCK, 0)
    const buf = Buffer.alloc(KEY_FILE_TEXT.length + 1)
    const n = readSync(fd, buf, 0, buf.length, 0)
    if (buf.toString('utf8', 0, n) === KEY_FILE_TEXT) unlinkSync(file.path)
  } catch {
    // gone already, or not ours to remove
  } finally {
    closeQuietly(fd, native.closeFd)
  }
}
