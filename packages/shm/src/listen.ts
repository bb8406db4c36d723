import { readSync } from 'node:fs'
import type { Listener, Transport } from '@ipc/core'
import {
  type Address,
  HelloPump,
  type Link,
  type ListenerControl,
  closeAllQuietly,
  createListener,
  createTransport,
  fromErrno,
  processBound,
  resolveTransportOptions,
  withWait,
} from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { peerFdError } from './errors.js'
import type { SegmentFlavour, SegmentPlan } from './flavour.js'
import type { ShmListenOptions } from './options.js'
import { type Claim, claimRendezvous, rendezvousPath } from './rendezvous.js'
import { SHM_FLAVOUR } from './ring-flavour.js'
import { HELLO_BYTES, type Hello, Refusal, State, VERSION, Word, decodeHello } from './wire.js'

const { O_RDWR, O_WRONLY, O_NONBLOCK } = native.fdConstants
const { F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_SEAL } = native.shmConstants
const REQUIRED_SEALS = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL

/** Hellos read but not yet handled, past which the listener stops reading its hello pipe. */
const PENDING_HELLOS = 64

/**
 * `shm:` listen: a hello pipe (its read end polled, a write end kept so it never reports EOF), and
 * the rendezvous file naming it. Each hello names a client's segment and doorbell; the listener
 * opens both through `/proc/<pid>/fd`, checks the segment (a sealed memfd of this user, of a size
 * that matches its header, with the hello's nonce), names its own doorbell in the header, and waits
 * for the client to open it.
 */
export async function listenShm<Out, In>(address: Address, options: ShmListenOptions<In>): Promise<Listener<Out, In>> {
  return listenSegment(address, options, SHM_FLAVOUR)
}

/** {@link listenShm} for any flavour of segment (`sem:` is another). */
export async function listenSegment<Out, In, O extends ShmListenOptions<In>>(
  address: Address,
  options: O,
  flavour: SegmentFlavour<unknown>,
): Promise<Listener<Out, In>> {
  const label = `listen ${address.text}`
  const path = rendezvousPath(address, flavour.scheme)
  const transportOptions = resolveTransportOptions(options)
  const handshakeTimeout = options.handshakeTimeout ?? 10_000
  const spin = options.spin === undefined ? 0 : Number(options.spin)
  let hellos: { read: number; write: number; ino: number } | undefined
  let claim: Claim | undefined
  let watcher: InstanceType<typeof native.FdWatcher> | undefined
  try {
    hellos = native.doorbellPipe()
    claim = claimRendezvous(path, { pid: process.pid, helloFd: hellos.read, helloIno: hellos.ino }, label)
  } catch (err) {
    closeAllQuietly([hellos?.read, hellos?.write], native.closeFd)
    throw fromErrno(err, label)
  }
  const pipe = hellos
  const held = claim
  const handshakes = new Set<() => void>()
  const buffer = Buffer.alloc(HELLO_BYTES * PENDING_HELLOS)
  let buffered = 0

  const control: ListenerControl<Out, In> = createListener<Out, In>(
    {
      address: address.text,
      async close() {
        watcher?.close()
        for (const abort of [...handshakes]) abort()
        held.release()
        closeAllQuietly([pipe.read, pipe.write], native.closeFd)
      },
    },
    options.backlog,
  )

  const readHellos = (): void => {
    for (;;) {
      let n: number
      try {
        n = readSync(pipe.read, buffer, buffered, buffer.length - buffered, null)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break
        control.reject(`reading the hello pipe failed: ${(err as Error).message}`)
        void control.listener.close()
        return
      }
      if (n === 0) break
      buffered += n
      let at = 0
      for (; at + HELLO_BYTES <= buffered; at += HELLO_BYTES) {
        const hello = decodeHello(buffer, at)
        if (typeof hello === 'string') {
          // a writer of our uid wrote something else: what follows cannot be trusted to be aligned
          control.reject(`a malformed hello: ${hello}`)
          at = buffered
          break
        }
        queue.push(hello)
      }
      buffer.copyWithin(0, at, buffered)
      buffered -= at
      if (queue.saturated) break
    }
    queue.pump()
  }

  /** Opens and checks the client's segment and doorbell, and completes the handshake; refuses it (logged, counted) on any failure. */
  const acceptHello = async (hello: Hello): Promise<void> => {
    const what = `hello of pid ${hello.pid}`
    let segmentFd: number | undefined
    let bellRead: number | undefined // the doorbell's ends until the channel (read) or the handshake's end (write) takes them
    let bellWrite: number | undefined
    let clientBell: number | undefined
    let channel: InstanceType<typeof native.ShmChannel> | undefined
    let bound: ReturnType<typeof processBound> | undefined
    let plan: SegmentPlan | undefined
    let verified = false
    let linked = false
    try {
      bound = processBound(hello.pid, (pid, onExit) => new native.PidWatcher(pid, onExit))
      if (bound.watch.exited()) throw new Error('the client is gone')
      try {
        segmentFd = native.openPeerFd(hello.pid, hello.segmentFd, O_RDWR)
      } catch (err) {
        throw peerFdError(err, what, hello.pid, 'its segment')
      }
      const info = native.fdInfo(segmentFd)
      if (!info.link.startsWith(`/memfd:ipc-${flavour.scheme}:`)) throw new Error(`its segment is not an ${flavour.scheme}: memfd (${info.link})`)
      if (info.seals < 0 || (info.seals & REQUIRED_SEALS) !== REQUIRED_SEALS) throw new Error('its segment is not sealed')
      if (info.uid !== process.geteuid!()) throw new Error(`its segment belongs to uid ${info.uid}`)
      const planned = flavour.planFor(info.size)
      if (typeof planned === 'string') throw new Error(planned)
      plan = planned
      const capacity = plan.capacity
      const bell = native.doorbellPipe()
      bellRead = bell.read
      bellWrite = bell.write
      let onWake: (status: number) => void = () => {}
      channel = new native.ShmChannel(segmentFd, info.size, 1, bell.read, (status) => onWake(status), capacity)
      const memfd = segmentFd
      segmentFd = undefined // the channel owns it now, and the doorbell's read end
      bellRead = undefined
      const expect: [number, number, string][] = [
        [Word.MAGIC, flavour.magic, 'magic'],
        [Word.VERSION, VERSION, 'version'],
        [Word.CAPACITY, capacity, 'capacity'],
        [Word.CLIENT_PID, hello.pid, 'pid'],
        [Word.NONCE_LOW, hello.nonceLow, 'nonce'],
        [Word.NONCE_HIGH, hello.nonceHigh, 'nonce'],
        [Word.STATE, State.OFFERED, 'state'],
      ]
      for (const [word, value, name] of expect) {
        if (channel.word(word) !== value) throw new Error(`its segment's ${name} does not match its hello`)
      }
      const ch0 = channel
      plan.check?.((index) => ch0.word(index))
      verified = true
      try {
        clientBell = native.openPeerFd(hello.pid, channel.word(Word.CLIENT_DOORBELL), O_WRONLY | O_NONBLOCK)
      } catch (err) {
        throw peerFdError(err, what, hello.pid, 'its doorbell')
      }
      if (!native.fdInfo(clientBell).link.startsWith('pipe:')) throw new Error('its doorbell is not a pipe')
      channel.setPeerDoorbell(clientBell)
      clientBell = undefined
      const ch = channel
      const established = new Promise<void>((resolve, reject) => {
        onWake = (status) => {
          if (ch.word(Word.STATE) === State.ESTABLISHED) resolve()
          else if (status < 0) reject(new Error(`polling its doorbell failed (errno ${-status})`))
        }
      })
      const ac = new AbortController()
      const abort = (): void => ac.abort()
      handshakes.add(abort)
      bound.watch.onExit(abort)
      channel.setWord(Word.LISTENER_PID, process.pid)
      channel.setWord(Word.LISTENER_DOORBELL, bell.read)
      channel.setWord(Word.STATE, State.ACCEPTED)
      channel.start()
      channel.ring()
      try {
        await withWait(established, { signal: ac.signal, timeout: handshakeTimeout }, `shm handshake with pid ${hello.pid}`)
      } finally {
        handshakes.delete(abort)
      }
      native.closeFd(bell.write) // from now on the doorbell ends when the client's side of it does
      bellWrite = undefined
      const b = bound
      const link = plan.link(channel, memfd, 1, {
        peer: { pid: hello.pid },
        classifyEnd: () => b.classifyEnd!(undefined),
        release: () => b.release?.(),
        spin,
      }) as Link & {
        wake(status: number): void
      }
      linked = true // the link owns the channel now
      onWake = (status) => link.wake(status)
      const transport: Transport<Out, In> = createTransport<Out, In>(link, transportOptions)
      control.offer(transport)
    } catch (err) {
      control.reject(`${what}: ${(err as Error)?.message ?? String(err)}`)
      if (channel !== undefined && verified) {
        try {
          channel.setWord(Word.REASON, control.isClosed ? Refusal.CLOSING : Refusal.BAD_SEGMENT)
          channel.setWord(Word.STATE, State.REFUSED)
          channel.ring()
        } catch {
          // the channel is unusable: the client's own timeout ends its wait
        }
      }
      if (!linked) {
        channel?.close()
        plan?.dispose?.()
      }
      closeAllQuietly([segmentFd, clientBell, bellRead, bellWrite], native.closeFd)
      bound?.release?.()
    }
  }

  const queue = new HelloPump<Hello>(
    control,
    (hello) => acceptHello(hello),
    (on) => watcher?.start(on ? native.READABLE : 0),
    PENDING_HELLOS,
  )

  try {
    watcher = new native.FdWatcher(pipe.read, (events) => {
      if (events < 0) {
        control.reject(`polling the hello pipe failed (errno ${-events})`)
        void control.listener.close()
        return
      }
      readHellos()
    })
    watcher.start(native.READABLE)
  } catch (err) {
    await control.listener.close()
    throw fromErrno(err, label)
  }
  return control.listener
}
