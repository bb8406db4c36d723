import type { Socket } from 'node:net'
import { IpcError, type WaitOptions } from '@ipc/core'
import { withWait } from '@ipc/core/mechanism'

/** What a client writes first on its client→server FIFO once it has opened it. */
export const READY = Buffer.from('IPCR')

/**
 * Reads exactly `n` bytes from a paused socket (the rest stays buffered for the transport).
 * Rejects with ERR_IPC_CLOSED if the stream ends first.
 */
export function readExactly(socket: Socket, n: number, what: string, options?: WaitOptions): Promise<Buffer> {
  const got = new Promise<Buffer>((resolve, reject) => {
    const done = (): void => {
      socket.off('readable', onReadable)
      socket.off('end', onEnd)
      socket.off('error', onError)
    }
    const onReadable = (): void => {
      const bytes = socket.read(n) as Buffer | null
      if (bytes === null) return
      done()
      resolve(bytes)
    }
    const onEnd = (): void => {
      done()
      reject(new IpcError('ERR_IPC_CLOSED', `${what}: the other side went away during the handshake`))
    }
    const onError = (err: Error): void => {
      done()
      reject(new IpcError('ERR_IPC_CLOSED', `${what}: ${err.message}`, { cause: err }))
    }
    socket.on('readable', onReadable)
    socket.once('end', onEnd)
    socket.once('error', onError)
  })
  return withWait(got, options, what)
}
