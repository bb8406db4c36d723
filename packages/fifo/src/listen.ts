import { closeSync, lstatSync, writeSync } from 'node:fs'
import { Socket } from 'node:net'
import {
  type Address,
  type Listener,
  type ListenOptions,
  type Transport,
  createListener,
  createTransport,
  fromErrno,
  processBound,
  resolveTransportOptions,
  streamLink,
} from '@ipc/core'
import { growPipe, native } from '@ipc/native'
import { READY, readExactly } from './handshake.js'
import { type Hello, HelloReader, encodeAck } from './hello.js'
import {
  READ_FLAGS,
  WRITE_FLAGS,
  claimWellKnown,
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
  /** Connections waiting for `accept()`. Default 128. */
  backlog?: number
  /** Milliseconds a client may take to finish its handshake after its hello. Default 10 000. */
  handshakeTimeout?: number
}

function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return
  try {
    closeSync(fd)
  } catch {
    // closed already
  }
}

/** `fifo:` listen: the well-known FIFO, and a transport per client hello that checks out. */
export async function listenFifo<Out, In>(address: Address, options: FifoListenOptions<In>): Promise<Listener<Out, In>> {
  const { wellKnown, folder } = fifoPaths(address)
  const transportOptions = resolveTransportOptions(options)
  const handshakeTimeout = Number(options.handshakeTimeout ?? 10_000)
  const uid = process.getuid!()
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
    closeQuietly(readFd)
    closeQuietly(keepFd)
    throw fromErrno(err, `listen ${address.text}`)
  }
  const wellKnownIno = lstatSync(wellKnown).ino
  const hellos = new Socket({ fd: readFd, readable: true, writable: false })
  const handshakes = new Set<() => void>()

  const control = createListener<Out, In>(
    {
      address: address.text,
      async close() {
        hellos.destroy()
        closeQuietly(keepFd)
        for (const abort of [...handshakes]) abort()
        try {
          if (lstatSync(wellKnown).ino === wellKnownIno) removeQuietly(wellKnown)
        } catch {
          // gone already
        }
        removeFolder(folder)
      },
    },
    Number(options.backlog ?? 128),
  )

  /** Checks a hello, opens the client's pair and completes the handshake; drops it on any failure. */
  const accept = async (hello: Hello): Promise<void> => {
    const { c2s, s2c } = pairPaths(folder, hello.token)
    let inFd: number | undefined
    let holdIn: number | undefined
    let outFd: number | undefined
    let readable: Socket | undefined
    let writable: Socket | undefined
    let bound: ReturnType<typeof processBound> | undefined
    const drop = (): void => {
      readable?.destroy()
      writable?.destroy()
      if (!readable) closeQuietly(inFd)
      if (!writable) closeQuietly(outFd)
      closeQuietly(holdIn)
      bound?.release?.()
    }
    try {
      const c2sStat = lstatSync(c2s)
      const s2cStat = lstatSync(s2c)
      for (const st of [c2sStat, s2cStat]) {
        if (!st.isFIFO() || st.uid !== uid || (st.mode & 0o077) !== 0) throw new Error('not an owner-only FIFO of ours')
      }
      bound = processBound(hello.pid, (pid, onExit) => new native.PidWatcher(pid, onExit))
      if (bound.watch.exited()) throw new Error('the client is gone')
      inFd = openFifo(c2s, READ_FLAGS, c2sStat)
      holdIn = openFifo(c2s, WRITE_FLAGS, c2sStat) // no EOF before the client opens its end
      outFd = openFifo(s2c, WRITE_FLAGS, s2cStat) // the client holds the read end open already
      growPipe(outFd)
      writeSync(outFd, encodeAck(process.pid)) // 8 bytes into an empty FIFO: whole or not at all
      readable = new Socket({ fd: inFd, readable: true, writable: false })
      writable = new Socket({ fd: outFd, readable: false, writable: true })
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
      closeQuietly(holdIn)
      holdIn = undefined
      const { watch, ...linkOptions } = bound
      watch.onExit(() => readable!.resume())
      const transport: Transport<Out, In> = createTransport<Out, In>(streamLink({ readable, writable, ...linkOptions }), transportOptions)
      control.offer(transport)
    } catch {
      drop()
    }
  }

  const reader = new HelloReader((hello) => void accept(hello))
  hellos.on('data', (chunk: Buffer) => reader.push(chunk))
  hellos.on('error', () => void control.listener.close())
  return control.listener
}
