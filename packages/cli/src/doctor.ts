/**
 * `ipc doctor`: the kernel limits that bound what the SDK can do on this machine, read now, each
 * with what it allows in the SDK's terms and the command that raises it.
 */
import { readFileSync, statfsSync } from 'node:fs'
import { softLimit } from '@ipc/core/mechanism'
import { queueBytes, readLimits, sysvUnitBytes } from '@ipc/mq'
import { signalWindow } from '@ipc/signal'

/** One limit: where it comes from, its value now, what that means for the SDK, how to raise it. */
export interface LimitReport {
  /** The limit's name as the kernel or the shell knows it. */
  limit: string
  /** Its value now (`unlimited`, a number, or `not available`). */
  value: string
  /** What it allows, in the SDK's terms. */
  means: string
  /** The command (or setting) that raises it. */
  raise: string
}

function proc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return undefined
  }
}

function procNumber(path: string): number | undefined {
  const n = Number(proc(path)?.split(/\s+/)[0])
  return Number.isFinite(n) ? n : undefined
}

function text(n: number | undefined, unit = ''): string {
  if (n === undefined) return 'not available'
  if (n === Infinity) return 'unlimited'
  return `${n.toLocaleString('en-US')}${unit}`
}

function kib(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`
}

/** Reads the limits now (nothing is cached) and says what each allows. */
export function doctor(): LimitReport[] {
  const out: LimitReport[] = []
  const mq = readLimits()
  const shape = { maxmsg: mq.msgMax, msgsize: mq.msgsizeMax }
  const perQueue = queueBytes(shape)
  const queues = mq.bytesPerUser === Infinity ? Infinity : Math.floor(mq.bytesPerUser / perQueue)
  out.push({
    limit: 'RLIMIT_MSGQUEUE',
    value: text(mq.bytesPerUser, ' bytes'),
    means:
      queues === Infinity
        ? 'POSIX mq: no per-user limit on queue memory'
        : `POSIX mq: about ${queues} queues of the default shape (${shape.maxmsg} × ${shape.msgsize} B, ${kib(perQueue)} each) per user — a listener uses one, ` +
          `each connecting process one more, so about ${Math.max(0, queues - 1)} mq: client processes per user for one listener (smaller queues: ?maxmsg= / ?msgsize=)`,
    raise: 'ulimit -q <bytes> (LimitMSGQUEUE= in a systemd unit, msgqueue in /etc/security/limits.conf)',
  })
  out.push({
    limit: 'fs.mqueue.msg_max',
    value: text(mq.msgMax),
    means: `POSIX mq: at most ${mq.msgMax} units in flight per queue (a unit carries many small messages)`,
    raise: 'sysctl -w fs.mqueue.msg_max=<n>',
  })
  out.push({
    limit: 'fs.mqueue.msgsize_max',
    value: text(mq.msgsizeMax, ' bytes'),
    means: `POSIX mq: units of up to ${kib(mq.msgsizeMax)} (larger messages are cut into units)`,
    raise: 'sysctl -w fs.mqueue.msgsize_max=<bytes>',
  })
  out.push({
    limit: 'fs.mqueue.queues_max',
    value: text(mq.queuesMax),
    means: `POSIX mq: at most ${mq.queuesMax} queues in this IPC namespace (listeners plus connecting processes; root is not bound by it)`,
    raise: 'sysctl -w fs.mqueue.queues_max=<n>',
  })
  const msgmnb = procNumber('/proc/sys/kernel/msgmnb')
  out.push({
    limit: 'kernel.msgmnb',
    value: text(msgmnb, ' bytes'),
    means:
      msgmnb === undefined
        ? 'System V mq: bytes per queue'
        : `mq+sysv: a listener and all its clients share one queue of ${kib(msgmnb)} in flight (units of ${kib(sysvUnitBytes())}, kernel.msgmax)`,
    raise: 'sysctl -w kernel.msgmnb=<bytes>',
  })
  const msgmni = procNumber('/proc/sys/kernel/msgmni')
  out.push({
    limit: 'kernel.msgmni',
    value: text(msgmni),
    means: `mq+sysv: at most ${text(msgmni)} System V queues on the machine (one per listener)`,
    raise: 'sysctl -w kernel.msgmni=<n>',
  })
  const sem = proc('/proc/sys/kernel/sem')?.split(/\s+/).map(Number)
  out.push({
    limit: 'kernel.sem',
    value: sem === undefined ? 'not available' : `SEMMSL ${sem[0]} SEMMNS ${sem[1]} SEMOPM ${sem[2]} SEMMNI ${sem[3]}`,
    means:
      sem === undefined
        ? 'System V semaphores'
        : `Semaphore (kind 'sysv'): at most ${sem[3].toLocaleString('en-US')} sets on the machine; the sem: transport's semaphores live in its own memory and are not counted`,
    raise: 'sysctl -w kernel.sem="<SEMMSL> <SEMMNS> <SEMOPM> <SEMMNI>"',
  })
  let shm: { size: number; free: number } | undefined
  try {
    const s = statfsSync('/dev/shm')
    shm = { size: s.blocks * s.bsize, free: s.bavail * s.bsize }
  } catch {
    shm = undefined
  }
  out.push({
    limit: '/dev/shm size',
    value: shm === undefined ? 'not available' : `${kib(shm.size)} (${kib(shm.free)} free)`,
    means:
      'shm:/sem: only their small rendezvous files and POSIX named semaphores live here; segments are sealed memfds, counted as shared memory of the processes, not against /dev/shm',
    raise: 'mount -o remount,size=<size> /dev/shm',
  })
  const pipeMax = procNumber('/proc/sys/fs/pipe-max-size')
  const pipePages = procNumber('/proc/sys/fs/pipe-user-pages-soft')
  out.push({
    limit: 'fs.pipe-max-size',
    value: text(pipeMax, ' bytes'),
    means: `pipe/fifo: a pipe may be grown to ${pipeMax === undefined ? '?' : kib(pipeMax)} (F_SETPIPE_SZ); the default is 64 KiB`,
    raise: 'sysctl -w fs.pipe-max-size=<bytes>',
  })
  out.push({
    limit: 'fs.pipe-user-pages-soft',
    value: text(pipePages, ' pages'),
    means:
      pipePages === undefined || pipePages === 0
        ? 'pipes: no per-user soft limit'
        : `pipes: about ${Math.floor(pipePages / 16).toLocaleString('en-US')} pipes of 64 KiB per user before new ones get a single page (pipe: uses 2 per child, fifo: 2 per connection, shm:/sem: 2 doorbells per connection)`,
    raise: 'sysctl -w fs.pipe-user-pages-soft=<pages>',
  })
  const sigpending = softLimit('Max pending signals')
  out.push({
    limit: 'RLIMIT_SIGPENDING',
    value: text(sigpending),
    means: `signal: each end lets ${signalWindow()} data signals be in flight to it per connection (an eighth of the limit, 8 to 1024)`,
    raise: 'ulimit -i <n> (LimitSIGPENDING= in a systemd unit)',
  })
  const nofile = softLimit('Max open files')
  out.push({
    limit: 'RLIMIT_NOFILE',
    value: text(nofile),
    means:
      nofile === undefined || nofile === Infinity
        ? 'descriptors: no limit'
        : `descriptors: about ${Math.floor(nofile / 4).toLocaleString('en-US')} connections per process (a connection holds 1 to 4 descriptors: socket 1, pipe/fifo 2, shm/sem 2–4)`,
    raise: 'ulimit -n <n> (LimitNOFILE= in a systemd unit)',
  })
  return out
}
