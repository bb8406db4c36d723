// POSIX message queues: mqOpen/mqSend/mqReceiveMany (the record format), mqGetattr, mqUnlink.
import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { native } from '../lib/index.js'
import { errorOf, fdTarget } from './helpers.js'

const K = native.mqConstants
let n = 0
const made: { name: string; fd: number }[] = []
afterEach(() => {
  for (const { name, fd } of made.splice(0)) {
    try {
      native.closeFd(fd)
    } catch {
      // closed by the test
    }
    try {
      native.mqUnlink(name)
    } catch {
      // unlinked by the test
    }
  }
})

function queue(maxmsg: number, msgsize: number): { name: string; fd: number } {
  const name = `/ipc-native-test-${process.pid}-${++n}`
  const fd = native.mqOpen(name, K.O_CREAT | K.O_EXCL | K.O_RDWR | K.O_NONBLOCK, 0o600, maxmsg, msgsize)
  const q = { name, fd }
  made.push(q)
  return q
}

/** Parses mqReceiveMany's records: [u32 length][u32 priority][bytes], little-endian. */
function records(out: Buffer, used: number): { priority: number; bytes: Buffer }[] {
  const list: { priority: number; bytes: Buffer }[] = []
  let at = 0
  while (at < used) {
    const length = out.readUInt32LE(at)
    list.push({ priority: out.readUInt32LE(at + 4), bytes: out.subarray(at + 8, at + 8 + length) })
    at += 8 + length
  }
  expect(at).toBe(used)
  return list
}

describe('POSIX message queues', () => {
  it('mqOpen gives a close-on-exec fd with the attributes asked for; closeFd closes it', () => {
    const { name, fd } = queue(4, 128)
    expect(native.mqGetattr(fd)).toEqual({ maxmsg: 4, msgsize: 128, curmsgs: 0 })
    expect(parseInt(/flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8) & K.O_CLOEXEC).toBe(K.O_CLOEXEC)
    expect(fdTarget(fd)).toBe(name)
    native.closeFd(fd)
    expect(fdTarget(fd)).not.toBe(name)
    expect(errorOf(() => native.mqOpen(name, K.O_CREAT | K.O_EXCL | K.O_RDWR, 0o600, 4, 128)).code).toBe('EEXIST')
  })

  it('mqReceiveMany: records [u32 length][u32 priority][bytes], highest priority first, FIFO within one', () => {
    const { fd } = queue(8, 64)
    expect(native.mqSend(fd, -1, Buffer.from('a'), 1)).toBe(true)
    expect(native.mqSend(fd, -1, Buffer.from('bbb'), 5)).toBe(true)
    expect(native.mqSend(fd, 7, Buffer.from('cc'), 3)).toBe(true) // tag 7 goes first, as a u32 LE
    expect(native.mqSend(fd, -1, Buffer.alloc(0), 3)).toBe(true)
    expect(native.mqSend(fd, 0xffffffff, Buffer.from('d'), 0)).toBe(true)
    expect(native.mqGetattr(fd).curmsgs).toBe(5)
    const out = Buffer.alloc(5 * (64 + 8))
    const used = native.mqReceiveMany(fd, out, 64)
    const got = records(out, used)
    expect(got.map((r) => r.priority)).toEqual([5, 3, 3, 1, 0])
    expect(got[0]!.bytes.toString()).toBe('bbb')
    expect([...got[1]!.bytes]).toEqual([7, 0, 0, 0, 0x63, 0x63])
    expect(got[2]!.bytes.length).toBe(0)
    expect(got[3]!.bytes.toString()).toBe('a')
    expect([...got[4]!.bytes]).toEqual([0xff, 0xff, 0xff, 0xff, 0x64])
    expect(used).toBe(8 * 5 + 3 + 6 + 0 + 1 + 5)
    expect(native.mqReceiveMany(fd, out, 64)).toBe(0) // drained: EAGAIN is not an error
  })

  it('mqReceiveMany takes only what fits whole; the rest stays queued', () => {
    const { fd } = queue(8, 64)
    for (let i = 0; i < 3; i++) native.mqSend(fd, -1, Buffer.from([i]), 0)
    expect(native.mqReceiveMany(fd, Buffer.alloc(64 + 8 - 1), 64)).toBe(0) // no room for a whole msgsize
    // room for a whole msgsize record is checked before each receive: 89 bytes take two 1-byte ones
    // (9 used, 80 left: one more; 18 used, 71 left: no room for 64 + 8)
    const out = Buffer.alloc(2 * 9 + 71)
    const got = records(out, native.mqReceiveMany(fd, out, 64))
    expect(got.map((r) => r.bytes[0])).toEqual([0, 1])
    expect(native.mqGetattr(fd).curmsgs).toBe(1)
    // a msgsize smaller than the queue's is the kernel's EMSGSIZE
    expect(errorOf(() => native.mqReceiveMany(fd, out, 8)).code).toBe('EMSGSIZE')
  })

  it('mqSend returns false on a full queue; an oversized message is EMSGSIZE', () => {
    const { fd } = queue(2, 64)
    expect(native.mqSend(fd, -1, Buffer.from('1'), 0)).toBe(true)
    expect(native.mqSend(fd, -1, Buffer.from('2'), 0)).toBe(true)
    expect(native.mqSend(fd, -1, Buffer.from('3'), 0)).toBe(false)
    const e = errorOf(() => native.mqSend(fd, 1, Buffer.alloc(61), 0)) // 4 tag bytes + 61 > 64
    expect(e.code).toBe('EMSGSIZE')
    expect(e.syscall).toBe('mq_send')
  })
})
