import { describe, expect, it } from 'vitest'
import { client, isIpcError, serve } from '../src/index.js'
import { createTransport } from '../src/mechanism/index.js'
import { memoryLinkPair } from './memory-link.js'

const api = {
  add: ({ a, b }: { a: number; b: number }) => a + b,
  slow: async (ms: number) => {
    await new Promise((r) => setTimeout(r, ms))
    return ms
  },
  fail: () => {
    throw new Error('boom')
  },
}

describe('rpc', () => {
  it('calls typed procedures concurrently and matches replies by id', async () => {
    const [a, b] = memoryLinkPair()
    const served = serve(createTransport(a), api)
    const c = client<typeof api>(createTransport(b))
    const results = await Promise.all([c.call('slow', 30), c.call('add', { a: 2, b: 3 }), c.call('slow', 1)])
    expect(results).toEqual([30, 5, 1])
    const err = await c.call('fail', undefined).catch((e) => e)
    expect(isIpcError(err, 'ERR_IPC_SYSTEM')).toBe(true)
    expect(err.message).toBe('boom')
    const unknown = await (c as any).call('nope', 1).catch((e: unknown) => e)
    expect(isIpcError(unknown, 'ERR_IPC_UNSUPPORTED')).toBe(true)
    const timedOut = await c.call('slow', 200, { timeout: 10 }).catch((e) => e)
    expect(isIpcError(timedOut, 'ERR_IPC_TIMEOUT')).toBe(true)
    expect(c.pending).toBe(0)
    void served
  })

  it('pending calls reject when the transport closes', async () => {
    const [a, b] = memoryLinkPair()
    const server = createTransport(a)
    const c = client<typeof api>(createTransport(b))
    const call = c.call('slow', 10_000).catch((e) => e)
    await new Promise((r) => setTimeout(r, 5))
    await server.close()
    expect(isIpcError(await call, 'ERR_IPC_CLOSED')).toBe(true)
    expect(isIpcError(await c.call('add', { a: 1, b: 1 }).catch((e) => e), 'ERR_IPC_CLOSED')).toBe(true)
  })
})
