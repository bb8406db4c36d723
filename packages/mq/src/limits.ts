import { readFileSync } from 'node:fs'
import { IpcError } from '@ipc/core'
import { fromErrno, softLimit } from '@ipc/core/mechanism'

/** The kernel's POSIX message queue limits for this process. */
export interface MqLimits {
  /** /proc/sys/fs/mqueue/msg_max: messages per queue (without CAP_SYS_RESOURCE). */
  msgMax: number
  /** /proc/sys/fs/mqueue/msgsize_max: bytes per message (without CAP_SYS_RESOURCE). */
  msgsizeMax: number
  /** /proc/sys/fs/mqueue/queues_max: queues in this IPC namespace (without CAP_SYS_RESOURCE). */
  queuesMax: number
  /** RLIMIT_MSGQUEUE (soft): bytes of queues per user, CAP_SYS_RESOURCE or not. */
  bytesPerUser: number
}

/** The shape of a POSIX queue: `mq_maxmsg` messages of at most `mq_msgsize` bytes. */
export interface QueueShape {
  maxmsg: number
  msgsize: number
}

/** A positive number from a /proc file, or `fallback` when it cannot be read. */
export function readNumber(path: string, fallback: number): number {
  try {
    const n = Number(readFileSync(path, 'utf8').trim())
    return Number.isFinite(n) && n > 0 ? n : fallback
  } catch {
    return fallback // /proc is not mounted (or the file is not there): the kernel's documented default
  }
}

/** The soft RLIMIT_MSGQUEUE of this process (`Infinity` when unlimited; the usual default without /proc). */
function rlimitMsgqueue(): number {
  return softLimit('Max msgqueue size') ?? 819200
}

/** The POSIX queue limits in effect now (read from /proc on every call). */
export function readLimits(): MqLimits {
  return {
    msgMax: readNumber('/proc/sys/fs/mqueue/msg_max', 10),
    msgsizeMax: readNumber('/proc/sys/fs/mqueue/msgsize_max', 8192),
    queuesMax: readNumber('/proc/sys/fs/mqueue/queues_max', 256),
    bytesPerUser: rlimitMsgqueue(),
  }
}

/**
 * What one queue of `shape` counts against RLIMIT_MSGQUEUE: its messages plus the kernel's
 * bookkeeping of each (a `msg_msg` and a priority-tree node, 48 bytes each on 64-bit Linux).
 */
export function queueBytes(shape: QueueShape): number {
  return shape.maxmsg * (shape.msgsize + 96)
}

/**
 * Turns a POSIX queue-creation errno into an error that names the limit that stopped it, its
 * current value, and how to raise it.
 */
export function creationError(err: unknown, what: string, shape: QueueShape): IpcError {
  const code = (err as NodeJS.ErrnoException)?.code
  const l = readLimits()
  const perQueue = queueBytes(shape)
  switch (code) {
    case 'EMFILE':
      return new IpcError(
        'ERR_IPC_SYSTEM',
        `${what}: the per-user message queue memory limit is used up (RLIMIT_MSGQUEUE = ${l.bytesPerUser} bytes; ` +
          `a queue of ${shape.maxmsg} × ${shape.msgsize} bytes counts about ${perQueue} bytes, so about ${Math.floor(l.bytesPerUser / perQueue)} of them fit). ` +
          'Close queues, ask for smaller ones (?maxmsg= / ?msgsize=), or raise the limit (ulimit -q, or LimitMSGQUEUE= in a systemd unit).',
        { cause: err, details: { limit: 'RLIMIT_MSGQUEUE', value: l.bytesPerUser } },
      )
    case 'ENOSPC':
      return new IpcError(
        'ERR_IPC_SYSTEM',
        `${what}: the message queue count limit of this IPC namespace is reached (fs.mqueue.queues_max = ${l.queuesMax}; ` +
          'CAP_SYS_RESOURCE lifts it); raise it with sysctl -w fs.mqueue.queues_max=N, or close queues.',
        { cause: err, details: { limit: 'fs.mqueue.queues_max', value: l.queuesMax } },
      )
    case 'EINVAL':
      return new IpcError(
        'ERR_IPC_INVALID_ARGUMENT',
        `${what}: queue attributes ${shape.maxmsg} messages × ${shape.msgsize} bytes exceed the limits ` +
          `(fs.mqueue.msg_max = ${l.msgMax}, fs.mqueue.msgsize_max = ${l.msgsizeMax}, without CAP_SYS_RESOURCE); ` +
          'ask for less or raise them with sysctl -w fs.mqueue.msg_max=N fs.mqueue.msgsize_max=N.',
        { cause: err, details: { limit: 'fs.mqueue.msg_max/msgsize_max', msgMax: l.msgMax, msgsizeMax: l.msgsizeMax } },
      )
    default:
      return fromErrno(err, what)
  }
}

/** Turns a System V queue-creation errno into an error naming the limit that stopped it. */
export function sysvCreationError(err: unknown, what: string): IpcError {
  if ((err as NodeJS.ErrnoException)?.code === 'ENOSPC') {
    const msgmni = readNumber('/proc/sys/kernel/msgmni', 32000)
    return new IpcError(
      'ERR_IPC_SYSTEM',
      `${what}: the system's System V queue count limit is reached (kernel.msgmni = ${msgmni}); ` +
        'raise it with sysctl -w kernel.msgmni=N or remove unused queues (ipcs -q, ipcrm -q).',
      { cause: err, details: { limit: 'kernel.msgmni', value: msgmni } },
    )
  }
  return fromErrno(err, what)
}

/** Bytes per System V queue message the kernel accepts (`kernel.msgmax`, 8192 by default), at most 64 KiB: the unit size. */
export function sysvUnitBytes(): number {
  return Math.min(readNumber('/proc/sys/kernel/msgmax', 8192), 64 * 1024)
}
