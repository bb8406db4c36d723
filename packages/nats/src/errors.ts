/** NATS client errors → the SDK's codes. */
import { IpcError } from '@ipc/core'

/** A coded error for a failed request to `subject`. */
export function requestError(err: unknown, subject: string, what: string, timeout: number): IpcError {
  const e = err as Error & { code?: string; isNoResponders?: () => boolean }
  const text = `${e?.name ?? ''} ${e?.message ?? ''} ${e?.code ?? ''}`
  if (e?.name === 'NoRespondersError' || /no responders|503/i.test(text) || (typeof e?.isNoResponders === 'function' && e.isNoResponders())) {
    return new IpcError('ERR_IPC_NO_LISTENER', `${what}: nothing listens on ${subject}`, { cause: err })
  }
  if (/permission/i.test(text)) return new IpcError('ERR_IPC_PERMISSION', `${what}: the server denies ${subject}: ${e?.message}`, { cause: err })
  if (/timeout/i.test(text)) return new IpcError('ERR_IPC_TIMEOUT', `${what}: no answer from ${subject} within ${timeout} ms`, { cause: err })
  return new IpcError('ERR_IPC_CLOSED', `${what}: ${e?.message}`, { cause: err })
}
