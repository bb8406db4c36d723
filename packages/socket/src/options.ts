import { IpcError, type ListenOptions } from '@ipc/core'
import { DEFAULT_BACKLOG, OWNER_ONLY_MODE, type OptionParser, count } from '@ipc/core/mechanism'

/** Options of `listen()` for `unix:` addresses (also as address query options). */
export interface UnixListenOptions<In = unknown> extends ListenOptions<In> {
  /**
   * User ids allowed to connect, checked with SO_PEERCRED before a byte is read; `'any'` skips the
   * check. In an address: `?allow=1000,1001` or `?allow=any`.
   * @defaultValue only the uid of this process
   */
  allow?: readonly number[] | 'any'
  /**
   * File mode of the socket file, whatever the umask. In an address: `?mode=660`.
   * @defaultValue `0o600` (owner-only)
   */
  mode?: number
  /**
   * How many connections may wait to be accepted: the kernel's `listen()` backlog, and as many
   * again handed to the listener but not yet taken by `accept()` / `for await`. 1–65535 (the
   * kernel caps it at `net.core.somaxconn`). While the kernel backlog is full, `connect()` retries
   * with backoff within its `timeout`. In an address: `?backlog=1024`.
   * @defaultValue `511`, as `net.Server`
   */
  backlog?: number
}

/** Options of `listen()` for `tcp:` addresses. */
export interface TcpListenOptions<In = unknown> extends ListenOptions<In> {
  /**
   * How many connections may wait to be accepted: the kernel's `listen()` backlog, and as many
   * again handed to the listener but not yet taken by `accept()` / `for await`. 1–65535 (the
   * kernel caps it at `net.core.somaxconn`). In an address: `?backlog=1024`.
   * @defaultValue `511`, as `net.Server`
   */
  backlog?: number
}

function invalid(name: string, expected: string, value: unknown): IpcError {
  return new IpcError('ERR_IPC_INVALID_ARGUMENT', `option ${name} must be ${expected}, got ${typeof value === 'string' ? `"${value}"` : String(value)}`, {
    details: { option: name },
  })
}

/** Parses `allow`: `'any'`, or uids as a list or a comma-separated string. */
export const allowOption: OptionParser<readonly number[] | 'any'> = (value, name) => {
  if (value === 'any') return 'any'
  const list = typeof value === 'string' ? value.split(',').map((s) => (/^\s*\d+\s*$/.test(s) ? Number(s) : Number.NaN)) : value
  if (!Array.isArray(list) || list.length === 0 || !list.every((u) => Number.isSafeInteger(u) && u >= 0)) {
    throw invalid(name, "'any' or a list of uids", value)
  }
  return list
}

/** Parses `mode`: a number, or octal digits in an address (`?mode=660`). */
export const modeOption: OptionParser<number> = (value, name) => {
  const mode = typeof value === 'string' ? (/^0?o?[0-7]{1,4}$/.test(value) ? parseInt(value.replace(/^0?o/, ''), 8) : Number.NaN) : value
  if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw invalid(name, 'a file mode such as 0o600 (or "600" in an address)', value)
  }
  return mode
}

/** Parses `backlog`: 1–65535 (the kernel caps it at `net.core.somaxconn`). */
export const backlogOption: OptionParser<number> = count(1, 65535)

/** The options of `unix:`, with their parsers. */
export const UNIX_OPTIONS = { allow: allowOption, mode: modeOption, backlog: backlogOption }
/** The options of `tcp:`, with their parsers. */
export const TCP_OPTIONS = { backlog: backlogOption }

/** `allow` with its default: only this process's uid. */
export function parseAllow(value: unknown): readonly number[] | 'any' {
  return value === undefined ? [process.getuid!()] : allowOption(value, 'allow')
}

/** `mode` with its default, 0o600. */
export function parseMode(value: unknown): number {
  return value === undefined ? OWNER_ONLY_MODE : modeOption(value, 'mode')
}

/** `backlog` with its default, {@link DEFAULT_BACKLOG} (511, as `net.Server`). */
export function parseBacklog(value: unknown): number {
  return value === undefined ? DEFAULT_BACKLOG : backlogOption(value, 'backlog')
}
