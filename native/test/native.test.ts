import { spawn } from 'node:child_process'
import { closeSync, mkdtempSync, readSync, rmSync, writeSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { native } from '../lib/index.js'
import { errorOf, fdTarget } from './helpers.js'

describe('@ipc/native', () => {
  it('loads on this Node through Node-API 8+ (.ci/run checks the version printed here)', () => {
    console.log(`@ipc/native on node ${process.version}, Node-API ${process.versions.napi}`)
    expect(Number(process.versions.napi)).toBeGreaterThanOrEqual(8)
    expect(native.PIPE_BUF).toBe(4096)
  })

  it('pipe2 gives a working close-on-exec pipe', () => {
    const [r, w] = native.pipe2()
    try {
      expect(writeSync(w, Buffer.from('hello'))).toBe(5)
      const buf = Buffer.alloc(16)
      expect(readSync(r, buf, 0, 16, null)).toBe(5)
      expect(buf.subarray(0, 5).toString()).toBe('hello')
      expect(native.getPipeSize(r)).toBeGreaterThanOrEqual(4096)
      expect(native.setPipeSize(w, 1 << 20)).toBeGreaterThanOrEqual(1 << 20)
    } finally {
      closeSync(r)
      closeSync(w)
    }
  })

  it('errno errors carry code, errno and syscall', () => {
    const caught = errorOf(() => native.getPipeSize(987654))
    expect(caught).toBeInstanceOf(Error)
    expect(caught.code).toBe('EBADF')
    expect(caught.errno).toBe(-9)
    expect(caught.syscall).toBe('fcntl')
    expect(caught.message).toBe('fcntl: EBADF (Bad file descriptor)')
  })

  it('PidWatcher fires once when a process is killed, without polling', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    await new Promise((r) => child.once('spawn', r))
    const start = performance.now()
    let fired = 0
    const at = await new Promise<number>((resolve) => {
      const w = new native.PidWatcher(child.pid!, () => {
        fired++
        resolve(performance.now())
      })
      expect(w.exited()).toBe(false)
      w.ref()
      child.kill('SIGKILL')
    })
    expect(at - start).toBeLessThan(1000)
    await new Promise((r) => setImmediate(r))
    expect(fired).toBe(1)
  })

  it('PidWatcher closes its pidfd with closeFd', () => {
    const w = new native.PidWatcher(process.pid, () => {})
    const fd = (w as any).fd as number
    expect(fdTarget(fd)).toBe('anon_inode:[pidfd]')
    w.close()
    expect(fdTarget(fd)).not.toBe('anon_inode:[pidfd]')
    w.close() // idempotent
  })

  it('PidWatcher rejects a pid that does not exist', () => {
    const caught = errorOf(() => new native.PidWatcher(0x3fffffff, () => {}))
    expect(caught?.code).toBe('ESRCH')
    expect(caught?.syscall).toBe('pidfd_open')
  })

  it('peerCred reports our own pid and uid over a Unix socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipc-native-'))
    const path = join(dir, 's')
    const server = createServer()
    await new Promise<void>((r) => server.listen(path, r))
    try {
      const accepted = new Promise<any>((r) => server.once('connection', r))
      const client = connect(path)
      const sock = await accepted
      const cred = native.peerCred((sock as any)._handle.fd)
      expect(cred).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() })
      client.destroy()
      sock.destroy()
    } finally {
      await new Promise((r) => server.close(r))
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
