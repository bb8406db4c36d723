import { spawn } from 'node:child_process'
import { ftruncateSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { isIpcError } from '@ipc/core'
import { exitOf } from '@ipc/core/testing'
import { native } from '@ipc/native'
import { describe, expect, it } from 'vitest'
import { createSegment, openSegment } from '../src/segment.js'
import { ENTRY } from './targets.js'

const entry = JSON.stringify(pathToFileURL(ENTRY).href)

describe('shm: segments for applications', () => {
  it('another process opens the segment from its handle and sees and changes the same bytes', async () => {
    const seg = createSegment(1 << 20)
    const bytes = new Uint8Array(seg.buffer)
    expect(bytes.length).toBe(1 << 20)
    expect(bytes.every((b) => b === 0)).toBe(true)
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096) & 0xff
    const script =
      `const { openSegment } = await import(${entry}); const s = openSegment(${JSON.stringify(seg.handle)});` +
      ' const b = new Uint8Array(s.buffer); let ok = true; for (let i = 0; i < b.length; i += 4096) if (b[i] !== ((i / 4096) & 255)) ok = false;' +
      ' b[1] = 42; s.close(); console.log(ok ? "SEEN" : "WRONG")'
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout!.on('data', (d) => (out += d))
    expect(await exitOf(child)).toBe(0)
    expect(out.trim()).toBe('SEEN')
    expect(bytes[1]).toBe(42)
    seg.close()
  })

  it('close() detaches the buffer: every view becomes empty, never a dangling mapping', () => {
    const seg = createSegment(8192)
    const view = new Uint8Array(seg.buffer)
    const words = new Int32Array(seg.buffer)
    Atomics.store(words, 0, 7)
    expect(Atomics.load(words, 0)).toBe(7)
    seg.close()
    seg.close()
    expect(seg.buffer.byteLength).toBe(0)
    expect(view.length).toBe(0)
    expect(words.length).toBe(0)
  })

  it('cannot be shrunk or grown (sealed): no SIGBUS for anyone who mapped it', () => {
    const seg = createSegment(65536)
    for (const length of [0, 4096, 1 << 20]) expect(() => ftruncateSync(seg.handle.fd, length)).toThrow(/EPERM/)
    new Uint8Array(seg.buffer)[65535] = 1
    seg.close()
  })

  it('bad handles and sizes are coded errors', () => {
    const seg = createSegment(4096)
    const pipe = native.doorbellPipe()
    const cases: [() => unknown, string][] = [
      [() => createSegment(0), 'ERR_IPC_INVALID_ARGUMENT'],
      [() => createSegment(1.5), 'ERR_IPC_INVALID_ARGUMENT'],
      [() => openSegment({ pid: process.pid, fd: pipe.read, size: 4096 }), 'ERR_IPC_INVALID_ARGUMENT'],
      [() => openSegment({ ...seg.handle, size: 8192 }), 'ERR_IPC_INVALID_ARGUMENT'],
      [() => openSegment({ pid: process.pid, fd: 999_999, size: 4096 }), 'ERR_IPC_INVALID_ARGUMENT'],
      [() => openSegment(null as never), 'ERR_IPC_INVALID_ARGUMENT'],
    ]
    for (const [call, code] of cases) {
      let error: unknown
      try {
        call()
      } catch (err) {
        error = err
      }
      expect(isIpcError(error, code as never), String(error)).toBe(true)
    }
    native.closeFd(pipe.read)
    native.closeFd(pipe.write)
    seg.close()
  })

  it('a Worker that opened the segment can be terminated while it writes; the process lives on', async () => {
    const seg = createSegment(4096)
    const words = new Int32Array(seg.buffer)
    const worker = new Worker(
      `import(${entry}).then(({ openSegment }) => { const s = openSegment(${JSON.stringify(seg.handle)}); const w = new Int32Array(s.buffer);` +
        ' for (;;) Atomics.add(w, 0, 1) })',
      { eval: true },
    )
    while (Atomics.load(words, 0) < 1000) await new Promise((r) => setTimeout(r, 5))
    await worker.terminate()
    const after = Atomics.load(words, 0)
    await new Promise((r) => setTimeout(r, 20))
    expect(Atomics.load(words, 0)).toBe(after) // nothing writes any more
    seg.close()
  })
})
