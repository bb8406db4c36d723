/** Resource limits of this process as the kernel reports them (`/proc/self/limits`). */
import { readFileSync } from 'node:fs'

/**
 * The soft limit whose row starts with `label` (e.g. `'Max msgqueue size'`, `'Max pending
 * signals'`): a number, `Infinity` when unlimited, `undefined` when it cannot be read (no /proc).
 */
export function softLimit(label: string): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(label))
    const soft = line?.split(/\s{2,}/)[1]
    if (soft === undefined) return undefined
    return soft === 'unlimited' ? Infinity : Number(soft)
  } catch {
    return undefined
  }
}
