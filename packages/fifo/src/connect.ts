import { type Stats, lstatSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { type ConnectOptions, IpcError, type Transport } from '@ipc/core'
import { type Address, createTransport, fromErrno, processBound, processStreamLink } from '@ipc/core/mechanism'
import { growPipe, native } from '@ipc/native'
import { READY, readExactly } from './handshake.js'
import { ACK_BYTES, decodeAck, formatHello, makeToken } from './hello.js'
import { READ_FLAGS, WRITE_FLAGS, closeFifo, fifoSocket, fifoPaths, makeFifo, openFifo, pairPaths, removeQuietly } from './rendezvous.js'

function writeAll(socket: Socket, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject)
    socket.write(bytes, (err) => (err ? reject(err) : resolve()))
  })
}

/**
 * `fifo:` connect: make a private FIFO pair, announce it with one hello on the well-known FIFO,
 * wait for the listener's ack, open our write end, and remove both names (the two processes hold
 * them open now, so nothing stays on disk even if either crashes later).
 */
export async function connectFifo<Out, In>(address: Address, options: ConnectOptions<In>): Promise<Transport<Out, In>> {
  const { wellKnown, folder } = fifoPaths(address)
  const label = `connect ${address.text}`
  let wk: Stats
  try {
    wk = lstatSync(wellKnown)
  } catch (err) {
    throw fromErrno(err, label)
  }
  if (!wk.isFIFO()) throw new IpcError('ERR_IPC_NO_LISTENER', `${label}: ${wellKnown} is not a FIFO`)
  const token = makeToken(process.pid, randomBytes(8).toString('hex'))
  const { c2s, s2c } = pairPaths(folder, token)
  const sockets: Socket[] = []
  const fds: number[] = []
  const cleanup = (): void => {
    removeQuietly(c2s)
    removeQuietly(s2c)
  }
  const open = (path: string, flags: number): number => {
    const fd = openFifo(path, flags)
    fds.push(fd)
    return fd
  }
  const wrap = (fd: number, readable: boolean): Socket => {
    fds.splice(fds.indexOf(fd), 1)
    const s = fifoSocket(fd, readable)
    sockets.push(s)
    return s
  }
  try {
    try {
      makeFifo(c2s)
      makeFifo(s2c)
    } catch (err) {
      throw fromErrno(err, `${label}: cannot create the client FIFOs in ${folder}`)
    }
    const inbound = wrap(open(s2c, READ_FLAGS), true)
    const holdOut = open(s2c, WRITE_FLAGS) // no EOF before the listener opens its end
    let wkFd: number
    try {
      wkFd = open(wellKnown, WRITE_FLAGS)
    } catch (err) {
      // ENXIO: nobody reads the well-known FIFO; its listener is gone
      throw (err as NodeJS.ErrnoException).code === 'ENXIO'
        ? new IpcError('ERR_IPC_NO_LISTENER', `${label}: no listener reads ${wellKnown}`, { cause: err })
        : err
    }
    const hello = wrap(wkFd, false)
    await writeAll(hello, Buffer.from(formatHello({ pid: process.pid, token }))) // ≤ PIPE_BUF: atomic
    hello.destroy()
    const ack = await readExactly(inbound, ACK_BYTES, label, options)
    const serverPid = decodeAck(ack)
    if (serverPid === undefined) throw new IpcError('ERR_IPC_DECODE', `${label}: the listener's ack is malformed`)
    closeFifo(holdOut)
    fds.splice(fds.indexOf(holdOut), 1)
    const outFd = open(c2s, WRITE_FLAGS)
    growPipe(outFd)
    const outbound = wrap(outFd, false)
    cleanup() // both sides hold both FIFOs open now; the names go before the listener hears "ready"
    outbound.write(READY)
    const bound = processBound(serverPid, (pid, onExit) => new native.PidWatcher(pid, onExit))
    return createTransport<Out, In>(processStreamLink({ readable: inbound, writable: outbound, bound }), options)
  } catch (err) {
    cleanup()
    for (const s of sockets) s.destroy()
    for (const fd of fds) closeFifo(fd)
    throw fromErrno(err, label)
  }
}
