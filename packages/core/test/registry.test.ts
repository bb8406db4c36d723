import { describe, expect, it } from 'vitest'
import { connect, isIpcError, listen } from '../src/index.js'
import { count, duration, flag, oneOf, size } from '../src/options.js'
import { type SchemeHandler, registerScheme } from '../src/registry.js'

/** A scheme that records the options core hands it (no transport is made). */
function recordingScheme(name: string, options: SchemeHandler['options']): Record<string, unknown>[] {
  const seen: Record<string, unknown>[] = []
  const fail = (o: Record<string, unknown>): never => {
    seen.push(o)
    throw new Error('recorded')
  }
  registerScheme(name, { options, connect: async (_a, o) => fail(o), listen: async (_a, o) => fail(o) })
  return seen
}

describe('option parsing in the registry', () => {
  it('parses declared options from the address and from the options object alike; the object wins', async () => {
    const seen = recordingScheme('rec1', { backlog: count(1, 65535), wait: duration(), big: size(1), on: flag(), kind: oneOf('a', 'b') })
    await connect('rec1:/x?backlog=12&wait=2s&big=4KiB&on&kind=b&maxMessageSize=1MiB', { backlog: 7 }).catch(() => undefined)
    expect(seen[0]).toMatchObject({ backlog: 7, wait: 2000, big: 4096, on: true, kind: 'b', maxMessageSize: 1024 * 1024 })
    await listen('rec1:/x', { backlog: '64', timeout: '250ms' }).catch(() => undefined)
    expect(seen[1]).toMatchObject({ backlog: 64, timeout: 250 })
  })

  it('a bad value, in the address or the object, is ERR_IPC_INVALID_ARGUMENT naming the option', async () => {
    recordingScheme('rec2', { backlog: count(1, 65535), wait: duration() })
    const cases: [string, object | undefined, string][] = [
      ['rec2:/x?backlog=abc', undefined, 'backlog'],
      ['rec2:/x?backlog=0', undefined, 'backlog'],
      ['rec2:/x?backlog=1.5', undefined, 'backlog'],
      ['rec2:/x', { backlog: Number.NaN }, 'backlog'],
      ['rec2:/x', { backlog: '12abc' }, 'backlog'],
      ['rec2:/x?wait=soon', undefined, 'wait'],
      ['rec2:/x?highWaterMark=lots', undefined, 'highWaterMark'],
      ['rec2:/x', { timeout: -1 }, 'timeout'],
      ['rec2:/x?codec=xml', undefined, 'codec'],
    ]
    for (const [address, options, option] of cases) {
      const err = await listen(address, options as never).catch((e) => e)
      expect(isIpcError(err, 'ERR_IPC_INVALID_ARGUMENT'), `${address} ${JSON.stringify(options)}`).toBe(true)
      expect(err.message).toContain(option)
      expect(err.details).toEqual({ option })
    }
  })

  it('an option neither common nor declared is ERR_IPC_INVALID_ADDRESS', async () => {
    recordingScheme('rec3', { backlog: count(1) })
    const err = await connect('rec3:/x?bakclog=5').catch((e) => e)
    expect(isIpcError(err, 'ERR_IPC_INVALID_ADDRESS')).toBe(true)
    expect(err.message).toContain('bakclog')
  })
})
