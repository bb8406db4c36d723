/** Errno errors of semaphore calls as `IpcError`s, the kernel's limits named with their values. */
import { IpcError } from '@ipc/core'
import { fromErrno } from '@ipc/core/mechanism'
import { native } from '@ipc/native'

/** `SEM_VALUE_MAX`: the largest value of a POSIX semaphore (the C library's; it cannot be raised). */
export const SEM_VALUE_MAX = native.semConstants.SEM_VALUE_MAX
/** `SEMVMX`: the largest value of a System V semaphore (fixed in the kernel at 32767). */
export const SEMVMX = 32767

function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'string' ? code : undefined
}

function sysvLimits(): { semmsl: number; semmns: number; semopm: number; semmni: number } {
  try {
    return native.semInfo()
  } catch {
    return { semmsl: 32000, semmns: 1024000000, semopm: 500, semmni: 32000 }
  }
}

/**
 * The `IpcError` for a failed semaphore call: limits named (what, its value, how to raise it),
 * `EEXIST` as `ERR_IPC_ADDRESS_IN_USE`, `ENOENT` as `ERR_IPC_NO_LISTENER` (no such semaphore),
 * `EIDRM` as `ERR_IPC_CLOSED` (removed), the rest as `fromErrno` maps them.
 */
export function semError(err: unknown, what: string): IpcError {
  if (err instanceof IpcError) return err
  const errno = errnoOf(err)
  const syscall = (err as { syscall?: string })?.syscall
  switch (errno) {
    case 'EOVERFLOW':
      return new IpcError(
        'ERR_IPC_INVALID_ARGUMENT',
        `${what}: the value would pass SEM_VALUE_MAX (${SEM_VALUE_MAX}), the C library's limit for POSIX semaphores`,
        {
          cause: err,
          details: { limit: 'SEM_VALUE_MAX', value: SEM_VALUE_MAX },
        },
      )
    case 'ERANGE':
      return new IpcError('ERR_IPC_INVALID_ARGUMENT', `${what}: the value would pass SEMVMX (${SEMVMX}), the kernel's fixed limit for System V semaphores`, {
        cause: err,
        details: { limit: 'SEMVMX', value: SEMVMX },
      })
    case 'ENOSPC':
      if (syscall === 'semget') {
        const l = sysvLimits()
        return new IpcError(
          'ERR_IPC_SYSTEM',
          `${what}: the System V semaphore limits are reached (SEMMNI ${l.semmni} sets, SEMMNS ${l.semmns} semaphores); raise them with sysctl kernel.sem="${l.semmsl} <SEMMNS> ${l.semopm} <SEMMNI>", or remove stale sets (ipcs -s, ipcrm)`,
          { cause: err, details: { limit: 'kernel.sem', semmni: l.semmni, semmns: l.semmns } },
        )
      }
      break
    case 'EMFILE':
    case 'ENFILE':
      return new IpcError('ERR_IPC_SYSTEM', `${what}: out of file descriptors (${errno}; raise ulimit -n)`, { cause: err })
    case 'EEXIST':
      return new IpcError('ERR_IPC_ADDRESS_IN_USE', `${what}: a semaphore of that name exists`, { cause: err })
    case 'ENOENT':
      return new IpcError('ERR_IPC_NO_LISTENER', `${what}: no semaphore of that name exists`, { cause: err })
    case 'EIDRM':
    case 'EINVAL':
      if (syscall === 'semop' || syscall === 'semctl') return new IpcError('ERR_IPC_CLOSED', `${what}: the semaphore set was removed`, { cause: err })
      break
  }
  return fromErrno(err, what)
}
