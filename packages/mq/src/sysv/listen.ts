import { IpcError, type Listener, type ListenOptions } from '@ipc/core'
import {
  type Address,
  type ListenerControl,
  type MarkWatch,
  createListener,
  createTransport,
  debug,
  fromErrno,
  isOwnerOnly,
  quietly,
  resolveTransportOptions,
  noteRendezvous,
} from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { HelloGate } from '../hello-gate.js'
import { tagAllocator } from '../tagging.js'
import { sysvCreationError, sysvUnitBytes } from '../limits.js'
import { ownMark, watchPeer } from '../marks.js'
import { type KeyFileClaim, claimKeyFile, keyPath, queueKey, releaseKeyFile } from './keyfile.js'
import { SysvLink } from './link.js'
import { SysvSendQueue } from './send-queue.js'
import { HEADER, HELLO_TAG, type Hello, MTYPE_HEADER, MTYPE_SERVER, TAG_BYTES, decodeHello, encodeAck, forEachRecord, isHeader, untag } from './wire.js'

/** Options of `listen()` for `mq+sysv:` addresses. */
export interface SysvListenOptions<In = unknown> extends ListenOptions<In> {
  /**
   * Connections waiting for `accept()`; past it, hellos wait (clients wait within their timeout).
   * @defaultValue `511`
   */
  backlog?: number
}

const SYSV = native.sysvConstants

/** What the listener keeps per connection, until the client is done with the queue. */
interface Connection {
  link: SysvLink
  mtype: number
  watch: MarkWatch
  /** `true` once this side's link is released (the entry then only waits for the client to be done). */
  released: boolean
}

/**
 * Creates the address's queue (owner-only, exclusively). An existing one is removed and made anew
 * if it is ours — our creator uid and our header — since we hold the key file's lock, so its
 * listener is gone; anything else is `ERR_IPC_ADDRESS_IN_USE` and left as it is.
 */
function createQueue(path: string, label: string): number {
  const key = queueKey(path)
  try {
    return native.msgGet(key, SYSV.IPC_CREAT | SYSV.IPC_EXCL | 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw sysvCreationError(err, label)
  }
  removeOldQueue(native.msgGet(key, 0), path, label)
  try {
    return native.msgGet(key, SYSV.IPC_CREAT | SYSV.IPC_EXCL | 0o600)
  } catch (err) {
    throw sysvCreationError(err, label)
  }
}

/**
 * Removes the queue `id` of the key file `path`, whose lock the caller holds (so its listener is
 * gone), if it is ours — our creator uid, owner-only, our header; otherwise `ERR_IPC_ADDRESS_IN_USE`
 * and it is left as it is.
 */
export function removeOldQueue(id: number, path: string, label: string): void {
  const st = native.msgStat(id)
  const header = st.cuid === process.getuid!() ? native.msgReceiveNow(id, MTYPE_HEADER, 64) : null
  if (!isOwnerOnly({ uid: st.cuid, mode: st.mode }) || !isHeader(header)) {
    if (header !== null) native.msgSend(id, MTYPE_HEADER, header) // put back what we took
    throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: the queue of ${path} (msqid ${id}) is not one of ours`)
  }
  debug('%s: reclaiming msqid %d of %s (its listener is gone)', label, id, path)
  native.msgRemove(id)
}

/**
 * `mq+sysv:` listen: the key file (locked: the listener's owner mark) and its queue; one receive
 * thread on mtype 2 takes every hello and every connection's units.
 */
export async function listenSysv<Out, In>(address: Address, options: SysvListenOptions<In>): Promise<Listener<Out, In>> {
  const path = keyPath(address)
  const label = `listen ${address.text}`
  const transportOptions = resolveTransportOptions(options)
  const unit = sysvUnitBytes()
  let claim: KeyFileClaim
  let id: number
  try {
    claim = await claimKeyFile(path, label)
  } catch (err) {
    throw fromErrno(err, label)
  }
  try {
    id = createQueue(path, label)
    native.msgSend(id, MTYPE_HEADER, HEADER)
  } catch (err) {
    releaseKeyFile(claim, path)
    throw fromErrno(err, label)
  }
  const note = noteRendezvous('mq+sysv', address.text, path, { onDisk: true })

  const connections = new Map<number, Connection>()
  const takeTag = tagAllocator(connections)
  let listenerClosed = false
  let shut = false
  let markRemoved!: () => void
  /** Resolves when the queue is removed. */
  const removed = new Promise<void>((r) => (markRemoved = r))
  let bound: NodeJS.Timeout | undefined
  /** The queue cannot be used any more (removed by someone else: EIDRM, or failing): every connection ends, the listener closes. */
  const broken = (err: Error, what: string): void => {
    debug('%s: %s on msqid %d failed, closing: %s', label, what, id, err.message)
    const removedElsewhere = (err as NodeJS.ErrnoException).code === 'EIDRM'
    for (const c of [...connections.values()]) {
      if (removedElsewhere) c.link.queueGone()
      else c.link.fail(err)
    }
    void control.listener.close()
    shutdown()
  }
  const sendQueue = new SysvSendQueue(id, (err) => broken(err, 'sending'))

  /** Removes the queue once the listener is closed and every client is done with it (or the wait is over). */
  const maybeShutdown = (): void => {
    if (!listenerClosed || shut) return
    for (const c of connections.values()) if (!c.released) return // an accepted connection still uses the queue
    if (connections.size === 0) {
      shutdown()
      return
    }
    // released connections whose client still reads what we sent: wait for them, within a bound
    bound ??= setTimeout(() => {
      debug('%s: %d client(s) did not finish within %d ms; removing the queue anyway', label, connections.size, transportOptions.closeTimeout)
      shutdown()
    }, transportOptions.closeTimeout)
  }

  const shutdown = (): void => {
    if (shut) return
    shut = true
    if (bound) clearTimeout(bound)
    for (const c of connections.values()) c.watch.close()
    connections.clear()
    receiver.close()
    sendQueue.close()
    quietly(`remove msqid ${id}`, () => native.msgRemove(id))
    releaseKeyFile(claim, path)
    note.remove()
    markRemoved()
  }

  /** The client of `tag` is done with the queue (its closed unit came, or its owner ended). */
  const clientDone = (tag: number): void => {
    const c = connections.get(tag)
    if (c === undefined || !c.released) return
    connections.delete(tag)
    c.watch.close()
    maybeShutdown()
  }

  const onHello = (body: Buffer): void => gate.offer(body)

  /** Checks a hello (a free mtype, a watchable live mark), sends the ack and offers the connection; refuses it otherwise. */
  const acceptHello = (hello: Hello): void => {
    const who = `hello of pid ${hello.mark.pid} (mtype ${hello.mtype})`
    try {
      for (const c of connections.values()) if (c.mtype === hello.mtype) throw new Error('another connection receives on that mtype')
      const tag = takeTag()
      let link: SysvLink | undefined
      const watch = watchPeer(
        hello.mark,
        () => {
          link?.peerExited()
          clientDone(tag)
        },
        who,
      )
      if (watch === undefined) throw new Error('the client is gone (its liveness mark has ended)')
      const mtype = hello.mtype
      link = new SysvLink(
        unit - TAG_BYTES - 1,
        { pid: hello.mark.pid },
        {
          send: (units, drain) => sendQueue.send(mtype, units, drain),
          busy: () => sendQueue.busy,
          whenDrained: (done) => sendQueue.whenDrained(done),
          release: (flushed) => {
            const c = connections.get(tag)
            if (c === undefined) return
            c.released = true
            // after a graceful close the client still reads what was flushed: keep the queue until it says it is done
            if (flushed) void c.link.peerDone.then(() => clientDone(tag))
            else clientDone(tag)
            maybeShutdown()
            if (listenerClosed) return removed
          },
        },
      )
      connections.set(tag, { link, mtype, watch, released: false })
      sendQueue.send(mtype, [encodeAck({ tag, mark: ownMark() })], () => {})
      control.offer(createTransport<Out, In>(link, transportOptions))
    } catch (err) {
      control.reject(`${who}: ${(err as Error)?.message ?? String(err)}`)
    }
  }

  const receiver = new native.SysvReceiver(id, MTYPE_SERVER, unit, (error, batch) => {
    if (error) {
      broken(error, 'receiving')
      return
    }
    forEachRecord(batch!, (message) => {
      const m = untag(message)
      if (m === undefined) return control.reject(`a ${message.length}-byte message without a tag`)
      if (m.tag === HELLO_TAG) return onHello(m.body)
      const c = connections.get(m.tag)
      if (c) c.link.deliver(m.body)
      else debug('%s: dropped a %d-byte unit for connection %d (it has ended)', label, m.body.length, m.tag)
    })
  })

  const control: ListenerControl<Out, In> = createListener<Out, In>(
    {
      address: address.text,
      async close() {
        listenerClosed = true
        gate.close()
        maybeShutdown()
        let active = false
        for (const c of connections.values()) if (!c.released) active = true
        if (!active) await removed
      },
    },
    options.backlog,
  )
  const gate = new HelloGate<Hello>(control, decodeHello, acceptHello)
  return control.listener
}
