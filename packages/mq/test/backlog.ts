import { connect, listen } from '@ipc/core'
import { expect } from 'vitest'

/**
 * Eight clients against a listener with `?backlog=2`: hellos beyond the backlog wait (none is
 * refused), the listener never holds more than the backlog unaccepted, and every client gets in
 * as `accept()` makes room.
 */
export async function backlogFullHellosWait(address: string): Promise<void> {
  const server = await listen(`${address}?backlog=2`)
  const clients = Array.from({ length: 8 }, () => connect(server.address, { timeout: 20_000 }))
  const accepted = []
  for (let k = 0; k < 8; k++) {
    accepted.push(await server.accept({ timeout: 10_000 }))
    expect(server.stats.queued).toBeLessThanOrEqual(2)
  }
  const ends = await Promise.all(clients)
  expect(server.stats).toMatchObject({ rejected: 0, accepted: 8 })
  await Promise.all(ends.map((t) => t.close()))
  await Promise.all(accepted.map((c) => c.closed))
  await server.close()
}
