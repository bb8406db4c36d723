/**
 * `ipc clean`: removes the SDK objects whose owner is dead — by each mechanism's own reclaim rule,
 * checked again at removal, so a live one is never touched.
 */
import { type InventoryOptions, type Leftover, inventory } from './inventory.js'

/** What {@link clean} removes. */
export interface CleanOptions extends InventoryOptions {
  /** List what would be removed, remove nothing. */
  dryRun?: boolean
  /**
   * Also remove POSIX named semaphores that no process has open. Nothing marks a named semaphore
   * as this SDK's, and one may be meant to outlive its users, so this is asked for explicitly.
   */
  semaphores?: boolean
}

/** One object {@link clean} looked at. */
export interface CleanResult {
  item: Leftover
  /** `removed`; `kept` (its owner turned out to be alive when checked again); `would remove` (dry run); `failed`. */
  outcome: 'removed' | 'kept' | 'would remove' | 'failed'
  error?: string
}

/** Removes (or, with `dryRun`, lists) every dead-owner object of the SDK that `options` select. */
export async function clean(options: CleanOptions = {}): Promise<CleanResult[]> {
  const items = (await inventory(options)).filter((l) => !l.alive && l.kind !== 'error' && (options.semaphores || l.mechanism !== 'sem-posix'))
  const out: CleanResult[] = []
  for (const item of items) {
    if (options.dryRun) {
      out.push({ item, outcome: 'would remove' })
      continue
    }
    try {
      out.push({ item, outcome: (await item.remove()) ? 'removed' : 'kept' })
    } catch (err) {
      out.push({ item, outcome: 'failed', error: (err as Error)?.message ?? String(err) })
    }
  }
  return out
}
