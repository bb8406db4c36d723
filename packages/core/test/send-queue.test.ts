import { describe, expect, it } from 'vitest'
import { IpcError, isIpcError } from '../src/index.js'
import type { Link } from '../src/link.js'
import { BATCH_BYTES, SendQueue } from '../src/send-queue.js'

/** A link that records its writes and says full while `full` is set. */
function recordingLink(): Link & { writes: Uint8Array[][]; full: boolean } {
  return {
    writes: [],
    full: false,
    start() {},
    write(chunks) {
      this.writes.push(chunks)
      return !this.full
    },
    pause() {},
    resume() {},
    close: async () => {},
    destroy() {},
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r))
const bytes = (n: number, v = 1): Uint8Array => new Uint8Array(n).fill(v)

describe('send queue', () => {
  it('hands everything pushed in one tick to the link in one write, framed', async () => {
    const link = recordingLink()
    const q = new SendQueue(link, 1 << 20, () => {})
    for (let i = 0; i < 100; i++) await q.push(bytes(10, i), undefined, 10, 0, undefined)
    expect(link.writes).toHaveLength(0)
    await tick()
    expect(link.writes).toHaveLength(1)
    const total = link.writes[0]!.reduce((n, c) => n + c.length, 0)
    expect(total).toBe(100 * (4 + 10))
    expect(q.messages).toBe(100)
  })

  it('flushes at once when a batch reaches BATCH_BYTES', async () => {
    const link = recordingLink()
    const q = new SendQueue(link, 1 << 22, () => {})
    const size = 1000
    let pushed = 0
    while (link.writes.length === 0) {
      await q.push(bytes(size), undefined, size, 0, undefined)
      pushed++
    }
    expect(pushed * (size + 4)).toBeGreaterThanOrEqual(BATCH_BYTES)
    expect(pushed * (size + 4)).toBeLessThan(BATCH_BYTES + size + 4)
  })

  it('past highWaterMark a push waits, in order, until the link drains; timeout and abort reject only that push', async () => {
    const link = recordingLink()
    link.full = true
    const q = new SendQueue(link, 1000, () => {})
    await q.push(bytes(600), undefined, 600, 0, undefined)
    await q.push(bytes(600), undefined, 600, 0, undefined) // still under the mark when accepted
    await tick() // the link takes the batch and says full
    const order: number[] = []
    const first = q.push(bytes(10, 1), undefined, 10, 0, undefined).then(() => order.push(1))
    const timed = q.push(bytes(10, 2), undefined, 10, 0, { timeout: 5 })
    const ac = new AbortController()
    const aborted = q.push(bytes(10, 3), undefined, 10, 0, { signal: ac.signal })
    const last = q.push(bytes(10, 4), undefined, 10, 0, undefined).then(() => order.push(4))
    expect(isIpcError(await timed.catch((e) => e), 'ERR_IPC_TIMEOUT')).toBe(true)
    ac.abort()
    expect(isIpcError(await aborted.catch((e) => e), 'ERR_IPC_ABORTED')).toBe(true)
    expect(q.queuedMessages).toBe(2)
    link.full = false
    q.drained()
    await Promise.all([first, last])
    expect(order).toEqual([1, 4])
  })

  it('stop() rejects waiting pushes with its error and resolves flushed()', async () => {
    const link = recordingLink()
    link.full = true
    const q = new SendQueue(link, 100, () => {})
    await q.push(bytes(200), undefined, 200, 0, undefined)
    await tick()
    const waiting = q.push(bytes(10), undefined, 10, 0, undefined)
    const flushed = q.flushed()
    q.stop(new IpcError('ERR_IPC_CLOSED', 'gone'))
    expect(isIpcError(await waiting.catch((e) => e), 'ERR_IPC_CLOSED')).toBe(true)
    await flushed
  })

  it('a write that throws fails the queue through its callback', async () => {
    const link = recordingLink()
    link.write = () => {
      throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })
    }
    const errors: IpcError[] = []
    const q = new SendQueue(link, 1000, (e) => errors.push(e))
    await q.push(bytes(1), undefined, 1, 0, undefined)
    await tick()
    expect(errors).toHaveLength(1)
    expect(errors[0]!.code).toBe('ERR_IPC_CLOSED')
  })
})
