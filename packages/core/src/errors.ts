/** Every stable error code the SDK uses. Match on `err.code`, never on the message. */
export type IpcErrorCode =
  /** The transport or listener is closed (locally, or the peer closed it). */
  | 'ERR_IPC_CLOSED'
  /** A wait ran past its `timeout`. */
  | 'ERR_IPC_TIMEOUT'
  /** A wait was cancelled through its `AbortSignal`. */
  | 'ERR_IPC_ABORTED'
  /** A message (sent or received) is larger than `maxMessageSize`. */
  | 'ERR_IPC_MESSAGE_TOO_LARGE'
  /** Received bytes are not a valid message: bad framing, undecodable payload, or it failed `schema`. */
  | 'ERR_IPC_DECODE'
  /** The address is held by a live owner. */
  | 'ERR_IPC_ADDRESS_IN_USE'
  /** Nothing listens at the address (yet). */
  | 'ERR_IPC_NO_LISTENER'
  /** The peer process exited (or was killed) while the transport was open. */
  | 'ERR_IPC_PEER_EXITED'
  /** The kernel or an `allow` list refused the operation. */
  | 'ERR_IPC_PERMISSION'
  /** The mechanism, platform or option is not supported here. */
  | 'ERR_IPC_UNSUPPORTED'
  /** The address string (or an option in it) is malformed. */
  | 'ERR_IPC_INVALID_ADDRESS'
  /** An argument is of the wrong type or out of range. */
  | 'ERR_IPC_INVALID_ARGUMENT'
  /** A system call failed in a way no other code describes; `cause` holds the errno error. */
  | 'ERR_IPC_SYSTEM'
  /** A reader fell too far behind (a subscriber past its publisher's `maxBlock` or `limit`) and was closed so the others go on. */
  | 'ERR_IPC_SLOW_CONSUMER'

/** Options for {@link IpcError}. */
export interface IpcErrorOptions {
  /** The underlying error (an errno error from the kernel, a decoder error, …). */
  cause?: unknown
  /** Extra facts worth a program's attention (a kernel limit's name and value, schema issues, …). */
  details?: Record<string, unknown>
}

/**
 * The one error class of the SDK. `code` is stable; `cause` holds the errno error (with its own
 * `code` and `syscall`) or the decoder's error when there is one.
 */
export class IpcError extends Error {
  /** The stable error code. */
  readonly code: IpcErrorCode
  /** Extra facts, when the error has any (see {@link IpcErrorOptions.details}). */
  readonly details?: Record<string, unknown>

  constructor(code: IpcErrorCode, message: string, options: IpcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'IpcError'
    this.code = code
    if (options.details) this.details = options.details
  }
}

/** `true` when `err` is an {@link IpcError} (optionally with the given code), also across copies of this package. */
export function isIpcError(err: unknown, code?: IpcErrorCode): err is IpcError {
  if (!(err instanceof Error) || err.name !== 'IpcError') return false
  return code === undefined || (err as IpcError).code === code
}

const ERRNO_CODES: Record<string, IpcErrorCode> = {
  EADDRINUSE: 'ERR_IPC_ADDRESS_IN_USE',
  EEXIST: 'ERR_IPC_ADDRESS_IN_USE',
  EACCES: 'ERR_IPC_PERMISSION',
  EPERM: 'ERR_IPC_PERMISSION',
  ECONNREFUSED: 'ERR_IPC_NO_LISTENER',
  ENOENT: 'ERR_IPC_NO_LISTENER',
  EPIPE: 'ERR_IPC_CLOSED',
  ECONNRESET: 'ERR_IPC_CLOSED',
  ENOSYS: 'ERR_IPC_UNSUPPORTED',
  EOPNOTSUPP: 'ERR_IPC_UNSUPPORTED',
  ENAMETOOLONG: 'ERR_IPC_INVALID_ADDRESS',
  ESRCH: 'ERR_IPC_PEER_EXITED',
}

/**
 * Wraps an errno error (one with `code` such as `EADDRINUSE` and usually `syscall`) into an
 * {@link IpcError} whose code describes it, keeping the errno error as `cause`.
 */
export function fromErrno(err: unknown, what: string): IpcError {
  if (isIpcError(err)) return err
  const errno = (err as { code?: unknown })?.code
  const code = (typeof errno === 'string' && ERRNO_CODES[errno]) || 'ERR_IPC_SYSTEM'
  const detail = typeof errno === 'string' ? errno : ((err as Error)?.message ?? String(err))
  return new IpcError(code, `${what}: ${detail}`, { cause: err })
}
