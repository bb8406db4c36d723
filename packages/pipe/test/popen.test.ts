// popen(): any program over real pipes — sort, cat, sh -c — with lines or bytes.
import { createServer } from 'node:net'
import { isIpcError } from '@ipc/core'
import { describe, expect, it } from 'vitest'
import { popen } from '../src/index.js'

describe('popen', () => {
  it('sort: lines in, end(), sorted lines out; exit code 0 ends the iteration', async () => {
    const sort = popen('sort')
    for (const w of ['pear', 'apple', 'fig', 'banana']) await sort.send(w)
    await sort.end()
    const out: string[] = []
    for await (const line of sort) out.push(line)
    expect(out).toEqual(['apple', 'banana', 'fig', 'pear'])
    expect(sort.exitCode).toBe(0)
    expect((await sort.closed).reason).toBe('peer')
    await expect(sort.send('late')).rejects.toMatchObject({ code: 'ERR_IPC_CLOSED' })
  })

  it("cat with the json codec is NDJSON both ways; 'bytes' carries chunks", async () => {
    const cat = popen<{ n: number; s: string }, { n: number; s: string }>('cat', [], { codec: 'json' })
    for (let n = 0; n < 1000; n++) await cat.send({ n, s: `line ${n} with "quotes" and\nnewline` })
    for (let n = 0; n < 1000; n++) expect(await cat.receive()).toEqual({ n, s: `line ${n} with "quotes" and\nnewline` })
    await cat.close()
    expect((await cat.closed).reason).toBe('local')
    const raw = popen<Uint8Array, Uint8Array>('cat', [], { framing: 'bytes' })
    const data = new Uint8Array(3 * 1024 * 1024).map((_, k) => (k * 13) & 255)
    const sending = (async () => {
      for (let at = 0; at < data.length; at += 100_000) await raw.send(data.subarray(at, at + 100_000))
      await raw.end()
    })()
    const chunks: Uint8Array[] = []
    for await (const chunk of raw) chunks.push(chunk)
    await sending
    expect(Buffer.compare(Buffer.concat(chunks), data)).toBe(0)
  })

  it("sh -c 'netstat -tln | grep <port>': a pipeline's output, line by line", async () => {
    const server = createServer().listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    const port = (server.address() as { port: number }).port
    try {
      const sh = popen('sh', ['-c', `netstat -tln | grep ${port}`])
      const lines: string[] = []
      for await (const line of sh) lines.push(line)
      expect(lines.length).toBeGreaterThanOrEqual(1)
      expect(lines[0]).toContain(`127.0.0.1:${port}`)
      expect(lines[0]).toContain('LISTEN')
    } finally {
      server.close()
    }
  })

  it('a non-zero exit closes with ERR_IPC_PEER_EXITED, the exit code and the tail of stderr; output before it is still given out', async () => {
    const sh = popen('sh', ['-c', 'echo first; echo oops >&2; exit 3'])
    expect(await sh.receive()).toBe('first')
    const info = await sh.closed
    expect(info).toMatchObject({ reason: 'error', error: { code: 'ERR_IPC_PEER_EXITED', details: { exitCode: 3 } } })
    expect(info.error?.message).toContain('oops')
    expect(sh.exitCode).toBe(3)
    expect(sh.stderr).toBe('oops\n')
    await expect(sh.receive()).rejects.toMatchObject({ code: 'ERR_IPC_PEER_EXITED' })
    const missing = popen('/nonexistent/program')
    expect(await missing.closed).toMatchObject({ reason: 'error', error: { code: 'ERR_IPC_SYSTEM' } })
  })

  it('a program that stops reading makes send() wait (memory bounded); an over-long line is ERR_IPC_MESSAGE_TOO_LARGE', async () => {
    const stuck = popen('sleep', ['30'], { highWaterMark: 64 * 1024 })
    const line = 'x'.repeat(16 * 1024)
    let accepted = 0
    for (;;) {
      const sent = stuck.send(line)
      const settled = await Promise.race([sent.then(() => true), new Promise((r) => setTimeout(r, 300, false))])
      if (!settled) {
        sent.catch(() => {})
        break
      }
      accepted++
      expect(accepted * line.length).toBeLessThan(64 * 1024 * 1024)
    }
    expect(stuck.stats.queuedBytes).toBeLessThanOrEqual(64 * 1024 + 2 * (line.length + 1))
    expect(stuck.trySend(line)).toBe(false)
    stuck.child.kill('SIGKILL')
    await stuck.closed
    const flood = popen('sh', ['-c', 'head -c 3000000 /dev/zero | tr "\\000" x'], { maxMessageSize: 1024 * 1024 })
    const err = await flood.receive().catch((e) => e)
    expect(isIpcError(err, 'ERR_IPC_MESSAGE_TOO_LARGE')).toBe(true)
    expect((await flood.closed).reason).toBe('error')
    const cat = popen('cat')
    await expect(cat.send('two\nlines')).rejects.toMatchObject({ code: 'ERR_IPC_INVALID_ARGUMENT' })
    await cat.close()
    expect(cat.exitCode).toBe(0)
  })
})
