import { describe, expect, it } from 'vitest'
import { MARK_REF_BYTES, formatMarkRef, parseMarkRef, readMarkRef, watchMark, writeMarkRef } from '../src/mechanism/liveness.js'

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`open: ${code}`), { code, syscall: 'open' })

describe('liveness mark references', () => {
  it('round-trip in binary and text, large inodes included; junk is refused', () => {
    const ref = { pid: 4_194_303, fd: 1_048_575, ino: 2 ** 40 + 7 }
    const bytes = new Uint8Array(MARK_REF_BYTES + 3)
    writeMarkRef(ref, bytes, 3)
    expect(readMarkRef(bytes, 3)).toEqual(ref)
    expect(readMarkRef(bytes, 4)).toBeUndefined() // too short
    expect(parseMarkRef(formatMarkRef(ref))).toEqual(ref)
    for (const junk of ['', '1.2', '0.1.1', '1.2.3.4', 'a.b.c', '1.2.99999999999999999']) expect(parseMarkRef(junk), junk).toBeUndefined()
  })

  it('a mark whose owner is gone already reports gone on a later tick; a denied one is ERR_IPC_PERMISSION naming the cause', async () => {
    const ref = { pid: 1, fd: 3, ino: 9 }
    let gone = 0
    watchMark(
      ref,
      () => {
        throw errno('ENOENT')
      },
      () => gone++,
      'test',
    )
    expect(gone).toBe(0)
    await new Promise((r) => setImmediate(r))
    expect(gone).toBe(1)
    let err: unknown
    try {
      watchMark(
        ref,
        () => {
          throw errno('EACCES')
        },
        () => {},
        'connect x',
      )
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ code: 'ERR_IPC_PERMISSION' })
    expect((err as Error).message).toMatch(/another user|not dumpable|pid namespace/)
  })
})
