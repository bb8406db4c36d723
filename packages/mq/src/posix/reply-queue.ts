/**
 * A client environment's reply queue, shared by the connections whose handshakes overlap (a burst
 * of `connect()` calls makes one queue, not one each) and told apart by the client tag each
 * connection chose in its hello. Sharing is what keeps a burst within RLIMIT_MSGQUEUE and
 * fs.mqueue.queues_max.
 *
 * Listeners open the queue by name for each hello, so the name stays while a handshake is under
 * way and is removed as soon as none is: then nothing is left behind whoever crashes later (the
 * open queue lives on, nameless, until its last connection ends). A connect that comes after that
 * makes a new queue. If this environment dies in the middle of a handshake, a listener that sees
 * its mark end removes the name, and failing that the next `listen()` at the address does (nobody
 * holds the queue's lock any more).
 */
import { randomBytes } from 'node:crypto'
import { FRAME_HEADER_BYTES, GOODBYE, debug, writeFrameHeader } from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import type { QueueShape } from '../limits.js'
import type { MqLink } from './link.js'
import { TaggedReader } from './queue-io.js'
import { MQ, closeQueue, createQueue, openExisting, unlinkQueue } from './rendezvous.js'
import { REPLY_RANDOM_BYTES, decodeAck, replyQueueName } from './wire.js'

/** One connection's place on the reply queue: waiting for its ack, then its link. */
interface Route {
  /** Set until the ack arrives: the first unit of the tag. */
  onAck: ((body: Buffer) => void) | undefined
  /** Fails a handshake still waiting for its ack. */
  onError: (err: Error) => void
  /** Units that came after the ack and before the link. */
  early: [Buffer, number][]
  earlyBytes: number
  link: MqLink | undefined
}

/** The reply queues of this environment that take new connections (their names exist), by server name and shape. */
const open = new Map<string, ReplyQueue>()

const keyOf = (server: string, shape: QueueShape): string => `${server} ${shape.maxmsg}x${shape.msgsize}`

/** A reply queue shared by this environment's connections to one server queue. */
export class ReplyQueue {
  /** The random part of the name (what a hello carries). */
  readonly random: Buffer
  /** The queue's name, `<server>.<pid>.<random>`. */
  readonly name: string
  /** Bytes per message of the queue as created. */
  readonly msgsize: number
  private readonly fd: number
  private readonly reader: TaggedReader
  private readonly routes = new Map<number, Route>()
  private nextTag = 1
  /** Handshakes under way: while there are any, the name stays. */
  private handshakes = 0
  private closed = false

  /** The reply queue for `server` with `shape`: the one in use, or a new one. */
  static for(server: string, shape: QueueShape, what: string): ReplyQueue {
    const key = keyOf(server, shape)
    let q = open.get(key)
    if (q === undefined) {
      q = new ReplyQueue(server, shape, key, what)
      open.set(key, q)
    }
    return q
  }

  private constructor(
    private readonly server: string,
    shape: QueueShape,
    private readonly key: string,
    what: string,
  ) {
    this.random = randomBytes(REPLY_RANDOM_BYTES)
    this.name = replyQueueName(server, process.pid, this.random)
    this.fd = createQueue(this.name, MQ.O_RDONLY, shape, what)
    native.lockExclusive(this.fd) // a fresh queue of a random name: nobody else holds it; the lock says "alive"
    const attr = native.mqGetattr(this.fd)
    this.msgsize = attr.msgsize
    this.reader = new TaggedReader(this.fd, attr.msgsize, attr.maxmsg, {
      unit: (tag, body, priority) => this.onUnit(tag, body, priority),
      junk: (bytes) => debug('%s: dropped a %d-byte message without a tag', this.name, bytes),
      error: (err) => this.fail(err),
      heldBytes: () => {
        let n = 0
        for (const r of this.routes.values()) n += r.earlyBytes + (r.link?.inbox.bytes ?? 0)
        return n
      },
    })
    this.reader.update()
  }

  /** Registers a new connection, whose handshake starts now: its client tag, and a promise of its ack's bytes. */
  add(): { clientTag: number; ack: Promise<Buffer> } {
    this.handshakes++
    let clientTag = this.nextTag
    while (this.routes.has(clientTag) || clientTag === 0) clientTag = (clientTag % 0xffffffff) + 1
    this.nextTag = (clientTag % 0xffffffff) + 1
    let route!: Route
    const ack = new Promise<Buffer>((resolve, reject) => {
      route = {
        onAck: (body) => {
          route.onAck = undefined
          resolve(Buffer.from(body))
        },
        onError: reject,
        early: [],
        earlyBytes: 0,
        link: undefined,
      }
    })
    this.routes.set(clientTag, route)
    return { clientTag, ack }
  }

  /** The handshake of `clientTag` is done: its units go to `link` from now on. */
  attach(clientTag: number, link: MqLink): void {
    const route = this.routes.get(clientTag)
    if (route === undefined) return
    route.link = link
    for (const [bytes, priority] of route.early.splice(0)) link.inbox.deliver(bytes, priority)
    route.earlyBytes = 0
  }

  /** A handshake is over (it succeeded or failed): once none is under way, the name goes. */
  handshakeDone(): void {
    this.handshakes--
    if (this.handshakes > 0) return
    if (open.get(this.key) === this) open.delete(this.key)
    unlinkQueue(this.name)
    if (this.routes.size === 0) this.close()
  }

  /** The connection of `clientTag` is gone (ended, or its handshake failed); the queue closes with its last one. */
  remove(clientTag: number): void {
    this.routes.delete(clientTag)
    if (this.routes.size === 0 && this.handshakes === 0) this.close()
    else this.reader.update()
  }

  /** Reads what is queued now (before a connection reports an end). */
  drain(): void {
    this.reader.drain()
  }

  /** Core paused or resumed a connection: read or stop reading accordingly. */
  update(): void {
    this.reader.update()
  }

  private onUnit(tag: number, body: Buffer, priority: number): void {
    const route = this.routes.get(tag)
    if (route === undefined) {
      this.stray(tag, body)
      return
    }
    if (route.onAck) {
      route.onAck(body)
      return
    }
    if (route.link) {
      route.link.inbox.deliver(body, priority)
      return
    }
    route.early.push([body, priority])
    route.earlyBytes += body.length
  }

  /**
   * A unit for no connection of ours: the late ack of a connect that gave up (answered with
   * GOODBYE, so the listener ends that connection at once), or data still in flight to a
   * connection that has closed (dropped).
   */
  private stray(tag: number, body: Buffer): void {
    const ack = decodeAck(body)
    if (ack === undefined) {
      debug('%s: dropped a %d-byte unit for client tag %d (that connection is gone)', this.name, body.length, tag)
      return
    }
    debug('%s: a late ack for client tag %d (its connect gave up): answering GOODBYE', this.name, tag)
    let fd: number | undefined
    try {
      fd = openExisting(this.server, MQ.O_WRONLY)
      const goodbye = new Uint8Array(FRAME_HEADER_BYTES)
      writeFrameHeader(goodbye, 0, GOODBYE)
      if (!native.mqSend(fd, ack.tag, goodbye, 0)) debug('%s: the server queue is full; the listener will see the end when this environment ends', this.name)
    } catch (err) {
      debug('%s: cannot answer a late ack: %s', this.name, (err as Error).message)
    } finally {
      closeQueue(fd)
    }
  }

  private fail(err: Error): void {
    for (const route of [...this.routes.values()]) {
      if (route.onAck) route.onError(err)
      else route.link?.fail(err)
    }
    this.close()
  }

  private close(): void {
    if (this.closed) return
    this.closed = true
    if (open.get(this.key) === this) {
      open.delete(this.key)
      unlinkQueue(this.name)
    }
    this.reader.close()
    closeQueue(this.fd)
  }
}
