import { closeSync, rmSync, unlinkSync } from 'node:fs'
import { debug } from '../debug.js'

const GONE = new Set(['ENOENT', 'EBADF'])

function log(what: string, err: unknown): void {
  const code = (err as NodeJS.ErrnoException)?.code
  if (!GONE.has(code ?? '')) debug('%s failed: %s', what, (err as Error)?.message ?? String(err))
}

/**
 * Closes `fd` if it is defined, with `close` (default `fs.closeSync`; pass `native.closeFd` for
 * descriptors the addon opened). A descriptor already closed is fine; any other failure is
 * logged (`NODE_DEBUG=ipc`), never thrown: this is cleanup.
 */
export function closeQuietly(fd: number | undefined, close: (fd: number) => void = closeSync): void {
  if (fd === undefined) return
  try {
    close(fd)
  } catch (err) {
    log(`close(${fd})`, err)
  }
}

/** Closes every fd in `fds` (see {@link closeQuietly}). */
export function closeAllQuietly(fds: (number | undefined)[], close: (fd: number) => void = closeSync): void {
  for (const fd of fds) closeQuietly(fd, close)
}

/** Removes `path` (or, with `remove`, whatever `remove(path)` removes); a missing one is fine, other failures are logged. */
export function unlinkQuietly(path: string, remove: (path: string) => void = unlinkSync): void {
  try {
    remove(path)
  } catch (err) {
    log(`unlink(${path})`, err)
  }
}

/** Removes the folder `path` and what is in it; failures are logged. */
export function removeFolderQuietly(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true })
  } catch (err) {
    log(`rm -r ${path}`, err)
  }
}
