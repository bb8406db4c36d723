import { debuglog } from 'node:util'

/**
 * The SDK's debug log: `NODE_DEBUG=ipc node app.js` prints every piece of dropped work (a refused
 * handshake, a failed cleanup, a retried connect) with its reason; free when off.
 */
export const debug: (format: string, ...args: unknown[]) => void = debuglog('ipc')

/** Runs `fn`; a failure is logged as `what` (`NODE_DEBUG=ipc`) instead of thrown. Returns whether it succeeded. */
export function quietly(what: string, fn: () => void): boolean {
  try {
    fn()
    return true
  } catch (err) {
    debug('%s failed: %s', what, (err as Error)?.message ?? String(err))
    return false
  }
}
