/**
 * Everything of the SDK on this machine that this user can see: each mechanism package's
 * `leftovers()` (it knows where its objects live and its own reclaim rule), in one list.
 */
import type { Leftover } from '@ipc/core/mechanism'
import { leftovers as fifoLeftovers } from '@ipc/fifo'
import { leftovers as mqLeftovers } from '@ipc/mq'
import { leftovers as semLeftovers } from '@ipc/sem'
import { leftovers as shmLeftovers } from '@ipc/shm'
import { leftovers as unixLeftovers } from '@ipc/socket'

export type { Leftover } from '@ipc/core/mechanism'

/** The mechanisms that can leave something behind, and the package that finds it. */
const FINDERS: ReadonlyArray<readonly [string, () => Promise<Leftover[]>]> = [
  ['unix', unixLeftovers],
  ['fifo', fifoLeftovers],
  ['mq', mqLeftovers],
  ['shm', shmLeftovers],
  ['sem', semLeftovers],
]

/** What {@link inventory} lists. */
export interface InventoryOptions {
  /** Only objects whose name or address contains this text. */
  match?: string
  /** Only these mechanisms (`unix`, `fifo`, `mq`, `mq+sysv`, `shm`, `sem`, `sem-posix`). */
  mechanisms?: string[]
}

/**
 * Lists the SDK's kernel objects and rendezvous files of this user (every user's, for root):
 * sockets, FIFOs, POSIX and System V queues, shm/sem rendezvous files, POSIX named semaphores,
 * each with its owner pid, whether that owner is alive, its age and size. Signals and NATS leave
 * nothing on the machine. A package that fails to look is reported as an `error` item.
 */
export async function inventory(options: InventoryOptions = {}): Promise<Leftover[]> {
  const found = await Promise.all(
    FINDERS.map(async ([mechanism, find]) => {
      try {
        return await find()
      } catch (err) {
        return [failedLook(mechanism, err)]
      }
    }),
  )
  const match = options.match
  return found
    .flat()
    .filter((l) => options.mechanisms === undefined || options.mechanisms.includes(l.mechanism))
    .filter((l) => match === undefined || l.name.includes(match) || (l.address ?? '').includes(match))
    .sort((a, b) => a.mechanism.localeCompare(b.mechanism) || a.name.localeCompare(b.name))
}

function failedLook(mechanism: string, err: unknown): Leftover {
  return {
    mechanism,
    kind: 'error',
    name: `(could not look: ${(err as Error)?.message ?? err})`,
    alive: true, // unknown: never cleaned
    async remove() {
      return false
    },
  }
}
