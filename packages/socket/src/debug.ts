import { EventEmitter } from 'node:events'
import type { ListenerControl } from '@ipc/core/mechanism'
export { debug } from '@ipc/core/mechanism'

/**
 * Counters of work retried or dropped, and the same as events (`'connect-retry'` with the label,
 * the errno code, the attempt and the delay; `'dropped'` with the label and why). For tests and
 * diagnostics only: not exported from the package.
 *
 * @internal
 */
export const socketDiagnostics = Object.assign(new EventEmitter(), {
  /** Connect attempts retried after a transient error (EAGAIN: the listener's backlog was full). */
  connectRetries: 0,
  /** Connections the kernel accepted that a listener closed unread (uid not allowed, queue full, listener closed). */
  droppedConnections: 0,
})

/**
 * Counts, logs (NODE_DEBUG=ipc) and announces a connection a listener closes unread. `byCore`:
 * the listener's `offer()` already refused it, and core counted and logged it if it does that.
 */
export function reportDropped(control: ListenerControl<any, any>, label: string, why: string, byCore = false): void {
  socketDiagnostics.droppedConnections++
  if (!byCore) control.reject(why)
  socketDiagnostics.emit('dropped', { label, why })
}
