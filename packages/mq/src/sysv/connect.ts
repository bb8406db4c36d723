import { randomInt } from 'node:crypto'
import { IpcError, type ConnectOptions, type Transport } from '@ipc/core'
import { type Address, type MarkWatch, assertOwnerOnly, createTransport, debug, fromErrno, resolveTransportOptions, withWait } from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { sysvUnitBytes } from '../limits.js'
import { ownMark, watchPeer } from '../marks.js'
import { assertListenerHolds, keyPath, queueKey } from './keyfile.js'
import { SysvLink } from './link.js'
import { SysvSendQueue } from './send-queue.js'
import {
  type Ack,
  CLOSED_UNIT,
  HELLO_TAG,
  KIND_CLOSED,
  MAX_CLIENT_MTYPE,
  MIN_CLIENT_MTYPE,
  MTYPE_SERVER,
  TAG_BYTES,
  decodeAck,
  encodeHello,
  forEachRecord,
  tagged,
} from './wire.js'

/** The longest a client whose connect gave up keeps reading, to answer a late ack with its closed unit. */
const ABANDON_GRACE_MS = 2000

/** Resolves when `promise` does or `ms` have passed, whichever is first (the timer is cleared either way). */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    void promise.then(() => {
      clearTimeout(timer)
      resolve()
    })
  })
}

/**
 * `mq+sysv:` connect: a live listener must hold the key file's lock; our receive thread waits on a
 * random mtype; the hello (our mark, our mtype) goes to mtype 2 and the ack (our tag, the
 * listener's mark) comes back on ours. The receiver lives until the listener has said it sends
 * nothing more (its closed unit), so nothing is ever left for a receiver that has gone.
 */
export async function connectSysv<Out, In>(address: Address, options: ConnectOptions<In>): Promise<Transport<Out, In>> {
  const path = keyPath(address)
  const label = `connect ${address.text}`
  const { closeTimeout } = resolveTransportOptions(options)
  assertListenerHolds(path, label)
  let id: number
  try {
    id = native.msgGet(queueKey(path), 0)
    const st = native.msgStat(id)
    assertOwnerOnly({ uid: st.cuid, mode: st.mode }, `${label}: the queue of ${path}`)
  } catch (err) {
    throw fromErrno(err, label)
  }
  const msqid = id
  const unit = sysvUnitBytes()
  const mtype = randomInt(MIN_CLIENT_MTYPE, MAX_CLIENT_MTYPE + 1)
  let link: SysvLink | undefined
  /** Set until the first record (the ack) arrives. */
  let onAck: ((ack: Buffer) => void) | undefined
  let onFailure: ((err: Error) => void) | undefined
  /** Set while an abandoned handshake waits for a late ack or the listener's closed unit. */
  let abandoned: ((record: Buffer | undefined) => void) | undefined
  const early: Buffer[] = []
  const ackReceived = new Promise<Buffer>((resolve, reject) => {
    onAck = resolve
    onFailure = reject
  })
  let receiverOpen = true
  const receiver = new native.SysvReceiver(msqid, mtype, unit, (error, batch) => {
    if (error) {
      if (link) return (error as NodeJS.ErrnoException).code === 'EIDRM' ? link.queueGone() : link.fail(error)
      if (abandoned) return abandoned(undefined)
      return onFailure?.(fromErrno(error, label))
    }
    forEachRecord(batch!, (record) => {
      if (onAck) {
        const took = onAck
        onAck = undefined
        took(record)
      } else if (link) link.deliver(record)
      else if (abandoned) abandoned(record)
      else early.push(record)
    })
  })
  const sendQueue = new SysvSendQueue(msqid, (err) => (link ? link.fail(err) : onFailure?.(err)))
  /** Closes the receiver (the addon takes back its wake-up message if the thread had already left `msgrcv`). */
  const closeReceiver = (): void => {
    if (!receiverOpen) return
    receiverOpen = false
    receiver.close()
  }

  let ack: Ack | undefined
  try {
    sendQueue.send(MTYPE_SERVER, [tagged(HELLO_TAG, encodeHello({ mark: ownMark(), mtype }))], () => {})
    ack = decodeAck(await withWait(ackReceived, options, label))
    if (ack === undefined) throw new IpcError('ERR_IPC_DECODE', `${label}: the listener's ack is malformed`)
  } catch (err) {
    abandon()
    throw fromErrno(err, label)
  }

  /**
   * The handshake failed after the hello went out: a late ack may still come (the listener then
   * has a connection for us). Answer it with our closed unit and wait for the listener's, so it
   * ends that connection and nothing is left on our mtype; give up after a bound.
   */
  function abandon(): void {
    onAck = undefined
    let answered = false
    const done = (): void => {
      clearTimeout(timer)
      abandoned = undefined
      sendQueue.whenDrained(() => sendQueue.close())
      closeReceiver()
    }
    const timer = setTimeout(done, Math.min(closeTimeout, ABANDON_GRACE_MS))
    abandoned = (record) => {
      if (record === undefined) return done() // the queue is gone
      if (answered) return record[0] === KIND_CLOSED ? done() : undefined
      const late = decodeAck(record)
      if (late === undefined) return done()
      answered = true
      debug('%s: a late ack (connection %d): answering with our closed unit', label, late.tag)
      sendQueue.send(MTYPE_SERVER, [tagged(late.tag, CLOSED_UNIT)], () => {})
    }
    for (const record of early.splice(0)) abandoned?.(record)
  }

  const tag = ack.tag
  let peer: MarkWatch | undefined
  const sysvLink: SysvLink = new SysvLink(
    unit - TAG_BYTES - 1,
    { pid: ack.mark.pid },
    {
      send: (units, drain) =>
        sendQueue.send(
          MTYPE_SERVER,
          units.map((u) => tagged(tag, u)),
          drain,
        ),
      busy: () => sendQueue.busy,
      whenDrained: (done) => sendQueue.whenDrained(done),
      // keep reading until the listener sends nothing more, and let our closed unit reach the kernel (unless the listener is gone)
      release: async () => {
        const drained = new Promise<void>((r) => sendQueue.whenDrained(r))
        await within(Promise.all([sysvLink.peerDone, Promise.race([drained, sysvLink.peerGone])]), closeTimeout)
        peer?.close()
        sendQueue.close()
        closeReceiver()
      },
    },
  )
  try {
    peer = watchPeer(ack.mark, () => sysvLink.peerExited(), label)
  } catch (err) {
    sysvLink.peerExited() // cannot watch it: treat it as gone, so nothing waits for it
    void sysvLink.destroy()
    throw fromErrno(err, label)
  }
  if (peer === undefined) {
    sysvLink.peerExited()
    void sysvLink.destroy()
    throw new IpcError('ERR_IPC_NO_LISTENER', `${label}: the listener ended during the handshake`)
  }
  link = sysvLink
  for (const record of early.splice(0)) sysvLink.deliver(record)
  return createTransport<Out, In>(sysvLink, options)
}
