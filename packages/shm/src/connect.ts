import { randomBytes } from 'node:crypto'
import { writeSync } from 'node:fs'
import type { ConnectOptions, Transport } from '@ipc/core'
import {
  type Address,
  IpcError,
  type Link,
  closeAllQuietly,
  createTransport,
  fromErrno,
  processBound,
  resolveTransportOptions,
  retryWithBackoff,
  withWait,
} from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { peerFdError, segmentError } from './errors.js'
import type { SegmentFlavour } from './flavour.js'
import { SHM_FLAVOUR } from './ring-flavour.js'
import type { ShmConnectOptions } from './options.js'
import { readRendezvous, rendezvousPath } from './rendezvous.js'
import { Refusal, State, Word, encodeHello, offerWords } from './wire.js'

const { O_WRONLY, O_NONBLOCK } = native.fdConstants

/**
 * `shm:` connect: read the listener's rendezvous file, make this connection's sealed segment and a
 * doorbell, write a hello into the listener's hello pipe (opened through `/proc/<pid>/fd`), and
 * wait for the listener to accept (it maps the segment and names its own doorbell in the header);
 * then open the listener's doorbell and mark the connection established.
 */
export async function connectShm<Out, In>(address: Address, options: ShmConnectOptions<In>): Promise<Transport<Out, In>> {
  return connectSegment(address, options, SHM_FLAVOUR)
}

/** {@link connectShm} for any flavour of segment (`sem:` is another). */
export async function connectSegment<Out, In, O extends ConnectOptions<In> & { spin?: number | string }>(
  address: Address,
  options: O,
  flavour: SegmentFlavour<O>,
): Promise<Transport<Out, In>> {
  const label = `connect ${address.text}`
  const plan = flavour.plan(options)
  const { capacity, size } = plan
  const rendezvous = readRendezvous(rendezvousPath(address, flavour.scheme), label)
  let segmentFd: number | undefined
  let bellRead: number | undefined // the doorbell's ends until the channel (read) or the handshake's end (write) takes them
  let bellWrite: number | undefined
  let channel: InstanceType<typeof native.ShmChannel> | undefined
  let helloFd: number | undefined
  let listenerBell: number | undefined
  let bound: ReturnType<typeof processBound> | undefined
  let linked = false
  try {
    try {
      segmentFd = native.memfdCreate(`ipc-${flavour.scheme}:${address.target.slice(1)}`, size)
    } catch (err) {
      throw segmentError(err, label, size)
    }
    const bell = native.doorbellPipe()
    bellRead = bell.read
    bellWrite = bell.write
    let onWake: (status: number) => void = () => {}
    plan.prepare?.(segmentFd)
    channel = new native.ShmChannel(segmentFd, size, 0, bell.read, (status) => onWake(status), capacity)
    const memfd = segmentFd
    segmentFd = undefined // the channel owns it now, and the doorbell's read end
    bellRead = undefined
    const nonce = randomBytes(8)
    const nonceLow = nonce.readUInt32LE(0)
    const nonceHigh = nonce.readUInt32LE(4)
    for (const [word, value] of plan.words) channel.setWord(word, value) // before the offer's STATE word
    const words = offerWords({ magic: flavour.magic, capacity, pid: process.pid, doorbellFd: bell.read, nonceLow, nonceHigh })
    for (const [word, value] of words) channel.setWord(word, value)
    const ch = channel
    const answered = new Promise<void>((resolve, reject) => {
      onWake = (status) => {
        const state = ch.word(Word.STATE)
        if (state === State.ACCEPTED) resolve()
        else if (state === State.REFUSED) reject(refused(ch.word(Word.REASON), label))
        else if (status <= 0) reject(new IpcError('ERR_IPC_NO_LISTENER', `${label}: the listener went away during the handshake`))
      }
    })
    channel.start()
    bound = processBound(rendezvous.pid, (pid, onExit) => new native.PidWatcher(pid, onExit))
    const listenerGone = new Promise<never>((_, reject) =>
      bound!.watch.onExit(() => reject(new IpcError('ERR_IPC_NO_LISTENER', `${label}: the listener (pid ${rendezvous.pid}) exited`))),
    )
    listenerGone.catch(() => {})
    try {
      helloFd = native.openPeerFd(rendezvous.pid, rendezvous.helloFd, O_WRONLY | O_NONBLOCK)
    } catch (err) {
      throw peerFdError(err, label, rendezvous.pid, 'the hello pipe')
    }
    if (native.fdInfo(helloFd).ino !== rendezvous.helloIno)
      throw new IpcError('ERR_IPC_NO_LISTENER', `${label}: the rendezvous file names a hello pipe that is gone`)
    const hello = encodeHello({ pid: process.pid, segmentFd: memfd, doorbellFd: bell.read, nonceLow, nonceHigh })
    const fd = helloFd
    // below PIPE_BUF: whole or not at all; EAGAIN while the listener is behind and its pipe is full
    await retryWithBackoff(async () => writeSync(fd, hello), {
      what: label,
      signal: options.signal,
      timeout: options.timeout,
      retryable: (err) => (err as NodeJS.ErrnoException).code === 'EAGAIN',
    })
    native.closeFd(helloFd)
    helloFd = undefined
    await withWait(Promise.race([answered, listenerGone]), options, label)
    if (channel.word(Word.LISTENER_PID) !== rendezvous.pid) throw new IpcError('ERR_IPC_DECODE', `${label}: the listener named another pid in the segment`)
    try {
      listenerBell = native.openPeerFd(rendezvous.pid, channel.word(Word.LISTENER_DOORBELL), O_WRONLY | O_NONBLOCK)
    } catch (err) {
      throw peerFdError(err, label, rendezvous.pid, 'its doorbell')
    }
    channel.setPeerDoorbell(listenerBell)
    listenerBell = undefined
    native.closeFd(bell.write) // from now on the doorbell ends when the listener's side of it does
    bellWrite = undefined
    channel.setWord(Word.STATE, State.ESTABLISHED)
    channel.ring()
    const b = bound
    const link = plan.link(channel, memfd, 0, {
      peer: { pid: rendezvous.pid },
      classifyEnd: () => b.classifyEnd!(undefined),
      release: () => b.release?.(),
      spin: options.spin === undefined ? 0 : Number(options.spin),
    }) as Link & { wake(status: number): void }
    linked = true // the link owns the channel now
    onWake = (status) => link.wake(status)
    return createTransport<Out, In>(link, resolveTransportOptions(options))
  } catch (err) {
    if (!linked) {
      channel?.close()
      plan.dispose?.()
    }
    closeAllQuietly([segmentFd, bellRead, bellWrite, helloFd, listenerBell], native.closeFd)
    bound?.release?.()
    throw fromErrno(err, label)
  }
}

function refused(reason: number, label: string): IpcError {
  if (reason === Refusal.CLOSING) return new IpcError('ERR_IPC_NO_LISTENER', `${label}: the listener is closing`)
  return new IpcError('ERR_IPC_DECODE', `${label}: the listener refused the segment (reason ${reason})`)
}
