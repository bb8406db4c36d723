import { closeSync } from 'node:fs'
import { Socket } from 'node:net'
import { type PeerInfo, type Transport, type TransportOptions, classifyProcessEnd, createTransport, streamLink } from '@ipc/core'
import { native } from '@ipc/native'

/** Pipe capacity asked for (the default is 64 KiB; 1 MiB is the unprivileged maximum). */
const PIPE_CAPACITY = 1024 * 1024
/** After the peer exits, how long its end of stream may take before the link is ended anyway. */
const EXIT_EOF_GRACE_MS = 40

/** Asks for a larger pipe buffer; the kernel may refuse (pipe-user-pages limits), which is fine. */
export function growPipe(fd: number): void {
  try {
    native.setPipeSize(fd, PIPE_CAPACITY)
  } catch {
    // keep the default capacity
  }
}

/**
 * A transport over two pipe fds bound to one peer process: `readFd` carries the peer's bytes,
 * `writeFd` ours. The peer's exit is watched through a pidfd, so a crash is noticed even when the
 * peer's descriptors live on in a grandchild. Closes both fds when it ends.
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
  let watcher: InstanceType<typeof native.PidWatcher> | undefined
  const exitListeners: (() => void)[] = []
  let exited = peerPid === undefined
  if (peerPid !== undefined) {
    try {
      watcher = new native.PidWatcher(peerPid, () => {
        exited = true
        for (const l of exitListeners.splice(0)) l()
      })
    } catch {
      exited = true // ESRCH: the peer is gone already
    }
  }
  const watch = {
    exited: () => exited || (watcher?.exited() ?? true),
    onExit(listener: () => void) {
      if (watch.exited()) listener()
      else exitListeners.push(listener)
    },
  }
  const peer: PeerInfo | undefined = peerPid === undefined ? undefined : { pid: peerPid }
  const link = streamLink({
    readable,
    writable,
    ...(peer ? { peer } : {}),
    classifyEnd: classifyProcessEnd(watch),
    release: () => watcher?.close(),
    externalEnd(end) {
      if (failure) {
        void failure.then((error) => end({ reason: 'error', error }))
        return
      }
      watch.onExit(() => {
        // drain what the peer wrote before it died; its end of stream normally follows at once
        readable.resume()
        setTimeout(() => end({ reason: 'peer-exited' }), EXIT_EOF_GRACE_MS).unref()
      })
    },
  })
  return createTransport<Out, In>(link, options)
}

/** Closes fds, ignoring ones already closed. */
export function closeFds(...fds: number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd)
    } catch {
      // already closed
    }
  }
}
