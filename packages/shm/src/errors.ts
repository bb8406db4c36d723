/** The coded errors of `shm:` for what the kernel refuses. */
import { IpcError, fromErrno } from '@ipc/core/mechanism'

/** A segment that could not be made: no room in memory or tmpfs, or too many descriptors. */
export function segmentError(err: unknown, what: string, size: number): IpcError {
  const code = (err as NodeJS.ErrnoException)?.code
  if (code === 'ENOSPC' || code === 'ENOMEM' || code === 'EFBIG') {
    return new IpcError('ERR_IPC_SYSTEM', `${what}: cannot reserve a ${size}-byte shared segment (${code}): ask for a smaller ?capacity= or free memory`, {
      cause: err,
      details: { size },
    })
  }
  return fromErrno(err, `${what}: memfd_create`)
}

/** A peer's descriptor that `/proc/<pid>/fd/<n>` would not give us. */
export function peerFdError(err: unknown, what: string, pid: number, object: string): IpcError {
  const code = (err as NodeJS.ErrnoException)?.code
  if (code === 'EACCES' || code === 'EPERM') {
    return new IpcError(
      'ERR_IPC_PERMISSION',
      `${what}: cannot open ${object} of pid ${pid} through /proc/${pid}/fd (${code}): shm: needs a peer of the same user, in the same pid namespace, that is dumpable`,
      { cause: err },
    )
  }
  if (code === 'ENOENT' || code === 'ESRCH') return new IpcError('ERR_IPC_NO_LISTENER', `${what}: ${object} of pid ${pid} is gone`, { cause: err })
  return fromErrno(err, `${what}: opening ${object} of pid ${pid}`)
}
