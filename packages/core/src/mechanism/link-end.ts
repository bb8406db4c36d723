/** How a link reports that its peer ended, whether classifying the end is immediate or not. */
import type { LinkEnd } from '../link.js'

/**
 * Calls `report(end)` once `classify()` has decided how the peer ended — at once, or when its
 * promise settles (telling `'peer-exited'` from `'peer'` may wait briefly for the process's exit).
 * A link must take no more writes from the moment it calls this (its `write()` returns `false`),
 * or a sender looping on `send()` never lets a pending classification finish.
 */
export function reportEnd(classify: () => LinkEnd | Promise<LinkEnd>, report: (end: LinkEnd) => void): void {
  const end = classify()
  if (end instanceof Promise) void end.then(report)
  else report(end)
}
