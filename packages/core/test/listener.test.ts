import { describe, expect, it } from 'vitest'
import { type Transport, isIpcError } from '../src/index.js'
import { createListener } from '../src/listener.js'
import { createTransport } from '../src/transport.js'
import { memoryLinkPair } from './memory-link.js'

const transport = (): Transport => createTransport(memoryLinkPair()[0])

describe('listener', () => {
  it('hands connections to waiting accepts in order, then queues them up to the backlog', async () => {
    const control = createListener({ address: 'mem:', close: async () => {} }, 2)
    const a = transport()
    const waiting = control.listener.accept()
    control.offer(a)
    expect(await waiting).toBe(a)
    const b = transport()
    const c = transport()
    control.offer(b)
    control.offer(c)
    expect(control.full).toBe(true)
    const d = transport()
    control.offer(d) // over the backlog: closed and counted
    expect((await d.closed).reason).toBe('local')
    expect(control.listener.stats).toEqual({ accepted: 1, rejected: 1, queued: 2 })
    let roomCalls = 0
    control.onRoom(() => roomCalls++)
    expect(await control.listener.accept()).toBe(b)
    expect(roomCalls).toBe(1)
    expect(control.full).toBe(false)
    await control.listener.close()
  })

  it('accept() honours timeout and abort; close() ends iterators and rejects accepts, and closes unaccepted connections', async () => {
    let released = 0
    const control = createListener({ address: 'mem:', close: async () => void released++ })
    expect(isIpcError(await control.listener.accept({ timeout: 5 }).catch((e) => e), 'ERR_IPC_TIMEOUT')).toBe(true)
    expect(isIpcError(await control.listener.accept({ signal: AbortSignal.abort() }).catch((e) => e), 'ERR_IPC_ABORTED')).toBe(true)
    const iterator = control.listener[Symbol.asyncIterator]()
    const next = iterator.next()
    const accept = control.listener.accept()
    await control.listener.close()
    expect(await next).toEqual({ value: undefined, done: true })
    expect(isIpcError(await accept.catch((e) => e), 'ERR_IPC_CLOSED')).toBe(true)
    const late = transport()
    control.offer(late)
    expect((await late.closed).reason).toBe('local')
    expect(released).toBe(1)
    expect(control.listener.stats.rejected).toBe(1)
  })
})
