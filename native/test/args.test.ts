// Every native argument is type-checked: a wrong type is a TypeError (ERR_INVALID_ARG_TYPE), a
// number out of range or not an integer a RangeError (ERR_OUT_OF_RANGE); never a crash, never a
// silently coerced value.
import { afterAll, describe, expect, it } from 'vitest'
import { native } from '../lib/index.js'
import { QueueDir, errorOf } from './helpers.js'

const queues = new QueueDir()
afterAll(() => queues.remove())

const bytes = Buffer.from('x')
const fn = (): void => {}
const any = native as any

function expectType(call: () => unknown, message: RegExp): void {
  const e = errorOf(call)
  expect(e, String(call)).toBeInstanceOf(TypeError)
  expect(e.code).toBe('ERR_INVALID_ARG_TYPE')
  expect(e.message).toMatch(message)
}

function expectRange(call: () => unknown, message: RegExp): void {
  const e = errorOf(call)
  expect(e, String(call)).toBeInstanceOf(RangeError)
  expect(e.code).toBe('ERR_OUT_OF_RANGE')
  expect(e.message).toMatch(message)
}

describe('argument checks', () => {
  it('fds, sizes and flags must be integers in range', () => {
    expectType(() => any.closeFd(), /^fd must be a number$/)
    expectType(() => any.closeFd('3'), /^fd must be a number$/)
    expectRange(() => native.closeFd(-1), /^fd must be an integer from 0 to 2147483647$/)
    expectRange(() => native.closeFd(1.5), /^fd must be an integer/)
    expectRange(() => native.closeFd(Number.NaN), /^fd must be an integer/)
    expectRange(() => native.closeFd(2 ** 31), /^fd must be an integer/)
    expectType(() => any.getPipeSize(null), /^fd must be a number$/)
    expectRange(() => native.setPipeSize(0, -1), /^size must be an integer from 0/)
    expectType(() => any.pipe2('x'), /^flags must be a number$/)
    expectType(() => any.setCloexec(0, 'yes'), /^on must be a boolean$/)
    expectType(() => any.peerCred({}), /^fd must be a number$/)
    expectType(() => any.readableNow(), /^fd must be a number$/)
    expectRange(() => native.pidfdOpen(0), /^pid must be an integer from 1/)
    expectType(() => any.lockExclusive('0'), /^fd must be a number$/)
  })

  it('paths and names must be strings without NUL', () => {
    expectType(() => any.mkfifo(1, 0o600), /^path must be a string$/)
    expectRange(() => native.mkfifo('/tmp/x', 0o170000), /^mode must be an integer from 0 to 4095$/)
    expectType(() => any.ftokKey(123, 1), /^path must be a string$/)
    expectType(() => any.openFd(undefined, 0, 0), /^path must be a string$/)
    expectType(() => any.openFd('/tmp', 'r', 0), /^flags must be a number$/)
    const nul = errorOf(() => native.openFd('/tmp/a\0b', 0, 0))
    expect(nul).toBeInstanceOf(TypeError)
    expect(nul.message).toBe('path must not contain NUL')
    expectType(() => any.mqOpen(5, 0, 0, 0, 0), /^name must be a string$/)
    expectType(() => any.mqUnlink(), /^name must be a string$/)
  })

  it('bytes must be a Uint8Array (a Buffer is one)', () => {
    expectType(() => any.mqSend(0, -1, 'text', 0), /^bytes must be a Uint8Array$/)
    expectType(() => any.mqSend(0, -1, new Uint16Array(2), 0), /^bytes must be a Uint8Array$/)
    expectType(() => any.mqSend(0, -1, new ArrayBuffer(2), 0), /^bytes must be a Uint8Array$/)
    expectRange(() => native.mqSend(0, -2, bytes, 0), /^tag must be an integer from -1 to 4294967295$/)
    expectType(() => any.mqReceiveMany(0, [], 64), /^out must be a Uint8Array$/)
    expectType(() => any.msgSend(0, 1, 'x'), /^bytes must be a Uint8Array$/)
  })

  it('mtypes must be safe integers from 1 (msgrcv also takes 0 and negatives)', () => {
    const q = queues.queue()
    expectType(() => any.msgSend(q, '1', bytes), /^mtype must be a number$/)
    expectRange(() => native.msgSend(q, 0, bytes), /^mtype must be an integer from 1 to 9007199254740991$/)
    expectRange(() => native.msgSend(q, 1.5, bytes), /^mtype must be an integer/)
    expectRange(() => native.msgSend(q, 2 ** 53, bytes), /^mtype must be an integer/)
    expectType(() => any.msgReceiveNow(q, 'x', 10), /^mtype must be a number$/)
    expect(native.msgReceiveNow(q, 0, 10)).toBeNull() // any type: none queued
    expect(native.msgReceiveNow(q, -5, 10)).toBeNull()
    expectRange(() => native.msgReceiveNow(q, 1, -1), /^max must be an integer from 0/)
    expectRange(() => new native.SysvReceiver(q, 0, 10, fn), /^mtype must be an integer from 1/)
    expectType(() => new native.SysvReceiver(q, 1, 10, 'nope' as any), /^onBatch must be a function$/)
    expectRange(() => new native.SysvReceiver(q, 1, -1, fn), /^maxBytes must be an integer from 0/)
    expectType(() => new native.SysvSender(q, undefined as any), /^onProgress must be a function$/)
    const sender = new native.SysvSender(q, fn)
    try {
      expectType(() => (sender as any).push('1', bytes), /^mtype must be a number$/)
      expectRange(() => sender.push(-1, bytes), /^mtype must be an integer from 1/)
      expectType(() => (sender as any).push(1, 'x'), /^bytes must be a Uint8Array$/)
      expectType(() => (sender as any).push(1), /^bytes must be a Uint8Array$/)
    } finally {
      sender.close()
    }
    expect(native.msgStat(q).qnum).toBe(0) // nothing was sent
  })

  it('watchers check their arguments', () => {
    expectType(() => new native.FdWatcher(0, 'x' as any), /^onReady must be a function$/)
    expectType(() => new (native.FdWatcher as any)(), /^fd must be a number$/)
    const [r, w] = native.pipe2()
    const watcher = new native.FdWatcher(r, fn)
    try {
      expectType(() => (watcher as any).start('1'), /^events must be a number$/)
    } finally {
      watcher.close()
      native.closeFd(r)
      native.closeFd(w)
    }
    expectType(() => new (native.MarkWatcher as any)('1', 0, 1, fn), /^pid must be a number$/)
    expectRange(() => new native.MarkWatcher(0, 0, 1, fn), /^pid must be an integer from 1/)
    expectRange(() => new native.MarkWatcher(1, 0, -1, fn), /^ino must be an integer from 0/)
    expectType(() => new native.MarkWatcher(1, 0, 1, null as any), /^onGone must be a function$/)
  })
})
