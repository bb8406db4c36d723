import { readFileSync } from 'node:fs'
import { IpcError, fromErrno } from '@ipc/core'

/** The kernel's POSIX message queue limits for an unprivileged process. */
export interface MqLimits {
  /** /proc/sys/fs/mqueue/msg_max: messages per queue. */
  msgMax: number
  /** /proc/sys/fs/mqueue/msgsize_max: bytes per message. */
  msgsizeMax: number
  /** /proc/sys/fs/mqueue/queues_max: queues on the system. */
  queuesMax: number
  /** RLIMIT_MSGQUEUE: bytes of queues per user. */
  bytesPerUser: number
}

/** A positive number from a /proc file, or `fallback`. */
export function readNumber(path: string, fallback: number): number {
  try {
    const n = Number(readFileSync(path, 'utf8').trim())
    return Number.isFinite(n) && n > 0 ? n : fallback
  } catch {
    return fallback
  }
}

function rlimitMsgqueue(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max msgqueue size'))
    const soft = line?.split(/\s{2,}/)[1]
    return soft === undefined || soft === 'unlimited' ? Infinity : Number(soft)
  } catch {
    return 819200
  }
}

export function readLimits(): MqLimits {
  return {
    msgMax: readNumber('/proc/sys/fs/mqueue/msg_max', 10),
    msgsizeMax: readNumber('/proc/sys/fs/mqueue/msgsize_max', 8192),
    queuesMax: readNumber('/proc/sys/fs/mqueue/queues_max', 256),
    bytesPerUser: rlimitMsgqueue(),
  }
}

/**
 * Turns a queue-creation errno into an error that names the limit that stopped it, its current
 * value, and how to raise it.
 */
export function creationError(err: unknown, what: string, maxmsg: number, msgsize: number): IpcError {
  const code = (err as NodeJS.ErrnoException)?.code
  const l = readLimits()
  const perQueue = maxmsg * msgsize
  switch (code) {
    case 'EMFILE':
      return new IpcError(
        'ERR_IPC_SYSTEM',
        `${what}: the per-user message queue memory limit is used up (RLIMIT_MSGQUEUE = ${l.bytesPerUser} bytes; ` +
          `each queue here takes about ${perQueue} bytes, ${maxmsg} × ${msgsize}). Close queues, ask for smaller ones ` +
          `(?maxmsg= / ?msgsize=), or raise the limit (ulimit -q, or LimitMSGQUEUE= in a systemd unit).`,
        { cause: err, details: { limit: 'RLIMIT_MSGQUEUE', value: l.bytesPerUser } },
      )
    case 'ENOSPC':
      return new IpcError(
        'ERR_IPC_SYSTEM',
        `${what}: the system's message queue count limit is reached (fs.mqueue.queues_max = ${l.queuesMax}); ` +
          `raise it with sysctl -w fs.mqueue.queues_max=N.`,
        { cause: err, details: { limit: 'fs.mqueue.queues_max', value: l.queuesMax } },
      )
    case 'EINVAL':
      return new IpcError(
        'ERR_IPC_INVALID_ARGUMENT',
        `${what}: queue attributes ${maxmsg} messages × ${msgsize} bytes exceed the limits ` +
          `(fs.mqueue.msg_max = ${l.msgMax}, fs.mqueue.msgsize_max = ${l.msgsizeMax}); ` +
          `ask for less or raise them with sysctl -w fs.mqueue.msg_max=N fs.mqueue.msgsize_max=N.`,
        { cause: err, details: { limit: 'fs.mqueue.msg_max/msgsize_max', msgMax: l.msgMax, msgsizeMax: l.msgsizeMax } },
      )
    default:
      return fromErrno(err, what)
  }
}
