import { lstatSync, writeSync } from 'node:fs'
import type { Socket } from 'node:net'
import type { Listener, ListenOptions, Transport } from '@ipc/core'
import {
  type Address,
  HelloPump,
  type ListenerControl,
  assertOwnerOnly,
  createListener,
  createTransport,
  fromErrno,
  processBound,
  processStreamLink,
  quietly,
  resolveTransportOptions,
  noteRendezvous,
} from '@ipc/core/mechanism'
import { growPipe, native } from '@ipc/native'
import { READY, readExactly } from './handshake.js'
import { type Hello, HelloReader, encodeAck } from './hello.js'
import {
  READ_FLAGS,
  WRITE_FLAGS,
  claimWellKnown,
  closeFifo,
  fifoSocket,
  fifoPaths,
  makeFifo,
  openFifo,
  pairPaths,
  prepareFolder,
  removeFolder,
  removeQuietly,
} from './rendezvous.js'

/** Options of `listen()` for `fifo:` addresses. */
export interface FifoListenOptions<In = unknown> extends ListenOptions<In> {
  /**
   * Connections waiting for `accept()`; past it, hellos wait in the well-known FIFO (clients wait, within their timeout).
   * @defaultValue `511`
   */
  backlog?: number
  /**
   * Milliseconds a client may take to finish its handshake after its hello.
   * @defaultValue `10_000`
   */
  handshakeTimeout?: number
}

/** Hellos read but not yet handled, past which the listener stops reading the well-known FIFO. */
const PENDING_HELLOS = 64

/** `fifo:` listen: the well-known FIFO, and a transport per client hello that checks out. */
export async function listenFifo<Out, In>(address: Address, options: FifoListenOptions<In>): Promise<Listener<Out, In>> {
  const { wellKnown, folder } = fifoPaths(address)
  const transportOptions = resolveTransportOptions(options)
  const handshakeTimeout = options.handshakeTimeout ?? 10_000
  let readFd: number | undefined
  let keepFd: number | undefined
  try {
    claimWellKnown(wellKnown, address.text)
    prepareFolder(folder)
    makeFifo(wellKnown)
    const st = lstatSync(wellKnown)
    readFd = openFifo(wellKnown, READ_FLAGS, st)
    keepFd = openFifo(wellKnown, WRITE_FLAGS, st) // a writer of our own: the reader never sees EOF while we listen
  } catch (err) {
    closeFifo(readFd)
    closeFifo(keepFd)
    throw fromErrno(err, `listen ${address.text}`)
  }
  const wellKnownIno = lstatSync(wellKnown).ino
  const note = noteRendezvous('fifo', address.text, wellKnown, { onDisk: true })
  const hellos = fifoSocket(readFd, true)
  const handshakes = new Set<() => void>()

  const control: ListenerControl<Out, In> = createListener<Out, In>(
    {
      address: address.text,
      async close() {
        hellos.destroy()
        closeFifo(keepFd)
        note.remove()
        for (const abort of [...handshakes]) abort()
        quietly(`remove ${wellKnown}`, () => {
          if (lstatSync(wellKnown).ino === wellKnownIno) removeQuietly(wellKnown)
        })
        removeFolder(folder)
      },
    },
    options.backlog,
  )

  /** Checks a hello, opens the client's pair and completes the handshake; refuses it (logged, counted) on any failure. */
  const acceptHello = async (hello: Hello): Promise<void> => {
    const { c2s, s2c } = pairPaths(folder, hello.token)
    let inFd: number | undefined
    let holdIn: number | undefined
    let outFd: number | undefined
    let readable: Socket | undefined
    let writable: Socket | undefined
    let bound: ReturnType<typeof processBound> | undefined
    try {
      const c2sStat = lstatSync(c2s)
      const s2cStat = lstatSync(s2c)
      for (const st of [c2sStat, s2cStat]) {
        if (!st.isFIFO()) throw new Error(`${c2s}: not a FIFO`)
        assertOwnerOnly(st, `the FIFO pair of pid ${hello.pid}`)
      }
      bound = processBound(hello.pid, (pid, onExit) => new native.PidWatcher(pid, onExit))
      if (bound.watch.exited()) throw new Error(`the client (pid ${hello.pid}) is gone`)
      inFd = openFifo(c2s, READ_FLAGS, c2sStat)
      holdIn = openFifo(c2s, WRITE_FLAGS, c2sStat) // no EOF before the client opens its end
      outFd = openFifo(s2c, WRITE_FLAGS, s2cStat) // the client holds the read end open already
      growPipe(outFd)
      writeSync(outFd, encodeAck(process.pid)) // 8 bytes into an empty FIFO: whole or not at all
      readable = fifoSocket(inFd, true)
      writable = fifoSocket(outFd, false)
      const ac = new AbortController()
      const abort = (): void => ac.abort()
      handshakes.add(abort)
      bound.watch.onExit(abort)
      try {
        const ready = await readExactly(readable, READY.length, `fifo handshake with pid ${hello.pid}`, { signal: ac.signal, timeout: handshakeTimeout })
        if (!ready.equals(READY)) throw new Error('bad ready marker')
      } finally {
        handshakes.delete(abort)
      }
      closeFifo(holdIn)
      holdIn = undefined
      const transport: Transport<Out, In> = createTransport<Out, In>(processStreamLink({ readable, writable, bound }), transportOptions)
      control.offer(transport)
    } catch (err) {
      control.reject(`hello of pid ${hello.pid}: ${(err as Error)?.message ?? String(err)}`)
      readable?.destroy()
      writable?.destroy()
      if (!readable) closeFifo(inFd)
      if (!writable) closeFifo(outFd)
      closeFifo(holdIn)
      bound?.release?.()
    }
  }

  const pump = new HelloPump<Hello>(
    control,
    (hello) => acceptHello(hello),
    (on) => {
      if (!on) hellos.pause()
      else if (hellos.isPaused()) hellos.resume()
    },
    PENDING_HELLOS,
  )

  const reader = new HelloReader(
    (hello) => {
      pump.push(hello)
      pump.pump()
    },
    (reason) => control.reject(`a malformed hello: ${reason}`),
  )
  hellos.on('data', (chunk: Buffer) => reader.push(chunk))
  hellos.on('error', (err) => {
    control.reject(`reading ${wellKnown} failed: ${err.message}`)
    void control.listener.close()
  })
  return control.listener
}
