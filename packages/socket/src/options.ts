import { IpcError, type ListenOptions } from '@ipc/core'

/** Options of `listen()` for `unix:` addresses (also as address query options). */
export interface UnixListenOptions<In = unknown> extends ListenOptions<In> {
  /**
   * User ids allowed to connect, checked with SO_PEERCRED before a byte is read; `'any'` skips the
   * check. Default: only the uid of this process. In an address: `?allow=1000,1001` or `?allow=any`.
   */
  allow?: readonly number[] | 'any'
  /** File mode of the socket file. Default `0o600` (owner-only), whatever the umask. In an address: `?mode=660`. */
  mode?: number
  /** Connections accepted by the kernel but not yet by `accept()`. Default 128. */
  backlog?: number
}

/** Options of `listen()` for `tcp:` addresses. */
export interface TcpListenOptions<In = unknown> extends ListenOptions<In> {
  /** Connections accepted by the kernel but not yet by `accept()`. Default 128. */
  backlog?: number
}

export function parseAllow(value: unknown): readonly number[] | 'any' {
  if (value === undefined) return [process.getuid!()]
  if (value === 'any') return 'any'
  const list = typeof value === 'string' ? value.split(',').map((s) => Number(s.trim())) : value
  if (!Array.isArray(list) || list.length === 0 || !list.every((u) => Number.isInteger(u) && u >= 0)) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `allow must be 'any' or a list of uids, got ${String(value)}`)
  }
  return list
}

export function parseMode(value: unknown): number {
  if (value === undefined) return 0o600
  const mode = typeof value === 'string' ? parseInt(value, 8) : value
  if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `mode must be a file mode such as 0o600 (or "600" in an address), got ${String(value)}`)
  }
  return mode
}

export function parseBacklog(value: unknown): number {
  if (value === undefined) return 128
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `backlog must be 1–65535, got ${String(value)}`)
  return n
}
