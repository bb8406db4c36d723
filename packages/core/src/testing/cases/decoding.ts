// Promise 1 and 5: decoding never changes a message — it arrives exactly as sent, or is refused.
import { expect, it } from 'vitest'
import { encodeFrame } from '../../framing.js'
import type { Kit } from '../util.js'

/** msgpack bytes of a one-entry map `{ key: value }` with `key` given as raw str bytes. */
function mapWithRawKey(key: number[], value: number): number[] {
  return [0x81, 0xa0 | key.length, ...key, value]
}

/** Messages whose decoding could change them, echoed by a real peer (default msgpack codec, and json). */
export function decodingCases(kit: Kit): void {
  const { target, track, cleanups } = kit
  it('promise 1: __proto__, constructor and prototype keys arrive as own properties, nested and in arrays; no prototype is touched', async () => {
    for (const codec of ['msgpack', 'json'] as const) {
      const p = track(await target.startPeer('echo', { codec }))
      const tricky = JSON.parse('{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 2}}, "list": [{"__proto__": 3}], "prototype": 4}')
      await p.transport.send(tricky)
      const back = (await p.transport.receive({ timeout: 10_000 })) as Record<string, unknown>
      expect(Object.hasOwn(back, '__proto__'), codec).toBe(true)
      expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value, codec).toEqual(JSON.parse('{"polluted": 1}'))
      expect(Object.getPrototypeOf(back), codec).toBe(Object.prototype)
      expect(Object.keys(back).sort(), codec).toEqual(['__proto__', 'constructor', 'list', 'prototype'])
      const inList = (back.list as Record<string, unknown>[])[0]!
      expect(Object.getOwnPropertyDescriptor(inList, '__proto__')?.value, codec).toBe(3)
      expect(({} as Record<string, unknown>).polluted, codec).toBeUndefined()
      expect((Object.prototype as Record<string, unknown>).polluted, codec).toBeUndefined()
      await p.transport.close()
    }
  })

  it('promise 1: maps with non-string keys arrive as Maps with their keys exactly as sent', async () => {
    const p = track(await target.startPeer('echo', {}))
    const sent = new Map<unknown, unknown>([
      [1, 'one'],
      ['1', 'string one'],
      [null, 'nil'],
      [true, 'yes'],
      [1.5, 'half'],
    ])
    await p.transport.send({ m: sent })
    const back = (await p.transport.receive({ timeout: 10_000 })) as { m: Map<unknown, unknown> }
    expect(back.m).toBeInstanceOf(Map)
    expect([...back.m.entries()]).toEqual([...sent.entries()])
  })

  it('promise 1: containers of 70,000+ elements round-trip (object keys, array items, str and bin bytes)', async () => {
    const p = track(await target.startPeer('echo', { maxMessageSize: 8 * 1024 * 1024 }))
    const wide: Record<string, number> = {}
    for (let k = 0; k < 70_001; k++) wide[`k${k}`] = k
    const value = { wide, items: Array.from({ length: 70_001 }, (_, k) => k & 0xff), text: 'é'.repeat(70_001), bytes: new Uint8Array(70_001).fill(9) }
    await p.transport.send(value)
    const back = (await p.transport.receive({ timeout: 30_000 })) as typeof value
    expect(Object.keys(back.wide).length).toBe(70_001)
    expect(back.wide.k70000).toBe(70_000)
    expect(back.items).toEqual(value.items)
    expect(back.text).toBe(value.text)
    expect(Buffer.compare(back.bytes, value.bytes)).toBe(0)
  })

  if (target.injectRaw) {
    const inject = target.injectRaw.bind(target)
    const cases: [string, number[]][] = [
      ['invalid UTF-8 in a string', [0xa3, 0x61, 0xff, 0x62]],
      ['invalid UTF-8 in a map key', mapWithRawKey([0xc3, 0x28], 1)],
      ['an overlong UTF-8 encoding', [0xa2, 0xc0, 0xaf]],
      ['a UTF-16 surrogate in UTF-8', [0xa3, 0xed, 0xa0, 0x80]],
      ['a map with a duplicate key', [0x82, 0xa1, 0x61, 0x01, 0xa1, 0x61, 0x02]],
    ]
    for (const [name, body] of cases) {
      it(`promise 5: ${name} is refused with ERR_IPC_DECODE, never delivered changed`, async () => {
        const { transport, child } = await inject(encodeFrame(Uint8Array.from(body)), false, {})
        cleanups.push(() => transport.close())
        if (child) cleanups.push(() => (child.exitCode === null ? child.kill('SIGKILL') : undefined))
        const got = await transport.receive({ timeout: 10_000 }).catch((e) => e)
        expect(got?.code).toBe('ERR_IPC_DECODE')
        expect((await transport.closed).error?.code).toBe('ERR_IPC_DECODE')
      })
    }
  }
}
