import { describe, expect, it } from 'vitest'
import { IpcError, type StandardSchemaV1, isIpcError } from '../src/index.js'
import { resolveCodec } from '../src/codec.js'
import { encodeFrame } from '../src/framing.js'
import { Inbox } from '../src/inbox.js'
import type { Link } from '../src/link.js'

function pausableLink(): Link & { paused: boolean; pauses: number } {
  return {
    paused: false,
    pauses: 0,
    start() {},
    write: () => true,
    pause() {
      this.paused = true
      this.pauses++
    },
    resume() {
      this.paused = false
    },
    close: async () => {},
    destroy() {},
  }
}

const json = resolveCodec('json')
const frame = (v: unknown): Uint8Array => encodeFrame(json.encode(v))

describe('inbox', () => {
  it('assembles frames split anywhere across chunks, in order', async () => {
    const failures: IpcError[] = []
    const inbox = new Inbox(pausableLink(), json, 1 << 20, 1 << 20, undefined, { fail: (e) => failures.push(e), goodbye: () => {} })
    const stream = Buffer.concat(Array.from({ length: 50 }, (_, i) => frame({ i, s: 'x'.repeat(i) })))
    for (let at = 0; at < stream.length; at += 7) inbox.data(stream.subarray(at, at + 7), 0)
    const got: number[] = []
    while (inbox.buffered > 0) got.push((inbox.take() as { i: number }).i)
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(failures).toEqual([])
  })

  it('pauses the link at highWaterMark and resumes it below half', () => {
    const link = pausableLink()
    const inbox = new Inbox(link, json, 1 << 20, 1000, undefined, { fail: () => {}, goodbye: () => {} })
    const msg = { pad: 'y'.repeat(190) } // ~200 encoded bytes
    for (let k = 0; k < 5; k++) inbox.data(frame(msg), 0)
    expect(link.paused).toBe(true)
    inbox.take()
    inbox.take()
    expect(link.paused).toBe(true) // 600 bytes still buffered: above half
    inbox.take()
    expect(link.paused).toBe(false)
    expect(link.pauses).toBe(1)
  })

  it('keeps arrival order across an asynchronous validator', async () => {
    const slowFirst: StandardSchemaV1<unknown, { i: number }> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (v) =>
          (v as { i: number }).i === 0 ? new Promise((r) => setTimeout(() => r({ value: v as { i: number } }), 20)) : { value: v as { i: number } },
      },
    }
    const inbox = new Inbox(pausableLink(), json, 1 << 20, 1 << 20, slowFirst, { fail: () => {}, goodbye: () => {} })
    const first = inbox.wait(undefined, false)
    const second = inbox.wait(undefined, false)
    inbox.data(Buffer.concat([frame({ i: 0 }), frame({ i: 1 })]), 0)
    expect(await first).toEqual({ i: 0 })
    expect(await second).toEqual({ i: 1 })
  })

  it('an undecodable frame or an oversize prefix fails with a coded error', () => {
    const failures: IpcError[] = []
    const inbox = new Inbox(pausableLink(), json, 100, 1 << 20, undefined, { fail: (e) => failures.push(e), goodbye: () => {} })
    inbox.data(encodeFrame(Buffer.from('{nope')), 0)
    expect(failures[0]?.code).toBe('ERR_IPC_DECODE')
    const other = new Inbox(pausableLink(), json, 100, 1 << 20, undefined, { fail: (e) => failures.push(e), goodbye: () => {} })
    other.data(Uint8Array.of(0xff, 0xff, 0, 0), 0)
    expect(failures[1]?.code).toBe('ERR_IPC_MESSAGE_TOO_LARGE')
  })

  it('close() rejects waiting receivers, or ends iterators when the end was clean', async () => {
    const inbox = new Inbox(pausableLink(), json, 1 << 20, 1 << 20, undefined, { fail: () => {}, goodbye: () => {} })
    const plain = inbox.wait(undefined, false)
    const iter = inbox.wait(undefined, true)
    inbox.close(new IpcError('ERR_IPC_CLOSED', 'closed'), true)
    expect(isIpcError(await plain.catch((e) => e), 'ERR_IPC_CLOSED')).toBe(true)
    expect(await iter).toEqual({ value: undefined, done: true })
  })
})
