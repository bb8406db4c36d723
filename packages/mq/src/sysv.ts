import { closeSync, lstatSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { randomInt } from 'node:crypto'
import { resolve } from 'node:path'
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
  createListener,
  createTransport,
  fromErrno,
  processAlive,
  resolveTransportOptions,
  withWait,
} from '@ipc/core'
import { native } from '@ipc/native'
import { readNumber } from './limits.js'

/**
 * System V message queues (`mq+sysv:/path/key-file`): one queue per address carries every
 * conversation, demultiplexed by mtype — the listener receives mtype 2 (units tagged with the
 * connection), each client receives its own random mtype. Receiving blocks on a dedicated native
 * thread per receiver; a send that finds the queue full is finished by a native sender thread.
 */

const PROJ_ID = 0x49
const MAGIC = 'IPCSV1'
/** mtype of the header message (magic + owner pid) the listener keeps in its queue. */
const MTYPE_HEADER = 1
/** mtype of every listener-bound message: `[u32 tag][bytes]`, tag 0 = hello. */
const MTYPE_SERVER = 2
const ACK_MAGIC = 0x41565349 // "ISVA"
const TAG_BYTES = 4
const EXIT_GRACE_MS = 40
/** First byte of a connection unit: data, or credit (a u32 of bytes the receiver consumed). */
const KIND_DATA = 0
const KIND_CREDIT = 1
/** The sender's side of the connection is gone (like an end of stream); its last unit. */
const KIND_CLOSED = 2
const CLOSED_UNIT = Buffer.from([KIND_CLOSED])
/**
 * Bytes a side may have sent and not yet had credited. The receive threads always drain the
 * kernel queue (so a slow reader can never fill the queue both directions share, which would
 * deadlock them); this window is what bounds a slow reader's memory instead.
 */
const WINDOW = 512 * 1024

/** Bytes per message the kernel accepts (kernel.msgmax, 8192 by default). */
const unitBytes = (): number => Math.min(readNumber('/proc/sys/kernel/msgmax', 8192), 64 * 1024)

function keyPath(address: Address): string {
  const t = decodeURIComponent(address.target)
  if (t.length === 0 || t.startsWith('//')) throw new IpcError('ERR_IPC_INVALID_ADDRESS', `mq+sysv: needs a key file path, e.g. mq+sysv:/run/app.key; got "${address.text}"`)
  return resolve(t)
}

/** The owner pid the key file names, or `undefined` if it is not one of ours. */
function keyFileOwner(path: string): number | undefined {
  try {
    const st = lstatSync(path)
    if (!st.isFile() || st.uid !== process.getuid!()) return undefined
    const m = new RegExp(`^${MAGIC} ([1-9][0-9]*)\\n$`).exec(readFileSync(path, 'latin1'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

function tagged(tag: number, bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(TAG_BYTES + bytes.length)
  out.writeUInt32LE(tag, 0)
  out.set(bytes, TAG_BYTES)
  return out
}

/** Splits a receiver batch into its records. */
function records(batch: Buffer, each: (bytes: Buffer) => void): void {
  let at = 0
  while (at + 4 <= batch.length) {
    const len = batch.readUInt32LE(at)
    each(batch.subarray(at + 4, at + 4 + len))
    at += 4 + len
  }
}

/**
 * Sends into one queue in order: `msgsnd(IPC_NOWAIT)` while there is room; once the queue is full,
 * everything goes through the native sender thread until it reports the queue drained.
 */
class Outlet {
  private thread: InstanceType<typeof native.SysvSender> | undefined
  private overflowing = false
  /** Messages handed to the thread so far; it is drained when it reports as many sent. */
  private pushed = 0
  private readonly waiting = new Set<() => void>()

  constructor(
    private readonly msqid: number,
    private readonly onError: (err: Error) => void,
  ) {}

  get busy(): boolean {
    return this.overflowing
  }

  /** Returns `false` when some of it waits for room (then `drain` runs once all of it is queued). */
  send(mtype: number, units: Uint8Array[], drain: () => void): boolean {
    for (const unit of units) {
      if (!this.overflowing) {
        try {
          if (native.msgSend(this.msqid, mtype, unit)) continue
        } catch (err) {
          this.onError(err as Error)
          return true
        }
        this.overflowing = true
      }
      this.thread ??= new native.SysvSender(this.msqid, (error, sent) => this.progress(error, sent))
      this.thread.push(mtype, unit)
      this.pushed++
    }
    if (!this.overflowing) return true
    this.waiting.add(drain)
    return false
  }

  private progress(error: Error | null, sent: number): void {
    if (error) return this.onError(error) // an errno error of msgsnd: code EIDRM when the queue was removed
    if (sent < this.pushed) return // more was pushed since: still in order behind the thread
    this.overflowing = false
    const waiting = [...this.waiting]
    this.waiting.clear()
    for (const w of waiting) w()
  }

  close(): void {
    this.thread?.close()
    this.thread = undefined
    this.waiting.clear()
  }
}

/** One side of a System V conversation, with credit-based flow control per direction. */
class SysvLink implements Link {
  private events: LinkEvents | undefined
  private held: Buffer[] = []
  paused = false
  private ended = false
  private released = false
  /** Data bytes sent and not yet credited by the peer. */
  private inFlight = 0
  /** Data bytes passed on to core and not yet credited back to the peer. */
  private consumed = 0
  private wantDrain = false
  /** The peer said CLOSED: it read everything it will read. */
  peerClosed = false
  /** `close()` was called here (rather than the end coming from the peer or an error). */
  private closingLocally = false

  constructor(
    readonly maxUnit: number,
    readonly peer: PeerInfo,
    private readonly out: (units: Uint8Array[], drain: () => void) => boolean,
    private readonly hooks: { busy(): boolean; release(peerDone: boolean): Promise<void> | void },
  ) {}

  /** A unit from the peer: data (to core, or held while paused) or credit. */
  deliver(unit: Buffer): void {
    if (unit.length === 0) return
    if (unit[0] === KIND_CREDIT) {
      if (unit.length === 5) this.credit(unit.readUInt32LE(1))
      return
    }
    if (unit[0] === KIND_CLOSED) {
      this.peerClosed = true
      this.paused = false
      this.flushHeld()
      this.end({ reason: 'peer' })
      return
    }
    const bytes = unit.subarray(1)
    if (this.paused || this.events === undefined) this.held.push(bytes)
    else this.pass(bytes)
  }

  private pass(bytes: Buffer): void {
    this.events!.data(bytes)
    this.consumed += bytes.length
    if (this.consumed >= WINDOW / 4) {
      const grant = Buffer.alloc(5)
      grant[0] = KIND_CREDIT
      grant.writeUInt32LE(this.consumed, 1)
      this.consumed = 0
      this.out([grant], () => {})
    }
  }

  private credit(bytes: number): void {
    this.inFlight = Math.max(0, this.inFlight - bytes)
    this.maybeDrain()
  }

  private maybeDrain(): void {
    if (this.wantDrain && this.inFlight < WINDOW && !this.hooks.busy()) {
      this.wantDrain = false
      this.events?.drain()
    }
  }

  private flushHeld(): void {
    while (this.held.length > 0 && !this.paused && this.events !== undefined) this.pass(this.held.shift()!)
  }

  start(events: LinkEvents): void {
    this.events = events
    this.flushHeld()
  }

  write(chunks: Uint8Array[]): boolean {
    const units = chunks.map((c) => {
      const u = Buffer.allocUnsafe(1 + c.length)
      u[0] = KIND_DATA
      u.set(c, 1)
      this.inFlight += c.length
      return u
    })
    const queued = this.out(units, () => this.maybeDrain())
    if (queued && this.inFlight < WINDOW) return true
    this.wantDrain = true
    return false
  }

  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
    this.flushHeld()
  }

  peerExited(): void {
    // let the receive thread hand over what the peer sent before it died
    setTimeout(() => {
      this.paused = false
      this.flushHeld()
      this.end({ reason: 'peer-exited' })
    }, EXIT_GRACE_MS).unref()
  }

  end(info: LinkEnd): void {
    if (this.ended) return
    this.ended = true
    const ev = this.events
    this.events = undefined
    ev?.end(info)
  }

  close(): Promise<void> {
    this.events = undefined
    this.closingLocally = true
    if (!this.hooks.busy()) return this.destroy()
    return new Promise((done) => {
      this.out([], () => void this.destroy().then(done))
    })
  }

  /** Releases this side; resolves once its kernel objects are gone (a queue may wait for its readers). */
  destroy(): Promise<void> {
    this.ended = true
    this.events = undefined
    if (this.released) return Promise.resolve()
    this.released = true
    this.out([CLOSED_UNIT], () => {}) // the peer's end of stream
    // an end that came from the peer (its GOODBYE or CLOSED) means it reads nothing more from us
    return Promise.resolve(this.hooks.release(this.peerClosed || !this.closingLocally))
  }
}

function watchPeer(pid: number, onExit: () => void): { close(): void } {
  try {
    return new native.PidWatcher(pid, onExit)
  } catch {
    queueMicrotask(onExit)
    return { close() {} }
  }
}

/** `mq+sysv:` listen. */
export async function listenSysv<Out, In>(address: Address, options: ListenOptions<In> & { backlog?: number | string }): Promise<Listener<Out, In>> {
  const path = keyPath(address)
  const label = `listen ${address.text}`
  const transportOptions = resolveTransportOptions(options)
  const unit = unitBytes()
  const K = native.sysvConstants
  // the key file names the owner: a live one keeps the address, a dead one's queue is reclaimed
  const owner = keyFileOwner(path)
  if (owner !== undefined && owner !== process.pid && processAlive(owner)) throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: pid ${owner} listens here`)
  let createdKeyFile = false
  try {
    const fd = openSync(path, 'wx', 0o600)
    closeSync(fd)
    createdKeyFile = true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fromErrno(err, label)
    const st = lstatSync(path)
    if (!st.isFile() || st.uid !== process.getuid!()) throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: ${path} is not a key file of this user`)
  }
  let msqid: number
  try {
    const key = native.ftokKey(path, PROJ_ID)
    try {
      msqid = native.msgGet(key, K.IPC_CREAT | K.IPC_EXCL | 0o600)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const old = native.msgGet(key, 0)
      const st = native.msgStat(old)
      const header = native.msgReceiveNow(old, MTYPE_HEADER, 64)
      const ours = st.cuid === process.getuid!() && header !== null && header.toString('latin1').startsWith(MAGIC)
      if (!ours) {
        if (header) native.msgSend(old, MTYPE_HEADER, header)
        throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: the queue for ${path} is not one of ours`)
      }
      native.msgRemove(old) // its owner (named by the key file) is dead
      msqid = native.msgGet(key, K.IPC_CREAT | K.IPC_EXCL | 0o600)
    }
  } catch (err) {
    if (createdKeyFile) unlinkSync(path)
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
      const msgmni = readNumber('/proc/sys/kernel/msgmni', 32000)
      throw new IpcError('ERR_IPC_SYSTEM', `${label}: the system's System V queue count limit is reached (kernel.msgmni = ${msgmni}); raise it with sysctl -w kernel.msgmni=N or remove unused queues (ipcs -q, ipcrm -q)`, {
        cause: err,
        details: { limit: 'kernel.msgmni', value: msgmni },
      })
    }
    throw fromErrno(err, label)
  }
  const id = msqid
  native.msgSend(id, MTYPE_HEADER, Buffer.from(`${MAGIC} ${process.pid}`, 'latin1'))
  const keyFd = openSync(path, 'w', 0o600)
  writeSync(keyFd, `${MAGIC} ${process.pid}\n`)
  closeSync(keyFd)

  const connections = new Map<number, { link: SysvLink; mtype: number }>()
  const mtypes = new Set<number>()
  let nextTag = 1
  let listenerClosed = false
  let shut = false
  /** Tags whose peer has not yet said CLOSED (it may still be reading what we sent). */
  const closing = new Map<number, { close(): void }>()
  const outlet = new Outlet(id, () => void control.listener.close())

  const hello = (body: Buffer): void => {
    const parts = body.toString('latin1').split(' ')
    if (parts.length !== 3 || parts[0] !== MAGIC) return
    const pid = Number(parts[1])
    const mtype = Number(parts[2])
    if (!Number.isSafeInteger(pid) || pid <= 0 || !Number.isSafeInteger(mtype) || mtype < 0x1000000 || mtype > 0x7fffffff || mtypes.has(mtype)) return
    if (!processAlive(pid)) return
    const tag = nextTag++
    const ack = Buffer.alloc(12)
    ack.writeUInt32LE(ACK_MAGIC, 0)
    ack.writeUInt32LE(tag, 4)
    ack.writeUInt32LE(process.pid, 8)
    outlet.send(mtype, [ack], () => {})
    const link: SysvLink = new SysvLink(unit - TAG_BYTES - 1, { pid }, (units, drain) => outlet.send(mtype, units, drain), {
      busy: () => outlet.busy,
      release: (peerDone) => {
        connections.delete(tag)
        mtypes.delete(mtype)
        if (peerDone || exited) peer.close()
        else closing.set(tag, peer) // the queue must outlive what the peer still has to read
        if (listenerClosed) maybeShutdown()
        return listenerClosed && connections.size === 0 ? removed : undefined
      },
    })
    let exited = false
    const peer = watchPeer(pid, () => {
      exited = true
      link.peerExited()
      if (closing.delete(tag) && listenerClosed) maybeShutdown()
    })
    connections.set(tag, { link, mtype })
    mtypes.add(mtype)
    control.offer(createTransport<Out, In>(link, transportOptions))
  }

  const receiver = new native.SysvReceiver(id, MTYPE_SERVER, unit, (error, batch) => {
    if (error) return void control.listener.close() // the queue went away (EIDRM) or cannot be read
    records(batch!, (rec) => {
      if (rec.length < TAG_BYTES) return
      const tag = rec.readUInt32LE(0)
      const body = rec.subarray(TAG_BYTES)
      if (tag === 0) {
        if (!listenerClosed) hello(body)
      } else {
        const conn = connections.get(tag)
        if (conn) conn.link.deliver(body)
        else if (body[0] === KIND_CLOSED && closing.has(tag)) {
          closing.get(tag)!.close()
          closing.delete(tag)
          if (listenerClosed) maybeShutdown()
        }
      }
    })
  })

  let markRemoved!: () => void
  /** Resolves when the queue is removed. */
  const removed = new Promise<void>((r) => (markRemoved = r))
  let fallback: NodeJS.Timeout | undefined
  const maybeShutdown = (): void => {
    if (connections.size > 0) return
    if (closing.size === 0) return shutdown()
    // peers still reading; a bound in case one never says CLOSED
    fallback ??= setTimeout(shutdown, 10_000).unref()
  }
  const shutdown = (): void => {
    if (fallback) clearTimeout(fallback)
    for (const p of closing.values()) p.close()
    closing.clear()
    if (shut) return
    shut = true
    receiver.close()
    outlet.close()
    try {
      native.msgRemove(id)
    } catch {
      // gone already
    }
    if (keyFileOwner(path) === process.pid) unlinkSync(path)
    markRemoved()
  }

  const control = createListener<Out, In>(
    {
      address: address.text,
      async close() {
        listenerClosed = true
        maybeShutdown()
        if (connections.size === 0) await removed
      },
    },
    Number(options.backlog ?? 128),
  )
  return control.listener
}

/** `mq+sysv:` connect. */
export async function connectSysv<Out, In>(address: Address, options: ConnectOptions<In>): Promise<Transport<Out, In>> {
  const path = keyPath(address)
  const label = `connect ${address.text}`
  const owner = keyFileOwner(path)
  if (owner === undefined || !processAlive(owner)) throw new IpcError('ERR_IPC_NO_LISTENER', `${label}: no live listener owns ${path}`)
  let id: number
  try {
    id = native.msgGet(native.ftokKey(path, PROJ_ID), 0)
  } catch (err) {
    throw fromErrno(err, label)
  }
  const st = native.msgStat(id)
  if (st.cuid !== process.getuid!() || (st.mode & 0o077) !== 0) throw new IpcError('ERR_IPC_PERMISSION', `${label}: the queue is not an owner-only queue of this user`)
  const unit = unitBytes()
  const mtype = randomInt(0x1000000, 0x7fffffff)
  let link: SysvLink | undefined
  let tag = 0
  let serverPid = 0
  const early: Buffer[] = []
  let acked: ((ack: Buffer) => void) | undefined
  const ackReceived = new Promise<Buffer>((r) => (acked = r))
  const receiver = new native.SysvReceiver(id, mtype, unit, (error, batch) => {
    if (error) return link?.end((error as NodeJS.ErrnoException).code === 'EIDRM' ? { reason: 'peer' } : { reason: 'error', error }) // EIDRM: the listener removed the queue
    records(batch!, (rec) => {
      if (acked) {
        const a = acked
        acked = undefined
        a(Buffer.from(rec))
      } else if (link) link.deliver(rec)
      else early.push(rec)
    })
  })
  const outlet = new Outlet(id, (err) => link?.end({ reason: 'error', error: err }))
  try {
    outlet.send(MTYPE_SERVER, [tagged(0, Buffer.from(`${MAGIC} ${process.pid} ${mtype}`, 'latin1'))], () => {})
    const ack = await withWait(ackReceived, options, label)
    if (ack.length !== 12 || ack.readUInt32LE(0) !== ACK_MAGIC) throw new IpcError('ERR_IPC_DECODE', `${label}: the listener's ack is malformed`)
    tag = ack.readUInt32LE(4)
    serverPid = ack.readUInt32LE(8)
  } catch (err) {
    receiver.close()
    outlet.close()
    throw fromErrno(err, label)
  }
  const sysvLink: SysvLink = new SysvLink(unit - TAG_BYTES - 1, { pid: serverPid }, (units, drain) => outlet.send(MTYPE_SERVER, units.map((u) => tagged(tag, u)), drain), {
    busy: () => outlet.busy,
    release: () => {
      receiver.close()
      outlet.close()
      peer.close()
    },
  })
  link = sysvLink
  for (const rec of early.splice(0)) sysvLink.deliver(rec)
  const peer = watchPeer(serverPid, () => sysvLink.peerExited())
  return createTransport<Out, In>(sysvLink, options)
}
