import { IpcError, type ConnectOptions, type Transport } from '@ipc/core'
import { type Address, createTransport, fromErrno, withWait } from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { ownMark, watchPeer } from '../marks.js'
import { MqLink } from './link.js'
import { UnitSender } from './queue-io.js'
import { ReplyQueue } from './reply-queue.js'
import { MQ, type MqOptions, closeQueue, listenerHolds, openExisting, replyShape, serverName } from './rendezvous.js'
import { HELLO_TAG, TAG_BYTES, decodeAck, encodeHello } from './wire.js'

/** Sends one hello unit on the server queue, waiting (within `options`) for room if it is full. */
async function sendHello(serverFd: number, hello: Buffer, options: ConnectOptions<any>, label: string): Promise<void> {
  let sender: UnitSender | undefined
  const sent = new Promise<void>((resolve, reject) => {
    sender = new UnitSender(serverFd, HELLO_TAG, reject)
    if (sender.send([hello], 0, resolve)) resolve()
  })
  try {
    await withWait(sent, options, label)
  } finally {
    sender?.close()
  }
}

/**
 * `mq:` connect: check that a live listener holds the server queue, join the reply queue of this
 * environment's handshakes with it under way (or make one), announce the connection with a hello
 * (our mark, the reply queue, our client tag) on the server queue, and read the ack (our
 * connection tag, the listener's mark). Each side then watches the other's mark.
 */
export async function connectMq<Out, In>(address: Address, options: MqOptions<In> & ConnectOptions<In>): Promise<Transport<Out, In>> {
  const name = serverName(address)
  const label = `connect ${address.text}`
  let serverFd: number | undefined
  let reply: ReplyQueue | undefined
  let clientTag: number | undefined
  try {
    serverFd = openExisting(name, MQ.O_WRONLY)
    // a server queue whose lock nobody holds is a dead listener's
    if (!listenerHolds(name)) throw new IpcError('ERR_IPC_NO_LISTENER', `${label}: no live listener holds ${name}`)
    const serverAttr = native.mqGetattr(serverFd)
    reply = ReplyQueue.for(name, replyShape(options, serverAttr), label)
    const added = reply.add()
    clientTag = added.clientTag
    await sendHello(serverFd, encodeHello({ mark: ownMark(), random: reply.random, clientTag }), options, label)
    const ack = decodeAck(await withWait(added.ack, options, label))
    if (ack === undefined) throw new IpcError('ERR_IPC_DECODE', `${label}: the listener's ack is malformed`)
    const fd = serverFd
    const queue = reply
    const tag = clientTag
    const sender = new UnitSender(fd, ack.tag, (err) => link.fail(err))
    const link: MqLink = new MqLink(Math.min(serverAttr.msgsize, queue.msgsize) - TAG_BYTES, { pid: ack.mark.pid }, sender, {
      drainIncoming: () => queue.drain(),
      setReading: () => queue.update(),
      release() {
        peer?.close()
        queue.remove(tag)
        closeQueue(fd)
      },
    })
    const peer = watchPeer(ack.mark, () => link.peerExited(), label)
    if (peer === undefined) {
      link.destroy() // removes its route and closes the server queue descriptor
      serverFd = undefined
      clientTag = undefined
      throw new IpcError('ERR_IPC_NO_LISTENER', `${label}: the listener ended during the handshake`)
    }
    queue.attach(tag, link)
    queue.handshakeDone()
    return createTransport<Out, In>(link, options)
  } catch (err) {
    if (reply !== undefined) {
      if (clientTag !== undefined) reply.remove(clientTag)
      reply.handshakeDone()
    }
    closeQueue(serverFd)
    throw fromErrno(err, label)
  }
}
