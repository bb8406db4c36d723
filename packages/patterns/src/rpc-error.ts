/** Failures that come from the other side of a call, kept apart from local `IpcError`s. */

/** Codes the RPC layer itself uses (an application may use any other string). */
export type RpcStatus =
  /** No such procedure. */
  | 'NOT_FOUND'
  /** The argument failed the procedure's input schema. */
  | 'INVALID_ARGUMENT'
  /** The handler failed with something other than an `RpcError` (its message only; no stack leaves the server). */
  | 'INTERNAL'
  /** The result could not be sent back (too large, not encodable, failed the output schema). */
  | 'UNSENDABLE'
  /** The server is shutting down. */
  | 'UNAVAILABLE'

/**
 * An error the remote procedure reported: `code` is the application's string (or an
 * {@link RpcStatus}), `data` anything encodable it attached. Never an `IpcError`: a peer's string
 * is never taken for one of the SDK's codes.
 */
export class RpcError extends Error {
  readonly code: string
  readonly data?: unknown

  constructor(code: string, message: string, data?: unknown) {
    super(message)
    this.name = 'RpcError'
    this.code = code
    if (data !== undefined) this.data = data
  }
}

/** `true` when `err` is an {@link RpcError} (optionally with the given code), also across copies of this package. */
export function isRpcError(err: unknown, code?: string): err is RpcError {
  if (!(err instanceof Error) || err.name !== 'RpcError') return false
  return code === undefined || (err as RpcError).code === code
}
