/**
 * How an `mq:` client finds its listener, the listener's owner mark, and reclaiming what dead
 * owners left: the server queue `/name` (the listener holds `flock(LOCK_EX)` on its descriptor,
 * which the kernel drops when the listener's process or Worker ends), and reply queues
 * `/name.<pid>.<random>` (their creator holds a lock on them too, until their name is removed).
 */
import { existsSync, fstatSync, readdirSync } from 'node:fs'
import { IpcError, type ListenOptions } from '@ipc/core'
import { type Address, OWNER_ONLY_MODE, closeQuietly, debug, fromErrno, unlinkQuietly } from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { type QueueShape, creationError, readLimits } from '../limits.js'
import { lockSoon } from '../marks.js'

/** Flags of `mqOpen`. */
export const MQ = native.mqConstants

/** Options of `mq:` connect and listen (also as address options: `mq:/app?maxmsg=4&msgsize=1KiB`). */
export interface MqOptions<In = unknown> extends ListenOptions<In> {
  /**
   * Messages per queue: the listener's server queue, or a client's reply queue. A client takes
   * the server queue's (at most msg_max) unless it asks.
   * @defaultValue `fs.mqueue.msg_max` (10 unless raised) for the server queue
   */
  maxmsg?: number
  /**
   * Bytes per queue message; a client's reply queue never has larger messages than the server
   * queue's.
   * @defaultValue `fs.mqueue.msgsize_max` (8192 unless raised) for the server queue
   */
  msgsize?: number
  /**
   * Connections waiting for `accept()` (listen only); past it, hellos wait (clients wait within their timeout).
   * @defaultValue `511`
   */
  backlog?: number
}

/** The server queue's name: `mq:/app` → `/app` (one leading slash, no other, at most 200 characters). */
export function serverName(address: Address): string {
  const name = decodeURIComponent(address.target)
  if (!/^\/[^/\0]{1,200}$/.test(name)) {
    throw new IpcError('ERR_IPC_INVALID_ADDRESS', `mq: names look like mq:/app (one leading slash, 1–200 characters, no other slash); got "${address.text}"`)
  }
  return name
}

/** Matches the reply queues of `server`: `<server>.<pid>.<16 hex>`; group 1 is the pid. */
export function replyNamePattern(server: string): RegExp {
  return new RegExp(`^${server.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.([1-9][0-9]{0,9})\\.[0-9a-f]{16}$`)
}

/** The server queue's shape: the options, else the kernel's unprivileged maxima. */
export function listenerShape(options: MqOptions<any>): QueueShape {
  const l = readLimits()
  return { maxmsg: options.maxmsg ?? l.msgMax, msgsize: options.msgsize ?? l.msgsizeMax }
}

/**
 * A client's reply queue shape: its options, else the server queue's (so a listener made small
 * for many clients gets small reply queues too), capped by msg_max; never larger messages than
 * the server queue's (units must fit both ways).
 */
export function replyShape(options: MqOptions<any>, server: QueueShape): QueueShape {
  const l = readLimits()
  return {
    maxmsg: options.maxmsg ?? Math.min(server.maxmsg, l.msgMax),
    msgsize: Math.min(options.msgsize ?? l.msgsizeMax, server.msgsize),
  }
}

/** Closes a queue descriptor (they are native's); failures other than "closed already" are logged. */
export function closeQueue(fd: number | undefined): void {
  closeQuietly(fd, native.closeFd)
}

/** Removes a queue's name; a missing one is fine, other failures are logged. */
export function unlinkQueue(name: string): void {
  unlinkQuietly(name, native.mqUnlink)
}

/** Opens an existing queue (never blocking in `mq_send`/`mq_receive`). Throws errno errors. */
export function openExisting(name: string, flags: number): number {
  return native.mqOpen(name, flags | MQ.O_NONBLOCK | MQ.O_CLOEXEC, 0, 0, 0)
}

/** Creates a queue (owner-only, exclusively); EEXIST is thrown as it is, other failures name the limit that stopped them. */
export function createQueue(name: string, flags: number, shape: QueueShape, what: string): number {
  try {
    return native.mqOpen(name, flags | MQ.O_CREAT | MQ.O_EXCL | MQ.O_NONBLOCK | MQ.O_CLOEXEC, OWNER_ONLY_MODE, shape.maxmsg, shape.msgsize)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw err
    throw creationError(err, what, shape)
  }
}

/**
 * Creates the server queue and takes its lock (the listener's owner mark). An existing queue is
 * reclaimed when nobody holds its lock (its listener is dead) and it belongs to this user;
 * otherwise `ERR_IPC_ADDRESS_IN_USE`.
 */
export async function claimServerQueue(name: string, shape: QueueShape, label: string): Promise<number> {
  let fd: number
  try {
    fd = createQueue(name, MQ.O_RDONLY, shape, label)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    await reclaimServerQueue(name, label)
    try {
      fd = createQueue(name, MQ.O_RDONLY, shape, label)
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code === 'EEXIST')
        throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: another listener took ${name} at the same moment`)
      throw again
    }
  }
  if (!(await lockSoon(fd))) {
    closeQueue(fd)
    throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: another listener took ${name} at the same moment`)
  }
  return fd
}

/** An existing server queue: removed if no live listener holds its lock and it is this user's, else in use. */
export async function reclaimServerQueue(name: string, label: string): Promise<void> {
  let fd: number
  try {
    fd = openExisting(name, MQ.O_RDONLY)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return // removed meanwhile
    throw fromErrno(err, label)
  }
  try {
    if (fstatSync(fd).uid !== process.getuid!()) throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: ${name} belongs to another user`)
    if (!(await lockSoon(fd))) throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: a live listener holds ${name}`)
    debug('%s: reclaiming %s (its listener is gone)', label, name)
    unlinkQueue(name)
  } finally {
    closeQueue(fd)
  }
}

/** `true` while a live listener holds the server queue's lock (a probe that can take it releases it at once). */
export function listenerHolds(name: string): boolean {
  const probe = openExisting(name, MQ.O_RDONLY)
  try {
    return !native.lockExclusive(probe)
  } finally {
    closeQueue(probe) // releases the probe's lock, if it took it
  }
}

/** Removes reply queues of dead clients (visible where the mqueue filesystem is mounted at /dev/mqueue). */
export function reclaimReplyQueues(server: string, pattern: RegExp): void {
  if (!existsSync('/dev/mqueue')) return
  let entries: string[]
  try {
    entries = readdirSync('/dev/mqueue')
  } catch (err) {
    debug('mq: cannot list /dev/mqueue to reclaim reply queues of %s: %s', server, (err as Error).message)
    return
  }
  for (const entry of entries) {
    const name = `/${entry}`
    if (name.startsWith(`${server}.`) && pattern.test(name)) reclaimReplyQueue(name)
  }
}

/** Removes the reply queue `name` if it is this user's and its client is gone (nobody holds its lock); `true` if removed. */
export function reclaimReplyQueue(name: string): boolean {
  let fd: number | undefined
  try {
    fd = openExisting(name, MQ.O_RDONLY)
    if (fstatSync(fd).uid === process.getuid!() && native.lockExclusive(fd)) {
      debug('mq: reclaiming the reply queue %s (its client is gone)', name)
      unlinkQueue(name)
      return true
    }
  } catch (err) {
    debug('mq: cannot inspect the reply queue %s: %s', name, (err as Error).message)
  } finally {
    closeQueue(fd)
  }
  return false
}
