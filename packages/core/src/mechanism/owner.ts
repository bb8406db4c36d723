import { IpcError, type IpcErrorCode } from '../errors.js'

/** The mode of every file, queue, segment and semaphore the SDK creates: owner-only. */
export const OWNER_ONLY_MODE = 0o600
/** The mode of every folder the SDK creates (rendezvous folders, staging folders). */
export const OWNER_ONLY_DIR_MODE = 0o700

/** What {@link isOwnerOnly} looks at: a `Stats` of a file or the `msg_perm` of a queue. */
export interface Ownership {
  /** Owner uid (for System V objects: the creator's, `cuid`). */
  uid: number
  /** Mode bits (`st_mode`, or `msg_perm.mode`). */
  mode: number
}

/** `true` when `object` belongs to this process's uid and grants nothing to group or others. */
export function isOwnerOnly(object: Ownership): boolean {
  return object.uid === process.getuid!() && (object.mode & 0o077) === 0
}

/**
 * Throws unless `object` is owner-only and ours (see {@link isOwnerOnly}): the check every
 * mechanism makes before it trusts a rendezvous object it did not create itself.
 */
export function assertOwnerOnly(object: Ownership, what: string, code: IpcErrorCode = 'ERR_IPC_PERMISSION'): void {
  if (object.uid !== process.getuid!()) throw new IpcError(code, `${what} belongs to uid ${object.uid}, not to this user`)
  if ((object.mode & 0o077) !== 0) throw new IpcError(code, `${what} is not owner-only (mode ${(object.mode & 0o777).toString(8)})`)
}
