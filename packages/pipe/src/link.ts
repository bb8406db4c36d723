import { Socket } from 'node:net'
import type { Transport, TransportOptions } from '@ipc/core'
import { closeAllQuietly, createTransport, fromErrno, processBound, processStreamLink } from '@ipc/core/mechanism'
import { growPipe, native } from '@ipc/native'

/**
 * A transport over two pipe fds bound to one peer process: `readFd` carries the peer's bytes,
 * `writeFd` ours. The peer's exit is watched through a pidfd, so a crash is noticed even when the
 * peer's descriptors live on in a grandchild. Closes both fds when it ends. `failure` ends the
 * transport with that error instead (a spawn that failed).
 */
export function pipeTransport<Out, In>(
  readFd: number,
  writeFd: number,
  peerPid: number | undefined,
  options: TransportOptions<In>,
  failure?: Promise<Error>,
): Transport<Out, In> {
  const readable = new Socket({ fd: readFd, readable: true, writable: false })
  const writable = new Socket({ fd: writeFd, readable: false, writable: true })
  const bound = processBound(failure ? undefined : peerPid, (pid, onExit) => new native.PidWatcher(pid, onExit))
  if (failure) bound.externalEnd = (end) => void failure.then((error) => end({ reason: 'error', error }))
  return createTransport<Out, In>(processStreamLink({ readable, writable, bound }), options)
}

/** Closes fds, ignoring ones already closed. */
export function closeFds(...fds: number[]): void {
  closeAllQuietly(fds, native.closeFd) // pipe2() descriptors: opened by the addon, closed by it (Workers track fs-opened ones)
}

/**
 * Two pipe2() pipes for a child: `toChild` (it reads [0], we write [1]) and `fromChild` (it writes
 * [1], we read [0]), the write ends grown to 1 MiB; nothing leaks when the second one fails.
 */
export function childPipes(what: string): { toChild: [number, number]; fromChild: [number, number] } {
  let toChild: [number, number]
  let fromChild: [number, number]
  try {
    toChild = native.pipe2()
    try {
      fromChild = native.pipe2()
    } catch (err) {
      closeFds(...toChild)
      throw err
    }
  } catch (err) {
    throw fromErrno(err, `${what}: pipe2`)
  }
  growPipe(toChild[1])
  growPipe(fromChild[1])
  return { toChild, fromChild }
}
