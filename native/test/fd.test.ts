// Descriptors native owns: openFd (O_CLOEXEC always), closeFd, lockExclusive.
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { native } from '../lib/index.js'
import { errorOf, fdTarget } from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'ipc-native-fd-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const F = native.fdConstants

/** The fd's open flags, as /proc/self/fdinfo reports them (octal). */
const flagsOf = (fd: number): number => parseInt(/flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8)

describe('openFd / closeFd / lockExclusive', () => {
  it('openFd opens with O_CLOEXEC added; closeFd closes (EBADF the second time)', () => {
    const path = join(dir, 'a')
    const fd = native.openFd(path, F.O_CREAT | F.O_RDWR, 0o600)
    expect(fdTarget(fd)).toBe(path)
    expect(flagsOf(fd) & F.O_CLOEXEC).toBe(F.O_CLOEXEC)
    native.closeFd(fd)
    expect(fdTarget(fd)).not.toBe(path)
    const e = errorOf(() => native.closeFd(fd))
    expect(e.code).toBe('EBADF')
    expect(e.syscall).toBe('close')
  })

  it('O_NOFOLLOW refuses a symlink (ELOOP); a missing file is ENOENT', () => {
    const target = join(dir, 'target')
    writeFileSync(target, '')
    const link = join(dir, 'link')
    symlinkSync(target, link)
    const e = errorOf(() => native.openFd(link, F.O_RDONLY | F.O_NOFOLLOW, 0))
    expect(e.code).toBe('ELOOP')
    expect(e.syscall).toBe('open')
    expect(errorOf(() => native.openFd(join(dir, 'missing'), F.O_RDONLY, 0)).code).toBe('ENOENT')
  })

  it('lockExclusive: one open file holds the lock; closing it frees the lock', () => {
    const path = join(dir, 'lock')
    const a = native.openFd(path, F.O_CREAT | F.O_RDWR, 0o600)
    const b = native.openFd(path, F.O_RDWR, 0)
    try {
      expect(native.lockExclusive(a)).toBe(true)
      expect(native.lockExclusive(a)).toBe(true) // held already, through this open file
      expect(native.lockExclusive(b)).toBe(false)
      native.closeFd(a)
      expect(native.lockExclusive(b)).toBe(true)
    } finally {
      native.closeFd(b)
    }
  })
})
