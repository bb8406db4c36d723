import { type Socket, connect as netConnect } from 'node:net'
import { type ConnectOptions, IpcError, type Transport } from '@ipc/core'
import { fromErrno } from '@ipc/core/mechanism'
import { peerOf, socketTransport } from './connection.js'
import { debug, socketDiagnostics } from './debug.js'
import { DEFAULT_MAX_RETRY_TIME, retryWithBackoff } from '@ipc/core/mechanism'

/**
 * Errors of a connect attempt worth another attempt. `EAGAIN` is what a non-blocking `connect()`
 * on a Unix socket gets while the listener's backlog is full (a burst of clients, or a server
 * that is busy or restarting under load); for TCP the kernel retransmits the SYN instead, so it
 * never shows up there in practice. ECONNREFUSED and ENOENT (nothing listens) are not retried:
 * they give `ERR_IPC_NO_LISTENER` at once.
 */
const TRANSIENT = new Set(['EAGAIN', 'EWOULDBLOCK'])

function isTransient(err: unknown): boolean {
  return TRANSIENT.has((err as NodeJS.ErrnoException | undefined)?.code ?? '')
}

function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return isTransient(err) ? `${code}: the listener's backlog is full` : String(code ?? err)
}

/** One connect attempt: the connected socket, or the raw errno error; destroyed when `signal` fires. */
function attemptConnect(target: { path: string } | { host: string; port: number }, signal: AbortSignal): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket: Socket = netConnect(target)
    const settle = (): void => {
      signal.removeEventListener('abort', onAbort)
      socket.off('connect', onConnect)
      socket.off('error', onError)
    }
    const onAbort = (): void => {
      settle()
      socket.destroy()
      reject(signal.reason)
    }
    const onConnect = (): void => {
      settle()
      resolve(socket)
    }
    const onError = (err: Error): void => {
      settle()
      socket.destroy()
      reject(err)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    socket.once('connect', onConnect)
    socket.once('error', onError)
  })
}

/**
 * Opens a socket (`net.connect` options) and wraps it into a transport. A full listen backlog
 * (`EAGAIN`) is retried with backoff (~1 ms doubling to ~64 ms, jittered) until the listener
 * accepts; the whole connect is bounded by `options.timeout` (`ERR_IPC_TIMEOUT`) and
 * `options.signal` (`ERR_IPC_ABORTED`). Without a `timeout`, retrying stops after 10 s
 * (`ERR_IPC_TIMEOUT`); a single attempt then waits as long as the kernel lets it.
 */
export async function connectSocket<Out, In>(
  target: { path: string } | { host: string; port: number },
  label: string,
  options: ConnectOptions<In>,
): Promise<Transport<Out, In>> {
  const what = `connect ${label}`
  const started = performance.now()
  let retries = 0
  let socket: Socket
  try {
    socket = await retryWithBackoff((signal) => attemptConnect(target, signal), {
      what,
      retryable: isTransient,
      describe,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
      discard: (late) => late.destroy(),
      onRetry: ({ error, attempt, delay }) => {
        retries = attempt
        socketDiagnostics.connectRetries++
        socketDiagnostics.emit('connect-retry', { label, code: (error as NodeJS.ErrnoException).code, attempt, delay })
        // one line when retrying starts and one at the end, not one per retry (a burst makes thousands)
        if (attempt === 1)
          debug(
            '%s: %s, retrying with backoff (%s)',
            what,
            describe(error),
            options.timeout === undefined ? `for up to ${DEFAULT_MAX_RETRY_TIME} ms: no timeout given` : `within the timeout of ${options.timeout} ms`,
          )
      },
    })
  } catch (err) {
    if (retries > 0) debug('%s: failed after %d retries in %d ms: %s', what, retries, Math.round(performance.now() - started), (err as Error).message)
    throw fromErrno(err, what)
  }
  if (retries > 0) debug('%s: connected after %d retries in %d ms', what, retries, Math.round(performance.now() - started))
  if ('port' in target) socket.setNoDelay(true)
  const peer = 'path' in target ? peerOf(socket) : undefined
  if ('path' in target && peer === undefined) {
    socket.destroy()
    throw new IpcError('ERR_IPC_CLOSED', `${what}: the server closed the connection at once`)
  }
  return socketTransport<Out, In>(socket, peer, options)
}
