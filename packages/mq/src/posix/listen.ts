import { fstatSync } from 'node:fs'
import type { Listener } from '@ipc/core'
import {
  type Address,
  type ListenerControl,
  type MarkWatch,
  assertOwnerOnly,
  createListener,
  createTransport,
  debug,
  fromErrno,
  resolveTransportOptions,
  noteRendezvous,
} from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { HelloGate } from '../hello-gate.js'
import { tagAllocator } from '../tagging.js'
import { ownMark, watchPeer } from '../marks.js'
import { MqLink } from './link.js'
import { TaggedReader, UnitSender } from './queue-io.js'
import {
  MQ,
  type MqOptions,
  claimServerQueue,
  closeQueue,
  listenerShape,
  openExisting,
  reclaimReplyQueues,
  replyNamePattern,
  serverName,
  unlinkQueue,
} from './rendezvous.js'
import { HELLO_TAG, type Hello, MIN_MSGSIZE, PRIORITIES, TAG_BYTES, decodeHello, encodeAck, replyQueueName } from './wire.js'

/**
 * Hellos read while the backlog is full wait here (not accepted, nothing opened for them) until
 * `accept()` makes room; past this many, further hellos are refused. They cannot wait in the
 * kernel: the server queue also carries the data of accepted connections, so it is always read.
 */

/** What the listener keeps per accepted connection. */
interface Connection {
  link: MqLink
}

/**
 * `mq:` listen: the server queue (created owner-only, its lock held as the listener's owner mark)
 * read on the event loop; every hello that checks out becomes a connection.
 */
export async function listenMq<Out, In>(address: Address, options: MqOptions<In>): Promise<Listener<Out, In>> {
  const name = serverName(address)
  const label = `listen ${address.text}`
  const transportOptions = resolveTransportOptions(options)
  let fd: number
  try {
    fd = await claimServerQueue(name, listenerShape(options), label)
  } catch (err) {
    throw fromErrno(err, label)
  }
  const note = noteRendezvous('mq', address.text, name)
  const replyPattern = replyNamePattern(name)
  reclaimReplyQueues(name, replyPattern)
  const attr = native.mqGetattr(fd)
  const connections = new Map<number, Connection>()
  const takeTag = tagAllocator(connections)
  let listenerClosed = false
  let shut = false

  /** The server queue carries every accepted connection's data: it stays open until the last one ends. */
  const shutdown = (): void => {
    if (shut) return
    shut = true
    reader.close()
    closeQueue(fd)
  }

  const reader = new TaggedReader(fd, attr.msgsize, attr.maxmsg, {
    unit(tag, body, priority) {
      if (tag === HELLO_TAG) return onHello(body)
      const conn = connections.get(tag)
      if (conn) conn.link.inbox.deliver(body, priority)
      else debug('%s: dropped a %d-byte unit for connection %d (it has ended)', label, body.length, tag)
    },
    junk(bytes) {
      control.reject(`a ${bytes}-byte message without a tag`)
    },
    error(err) {
      debug('%s: reading %s failed, closing: %s', label, name, err.message)
      for (const c of [...connections.values()]) c.link.fail(err)
      void control.listener.close()
    },
    heldBytes() {
      let n = 0
      for (const c of connections.values()) n += c.link.inbox.bytes
      return n
    },
  })

  const onHello = (body: Buffer): void => gate.offer(body)

  /**
   * Checks a hello (its reply queue: name, owner, mode, size; the client's mark: watchable and
   * alive), sends the ack and offers the connection. Anything that does not check out is refused
   * (counted, and logged with `NODE_DEBUG=ipc`), and nothing is written to a queue that failed.
   */
  const acceptHello = (hello: Hello): void => {
    const reply = replyQueueName(name, hello.mark.pid, hello.random)
    const who = `hello of pid ${hello.mark.pid} (${reply})`
    let replyFd: number | undefined
    let watch: MarkWatch | undefined
    try {
      if (!replyPattern.test(reply)) throw new Error('the reply queue name is not one of this address')
      replyFd = openExisting(reply, MQ.O_WRONLY)
      assertOwnerOnly(fstatSync(replyFd), `the reply queue ${reply}`)
      const replyAttr = native.mqGetattr(replyFd)
      if (replyAttr.msgsize < MIN_MSGSIZE) throw new Error(`the reply queue's messages are smaller than ${MIN_MSGSIZE} bytes`)
      let link: MqLink | undefined
      let clientGone = false
      watch = watchPeer(
        hello.mark,
        () => {
          clientGone = true
          link?.peerExited()
        },
        who,
      )
      if (watch === undefined) throw new Error('the client is gone (its liveness mark has ended)')
      const peer = watch
      const out = replyFd
      const tag = takeTag()
      const sender = new UnitSender(out, hello.clientTag, (err) => link?.fail(err))
      link = new MqLink(Math.min(replyAttr.msgsize, attr.msgsize) - TAG_BYTES, { pid: hello.mark.pid }, sender, {
        drainIncoming: () => reader.drain(),
        setReading: () => reader.update(),
        release() {
          connections.delete(tag)
          peer.close()
          if (clientGone) removeDeadReply(reply, out)
          closeQueue(out)
          if (listenerClosed && connections.size === 0) shutdown()
          else reader.update()
        },
      })
      connections.set(tag, { link })
      replyFd = undefined
      watch = undefined
      // the ack is the first unit of this client tag, at the top priority: nothing of this connection overtakes it
      sender.send([encodeAck({ tag, mark: ownMark() })], PRIORITIES - 1, () => {})
      control.offer(createTransport<Out, In>(link, transportOptions))
    } catch (err) {
      control.reject(`${who}: ${(err as Error)?.message ?? String(err)}`)
      watch?.close()
      closeQueue(replyFd)
    }
  }

  const control: ListenerControl<Out, In> = createListener<Out, In>(
    {
      address: address.text,
      async close() {
        listenerClosed = true
        gate.close()
        unlinkQueue(name) // no new client finds it; accepted connections go on over the open queue
        note.remove()
        if (connections.size === 0) shutdown()
      },
    },
    options.backlog,
  )
  const gate = new HelloGate<Hello>(control, decodeHello, acceptHello)
  reader.update()
  return control.listener
}

/**
 * A client environment that ended cannot remove its reply queue's name: the listener that saw its
 * mark end does, if the name still refers to the queue it wrote to. (Its lock may still look held
 * for a moment — a dying process releases its descriptors in no particular order — but the queue
 * belongs to the environment whose mark has ended, so nobody will read it again.)
 */
function removeDeadReply(name: string, fd: number): void {
  let probe: number | undefined
  try {
    probe = openExisting(name, MQ.O_RDONLY)
    if (fstatSync(probe).ino === fstatSync(fd).ino) unlinkQueue(name)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') debug('mq: cannot remove the dead client queue %s: %s', name, (err as Error).message)
  } finally {
    closeQueue(probe)
  }
}
