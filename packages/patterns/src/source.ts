/** Where a pattern's connections come from: an address to listen on or connect to, a listener, or a transport. */
import { type ConnectOptions, IpcError, type ListenOptions, type Listener, type Transport, connect, listen } from '@ipc/core'
import { debug } from '@ipc/core/mechanism'

/** A listener from `source`: made (and owned) for an address, or the one given. */
export async function listenerOf(source: string | Listener<any, any>, options: ListenOptions | undefined, who: string): Promise<Listener<any, any>> {
  if (typeof source === 'string') return listen(source, options)
  if (source === null || typeof source !== 'object' || typeof (source as Listener).accept !== 'function') {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${who} needs an address string or a Listener`)
  }
  return source
}

/** A transport from `source`: connected for an address, or the one given. */
export function transportOf(source: string | Transport<any, any>, options: ConnectOptions | undefined, who: string): Promise<Transport<any, any>> {
  if (typeof source === 'string') return connect(source, options)
  if (source === null || typeof source !== 'object' || typeof (source as Transport).send !== 'function') {
    return Promise.reject(new IpcError('ERR_IPC_INVALID_ARGUMENT', `${who} needs an address string or a Transport`))
  }
  return Promise.resolve(source)
}

/** Hands every connection `listener` accepts to `onConnection` until it closes. */
export async function acceptEach(listener: Listener<any, any>, onConnection: (t: Transport<unknown, unknown>) => void, who: string): Promise<void> {
  try {
    for await (const t of listener) onConnection(t)
  } catch (err) {
    debug('%s: accepting stopped: %s', who, (err as Error)?.message)
  }
}

/** Checks a positive integer option. */
export function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${name} must be a positive integer, got ${String(value)}`)
  }
  return value as number
}
