import { existsSync, fstatSync, readdirSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import {
  type Address,
  type ConnectOptions,
  IpcError,
  type Link,
  type LinkEnd,
  type LinkEvents,
  type Listener,
  type ListenOptions,
  type PeerInfo,
  type Transport,
  type TransportOptions,
  createListener,
  createTransport,
  fromErrno,
  parseSize,
  resolveTransportOptions,
  withWait,
} from '@ipc/core'
import { native } from '@ipc/native'
import { creationError, readLimits } from './limits.js'
import { UnitInbox, UnitSender, drainQueue, receiveBufferSize } from './units.js'

/** Priorities offered to `send(msg, { priority })`: 0 (lowest) to PRIORITIES - 1. */
export const PRIORITIES = 32
/** Tag of hello units on the server queue; connections get tags from 1. */
const HELLO_TAG = 0
const HELLO_MAGIC = 'IPCMQ1'
const ACK_MAGIC = 0x41435049 // "IPCA" little-endian
const TAG_BYTES = 4

const K = native.mqConstants

/** Options of `mq:` connect and listen (also as address query options). */
export interface MqOptions<In = unknown> extends ListenOptions<In> {
  /** Messages per queue (default and maximum: fs.mqueue.msg_max, 10 unless raised). */
  maxmsg?: number | string
  /** Bytes per queue message (default and maximum: fs.mqueue.msgsize_max, 8192 unless raised). */
  msgsize?: number | string
  /** Connections waiting for `accept()` (listen only). Default 128. */
  backlog?: number | string
}

interface QueueShape {
  maxmsg: number
  msgsize: number
}

function queueShape(options: MqOptions<any>): QueueShape {
  const l = readLimits()
  const maxmsg = options.maxmsg === undefined ? l.msgMax : parseSize(options.maxmsg, 'maxmsg', 1, 65536)
  const msgsize = options.msgsize === undefined ? l.msgsizeMax : parseSize(options.msgsize, 'msgsize', 64, 16 * 1024 * 1024)
  return { maxmsg, msgsize }
}

/** The server queue's name: `mq:/app` → `/app` (one slash, at most 255 bytes). */
function serverName(address: Address): string {
  const name = decodeURIComponent(address.target)
  if (!/^\/[^/\0]{1,200}$/.test(name)) {
    throw new IpcError('ERR_IPC_INVALID_ADDRESS', `mq: names look like mq:/app (one leading slash, 1–200 characters, no other slash); got "${address.text}"`)
  }
  return name
}

function replyNamePattern(server: string): RegExp {
  return new RegExp(`^${server.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.([1-9][0-9]{0,9})\\.[0-9a-f]{16}$`)
}

function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return
  try {
    native.closeFd(fd) // mq descriptors belong to native
  } catch {
    // closed already
  }
}

function unlinkQuietly(name: string): void {
  try {
    native.mqUnlink(name)
  } catch {
    // gone already
  }
}

function openQueue(name: string, flags: number, shape: QueueShape, what: string): number {
  try {
    return native.mqOpen(name, flags | K.O_NONBLOCK | K.O_CLOEXEC, 0o600, shape.maxmsg, shape.msgsize)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw err
    throw creationError(err, what, shape.maxmsg, shape.msgsize)
  }
}

/** Watches the peer process; `onExit` runs once when it exits (at once if it is gone). */
function watchPeer(pid: number, onExit: () => void): { close(): void } {
  try {
    return new native.PidWatcher(pid, onExit)
  } catch {
    queueMicrotask(onExit)
    return { close() {} }
  }
}

/**
 * One side of a POSIX mq conversation. Units go out through `sender` (into the peer's queue) and
 * come in through `inbox` (fed by whoever reads our queue). The peer's exit ends it with
 * `'peer-exited'` once what it sent has been read; a GOODBYE frame (core) ends it with `'peer'`.
 */
class MqLink implements Link {
  readonly lanes = PRIORITIES
  readonly inbox = new UnitInbox()
  private ended = false
  private released = false

  constructor(
    readonly maxUnit: number,
    readonly peer: PeerInfo,
    private readonly sender: UnitSender,
    private readonly hooks: {
      /** Reads whatever is still queued for us (before an end is reported). */
      drainIncoming(): void
      /** Starts or stops reading our queue (paused / resumed). */
      reading(on: boolean): void
      /** Releases this side's kernel objects. */
      release(): void
    },
  ) {}

  start(events: LinkEvents): void {
    this.inbox.events = events
    this.inbox.flush()
    this.hooks.reading(true)
  }

  write(chunks: Uint8Array[], lane = 0): boolean {
    return this.sender.send(chunks, lane, () => this.inbox.events?.drain())
  }

  pause(): void {
    this.inbox.paused = true
    this.hooks.reading(false)
  }

  resume(): void {
    this.inbox.paused = false
    this.inbox.flush()
    this.hooks.reading(true)
  }

  /** The peer process exited: pass on what it sent, then end. */
  peerExited(): void {
    if (this.ended) return
    this.hooks.drainIncoming()
    this.inbox.paused = false
    this.inbox.flush()
    this.end({ reason: 'peer-exited' })
  }

  end(info: LinkEnd): void {
    if (this.ended) return
    this.ended = true
    const events = this.inbox.events
    this.inbox.events = undefined
    events?.end(info)
  }

  fail(error: Error): void {
    this.end({ reason: 'error', error })
  }

  close(): Promise<void> {
    this.inbox.events = undefined
    if (!this.sender.busy) {
      this.destroy()
      return Promise.resolve()
    }
    // what is queued still goes out while the peer reads; core bounds the wait (closeTimeout)
    return new Promise((resolve) => {
      this.sender.send([], 0, () => {
        this.destroy()
        resolve()
      })
    })
  }

  destroy(): void {
    this.ended = true
    this.inbox.events = undefined
    this.sender.close()
    if (!this.released) {
      this.released = true
      this.hooks.release()
    }
  }
}

/** `mq:` listen: the server queue (flock-ed as a liveness mark), a reply queue per client. */
export async function listenMq<Out, In>(address: Address, options: MqOptions<In>): Promise<Listener<Out, In>> {
  const name = serverName(address)
  const shape = queueShape(options)
  const transportOptions = resolveTransportOptions(options)
  const label = `listen ${address.text}`
  const replyPattern = replyNamePattern(name)
  const flags = K.O_CREAT | K.O_EXCL | K.O_RDONLY
  let fd: number
  try {
    fd = openQueue(name, flags, shape, label)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    reclaimServerQueue(name, label)
    fd = openQueue(name, flags, shape, label)
  }
  if (!native.lockExclusive(fd)) {
    closeQuietly(fd)
    throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: another listener took ${name} at the same moment`)
  }
  reclaimReplyQueues(name, replyPattern)
  const { msgsize } = native.mqGetattr(fd)
  const bufferSize = receiveBufferSize(shape.maxmsg, msgsize)
  const connections = new Map<number, MqLink>()
  let nextTag = 1
  let heldTotal = 0
  const HELD_LIMIT = 4 * 1024 * 1024
  let reading = true
  let listenerClosed = false
  /** The server queue carries every accepted connection's data: it stays open until the last one ends. */
  const shutdown = (): void => {
    watcher.close()
    closeQuietly(fd)
  }

  const watcher = new native.FdWatcher(fd, (events) => {
    if (events < 0) return void control.listener.close()
    readServerQueue()
  })
  const setReading = (on: boolean): void => {
    reading = on
    watcher.start(on ? native.READABLE : 0)
  }

  const readServerQueue = (): void => {
    try {
      drainQueue(fd, bufferSize, msgsize, onUnit)
    } catch (err) {
      void control.listener.close()
      return
    }
    // a paused connection holds its units; past a bound, stop reading the shared queue for all
    heldTotal = 0
    for (const link of connections.values()) heldTotal += link.inbox.heldBytes
    if (heldTotal > HELD_LIMIT && reading) setReading(false)
  }

  const onUnit = (unit: Buffer, priority: number): void => {
    if (unit.length < TAG_BYTES) return
    const tag = unit.readUInt32LE(0)
    const body = unit.subarray(TAG_BYTES)
    if (tag === HELLO_TAG) return listenerClosed ? undefined : hello(body)
    connections.get(tag)?.inbox.deliver(body, priority)
  }

  const hello = (body: Buffer): void => {
    const parts = body.toString('latin1').split(' ')
    if (parts.length !== 3 || parts[0] !== HELLO_MAGIC) return
    const pid = Number(parts[1])
    const reply = parts[2]!
    const m = replyPattern.exec(reply)
    if (!m || Number(m[1]) !== pid) return
    let replyFd: number | undefined
    try {
      replyFd = native.mqOpen(reply, K.O_WRONLY | K.O_NONBLOCK | K.O_CLOEXEC, 0, 0, 0)
      const st = fstatSync(replyFd)
      if (st.uid !== process.getuid!() || (st.mode & 0o077) !== 0) throw new Error('not an owner-only queue of ours')
      const attr = native.mqGetattr(replyFd)
      if (attr.msgsize < 64) throw new Error('reply queue messages too small')
      const tag = nextTag++
      const ack = Buffer.alloc(12)
      ack.writeUInt32LE(ACK_MAGIC, 0)
      ack.writeUInt32LE(tag, 4)
      ack.writeUInt32LE(process.pid, 8)
      // the reply queue is empty, and the ack goes at the top priority: it is what the client reads first
      if (!native.mqSend(replyFd, -1, ack, PRIORITIES - 1)) throw new Error('reply queue full')
      const fdOut = replyFd
      const sender = new UnitSender(fdOut, -1, (err) => link.fail(err))
      const maxUnit = Math.min(attr.msgsize, msgsize) - TAG_BYTES
      const link: MqLink = new MqLink(maxUnit, { pid }, sender, {
        drainIncoming: readServerQueue,
        reading: () => {
          if (!reading && [...connections.values()].every((l) => !l.inbox.paused)) setReading(true)
        },
        release: () => {
          connections.delete(tag)
          peer.close()
          closeQuietly(fdOut)
          if (listenerClosed && connections.size === 0) shutdown()
        },
      })
      const peer = watchPeer(pid, () => link.peerExited())
      connections.set(tag, link)
      replyFd = undefined
      control.offer(createTransport<Out, In>(link, transportOptions))
    } catch {
      closeQuietly(replyFd) // a hello that does not check out is dropped
    }
  }

  const control = createListener<Out, In>(
    {
      address: address.text,
      async close() {
        listenerClosed = true
        unlinkQuietly(name) // no new client finds it; accepted connections go on over the open queue
        if (connections.size === 0) shutdown()
      },
    },
    Number(options.backlog ?? 128),
  )
  setReading(true)
  return control.listener
}

/** An existing server queue: reclaimed if no live listener holds its lock, else in use. */
function reclaimServerQueue(name: string, label: string): void {
  let fd: number
  try {
    fd = native.mqOpen(name, K.O_RDONLY | K.O_NONBLOCK | K.O_CLOEXEC, 0, 0, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw fromErrno(err, label)
  }
  try {
    if (!native.lockExclusive(fd)) throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: a live listener holds ${name}`)
    if (fstatSync(fd).uid !== process.getuid!()) throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: ${name} belongs to another user`)
    unlinkQuietly(name) // its owner died
  } finally {
    closeQuietly(fd)
  }
}

/** Reply queues of dead clients (visible where the mqueue filesystem is mounted at /dev/mqueue). */
function reclaimReplyQueues(server: string, pattern: RegExp): void {
  if (!existsSync('/dev/mqueue')) return
  let names: string[]
  try {
    names = readdirSync('/dev/mqueue')
  } catch {
    return
  }
  for (const entry of names) {
    const name = `/${entry}`
    if (!name.startsWith(`${server}.`) || !pattern.test(name)) continue
    let fd: number | undefined
    try {
      fd = native.mqOpen(name, K.O_RDONLY | K.O_NONBLOCK | K.O_CLOEXEC, 0, 0, 0)
      if (native.lockExclusive(fd)) unlinkQuietly(name)
    } catch {
      // not ours to judge
    } finally {
      closeQuietly(fd)
    }
  }
}

/** Waits until `fd` is readable (once), under `options`' timeout and signal. */
function readable(fd: number, what: string, options: ConnectOptions<any>): Promise<void> {
  let watcher: InstanceType<typeof native.FdWatcher> | undefined
  const ready = new Promise<void>((resolve) => {
    watcher = new native.FdWatcher(fd, () => resolve())
    watcher.start(native.READABLE)
  })
  return withWait(ready, options, what).finally(() => watcher?.close())
}

/**
 * `mq:` connect: make our reply queue (owner-only, flock-ed as a liveness mark), announce it with a
 * hello on the server queue, read the ack (our connection tag, the listener's pid), and remove the
 * reply queue's name (both sides hold it open now).
 */
export async function connectMq<Out, In>(address: Address, options: MqOptions<In> & ConnectOptions<In>): Promise<Transport<Out, In>> {
  const name = serverName(address)
  const shape = queueShape(options)
  const transportOptions: TransportOptions<In> = options
  const label = `connect ${address.text}`
  let serverFd: number | undefined
  let replyFd: number | undefined
  const reply = `${name}.${process.pid}.${randomBytes(8).toString('hex')}`
  try {
    try {
      serverFd = native.mqOpen(name, K.O_WRONLY | K.O_NONBLOCK | K.O_CLOEXEC, 0, 0, 0)
    } catch (err) {
      throw fromErrno(err, label)
    }
    // a server queue nobody holds the lock of is a crashed listener's
    const probe = native.mqOpen(name, K.O_RDONLY | K.O_NONBLOCK | K.O_CLOEXEC, 0, 0, 0)
    const orphaned = native.lockExclusive(probe)
    closeQuietly(probe)
    if (orphaned) throw new IpcError('ERR_IPC_NO_LISTENER', `${label}: no live listener holds ${name}`)
    const serverAttr = native.mqGetattr(serverFd)
    replyFd = openQueue(reply, K.O_CREAT | K.O_EXCL | K.O_RDONLY, { maxmsg: shape.maxmsg, msgsize: Math.min(shape.msgsize, serverAttr.msgsize) }, label)
    native.lockExclusive(replyFd)
    const helloBytes = Buffer.from(`${HELLO_MAGIC} ${process.pid} ${reply}`, 'latin1')
    const helloSent = new Promise<void>((resolve, reject) => {
      const sender = new UnitSender(serverFd!, HELLO_TAG, reject)
      if (sender.send([helloBytes], 0, () => (sender.close(), resolve()))) {
        sender.close()
        resolve()
      }
    })
    await withWait(helloSent, options, label)
    // exactly one message: the ack (data may follow it at once and must stay queued)
    const replyMsgsize = native.mqGetattr(replyFd).msgsize
    const one = Buffer.allocUnsafe(replyMsgsize + 8)
    let used = 0
    while (used === 0) {
      await readable(replyFd, label, options)
      used = native.mqReceiveMany(replyFd, one, replyMsgsize)
    }
    const ack = one.subarray(8, 8 + one.readUInt32LE(0))
    if (ack.length !== 12 || ack.readUInt32LE(0) !== ACK_MAGIC) throw new IpcError('ERR_IPC_DECODE', `${label}: the listener's ack is malformed`)
    const tag = ack.readUInt32LE(4)
    const serverPid = ack.readUInt32LE(8)
    unlinkQuietly(reply)
    const inFd = replyFd
    const outFd = serverFd
    const { msgsize } = native.mqGetattr(inFd)
    const bufferSize = receiveBufferSize(shape.maxmsg, msgsize)
    let watcher: InstanceType<typeof native.FdWatcher> | undefined
    const drainIncoming = (): void => {
      try {
        drainQueue(inFd, bufferSize, msgsize, (unit, priority) => link.inbox.deliver(unit, priority))
      } catch (err) {
        link.fail(err as Error)
      }
    }
    const sender = new UnitSender(outFd, tag, (err) => link.fail(err))
    const link: MqLink = new MqLink(Math.min(serverAttr.msgsize, msgsize) - TAG_BYTES, { pid: serverPid }, sender, {
      drainIncoming,
      reading(on) {
        watcher ??= new native.FdWatcher(inFd, (events) => (events < 0 ? link.fail(new Error('poll failed')) : drainIncoming()))
        watcher.start(on ? native.READABLE : 0)
        if (on) drainIncoming()
      },
      release() {
        watcher?.close()
        peer.close()
        closeQuietly(inFd)
        closeQuietly(outFd)
      },
    })
    const peer = watchPeer(serverPid, () => link.peerExited())
    return createTransport<Out, In>(link, transportOptions)
  } catch (err) {
    unlinkQuietly(reply)
    closeQuietly(replyFd)
    closeQuietly(serverFd)
    throw fromErrno(err, label)
  }
}
