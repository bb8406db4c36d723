// System V queues: SysvReceiver (a thread blocked in msgrcv) and SysvSender (a thread finishing
// sends into a full queue). Every queue is keyed by a temp file and removed, also on failure.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { native } from '../lib/index.js'
import { QueueDir, errorOf, fill, threadsIn, until, within } from './helpers.js'

let queues: QueueDir
const closers: (() => void)[] = []
beforeEach(() => {
  queues = new QueueDir()
})
afterEach(() => {
  for (const close of closers.splice(0)) close()
  queues.remove()
})

/** Splits a receiver batch: records [u32 length][bytes], little-endian. */
function records(batch: Buffer): Buffer[] {
  const list: Buffer[] = []
  let at = 0
  while (at < batch.length) {
    const length = batch.readUInt32LE(at)
    list.push(batch.subarray(at + 4, at + 4 + length))
    at += 4 + length
  }
  expect(at).toBe(batch.length)
  return list
}

function receiver(msqid: number, mtype: number, onBatch: (error: Error | null, batch: Buffer | null) => void) {
  const r = new native.SysvReceiver(msqid, mtype, 8192, onBatch)
  closers.push(() => r.close())
  return r
}

describe('System V message queues', () => {
  it('msgSend / msgReceiveNow / msgStat', () => {
    const q = queues.queue()
    expect(native.msgSend(q, 3, Buffer.from('hi'))).toBe(true)
    const st = native.msgStat(q)
    expect(st).toMatchObject({ uid: process.getuid!(), cuid: process.getuid!(), mode: 0o600, qnum: 1, lspid: process.pid })
    expect(native.msgReceiveNow(q, 4, 64)).toBeNull()
    expect(native.msgReceiveNow(q, 3, 64)!.toString()).toBe('hi')
    expect(native.msgReceiveNow(q, 3, 64)).toBeNull()
    native.msgSend(q, 3, Buffer.alloc(100))
    const e = errorOf(() => native.msgReceiveNow(q, 3, 10))
    expect(e.code).toBe('E2BIG')
    expect(e.syscall).toBe('msgrcv')
  })

  it('SysvReceiver delivers each wake-up as records [u32 length][bytes], skipping zero-length wake messages', async () => {
    const q = queues.queue()
    const sent = ['one', '', 'three', 'x'.repeat(8000)]
    for (const s of sent) native.msgSend(q, 5, Buffer.from(s))
    native.msgSend(q, 6, Buffer.from('not mine'))
    const got: Buffer[] = []
    await new Promise<void>((resolve, reject) => {
      receiver(q, 5, (error, batch) => {
        if (error) return reject(error)
        got.push(...records(batch!))
        if (got.length >= 3) resolve()
      })
    })
    expect(got.map((b) => b.toString())).toEqual(['one', 'three', 'x'.repeat(8000)])
    // more later, while it waits
    const more = new Promise<Buffer>((resolve) => {
      receiver(q, 7, (_e, batch) => resolve(batch!))
    })
    native.msgSend(q, 7, Buffer.from('later'))
    expect(records(await more).map(String)).toEqual(['later'])
    expect(native.msgReceiveNow(q, 6, 64)!.toString()).toBe('not mine')
  })

  it('close() wakes a receiver blocked in msgrcv (with a zero-length message of its type)', async () => {
    const q = queues.queue()
    const before = threadsIn('ipc-sysv-recv', 'msgrcv')
    const r = new native.SysvReceiver(q, 9, 8192, () => {})
    await until(() => threadsIn('ipc-sysv-recv', 'msgrcv') > before, 2000, 'the receiver blocks in msgrcv')
    r.close()
    r.close() // idempotent
    // the thread consumed the wake message and ended
    await until(() => threadsIn('ipc-sysv-recv', 'msgrcv') === before && native.msgStat(q).qnum === 0, 2000, 'the receiver thread ends')
  })

  it('no batch is delivered after close(), even one received before it', async () => {
    const q = queues.queue()
    let calls = 0
    const r = new native.SysvReceiver(q, 9, 8192, () => calls++)
    native.msgSend(q, 9, Buffer.from('queued before close'))
    // wait without yielding to the event loop until the thread has taken it (and handed it to the
    // loop, or is about to): the batch is queued for JS, and close() comes first
    const deadline = performance.now() + 2000
    while (native.msgStat(q).qnum !== 0 && performance.now() < deadline);
    expect(native.msgStat(q).qnum).toBe(0)
    r.close()
    await new Promise((res) => setTimeout(res, 20))
    expect(calls).toBe(0)
  })

  it('removing the queue ends a receiver with an Error whose code is EIDRM', async () => {
    const q = queues.queue()
    const before = threadsIn('ipc-sysv-recv', 'msgrcv')
    const result = new Promise<[Error | null, Buffer | null]>((resolve) => {
      receiver(q, 11, (error, batch) => resolve([error, batch]))
    })
    // (a queue removed before the thread reaches msgrcv would be EINVAL instead)
    await until(() => threadsIn('ipc-sysv-recv', 'msgrcv') > before, 2000, 'the receiver blocks in msgrcv')
    native.msgRemove(q)
    const [error, batch] = await within(result, 2000, 'EIDRM')
    expect(batch).toBeNull()
    expect(error).toBeInstanceOf(Error)
    expect(error).toMatchObject({ code: 'EIDRM', errno: -43, syscall: 'msgrcv' })
    expect(error!.message).toBe('msgrcv: EIDRM (Identifier removed)')
  })

  it('SysvSender finishes sends into a full queue in order and reports the cumulative count', async () => {
    const q = queues.queue()
    const filler = fill(q, 8)
    expect(filler).toBeGreaterThan(0)
    const reports: [Error | null, number][] = []
    let drained!: () => void
    const done = new Promise<void>((r) => (drained = r))
    const s = new native.SysvSender(q, (error, sent) => {
      reports.push([error, sent])
      if (error || sent === 5) drained()
    })
    closers.push(() => s.close())
    for (let i = 0; i < 5; i++) s.push(9, Buffer.from(`p${i}`))
    expect(reports).toEqual([])
    // make room: the thread's blocked msgsnd goes through, in order
    for (let i = 0; i < filler; i++) native.msgReceiveNow(q, 8, 2048)
    await within(done, 2000, 'the sender drains')
    expect(reports.at(-1)).toEqual([null, 5])
    const got = []
    for (let i = 0; i < 5; i++) got.push(native.msgReceiveNow(q, 9, 64)!.toString())
    expect(got).toEqual(['p0', 'p1', 'p2', 'p3', 'p4'])
  })

  it('SysvSender reports EIDRM as an Error of msgsnd when the queue is removed under a blocked send', async () => {
    const q = queues.queue()
    fill(q, 8)
    const before = threadsIn('ipc-sysv-send', 'msgsnd')
    const result = new Promise<[Error | null, number]>((resolve) => {
      const s = new native.SysvSender(q, (error, sent) => resolve([error, sent]))
      closers.push(() => s.close())
      s.push(9, Buffer.from('blocked'))
    })
    await until(() => threadsIn('ipc-sysv-send', 'msgsnd') > before, 2000, 'the sender blocks in msgsnd')
    native.msgRemove(q)
    const [error, sent] = await within(result, 2000, 'EIDRM')
    expect(sent).toBe(0)
    expect(error).toMatchObject({ code: 'EIDRM', syscall: 'msgsnd' })
  })

  it('a closed SysvSender drops what it holds and reports nothing', async () => {
    const q = queues.queue()
    fill(q, 8)
    let calls = 0
    const before = threadsIn('ipc-sysv-send', 'msgsnd')
    const s = new native.SysvSender(q, () => calls++)
    s.push(9, Buffer.from('dropped'))
    await until(() => threadsIn('ipc-sysv-send', 'msgsnd') > before, 2000, 'the sender blocks in msgsnd')
    s.close()
    s.push(9, Buffer.from('ignored after close'))
    native.msgRemove(q) // fails the blocked send (EIDRM): the thread ends, reporting nothing
    await until(() => threadsIn('ipc-sysv-send', 'msgsnd') === before, 2000, 'the sender thread ends')
    await new Promise((res) => setTimeout(res, 20))
    expect(calls).toBe(0)
  })
})
