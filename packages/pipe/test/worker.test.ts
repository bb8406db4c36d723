import { spawn as spawnNode } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PEER_SCRIPT, exitOf, firstReport } from '@ipc/core/testing'
import { describe, expect, it } from 'vitest'
import { spawn } from '../src/index.js'

const require = createRequire(import.meta.url)
const ENTRY = join(dirname(require.resolve('@ipc/pipe/package.json')), 'dist', 'index.js')
const here = dirname(fileURLToPath(import.meta.url))

// The conformance kit's Worker case needs a listener; pipes have none, so the same promise is
// checked here for both sides of a pipe.
describe('promise 3 with Workers (pipe)', () => {
  it('the parent side inside a Worker: 1,000 messages both ways, then terminate() mid-stream is noticed by the child within 1 s; the host exits by itself', async () => {
    const host = spawnNode(process.execPath, [join(here, 'fixtures', 'parent-in-worker.mjs'), ENTRY, PEER_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    host.stderr!.on('data', (d) => (stderr += String(d)))
    const report = await firstReport(host)
    expect(report).toMatchObject({ ok: true, exit1: 0 })
    expect(report.noticedMs).toBeLessThan(1000)
    expect(await exitOf(host)).toBe(0)
    expect(stderr).not.toMatch(/FATAL|Segmentation|Aborted|closed but not opened/)
  }, 60_000)

  it('the child side inside a Worker: 1,000 messages both ways, then terminate() mid-stream is noticed by the parent within 1 s; the child exits by itself', async () => {
    const { child, transport } = spawn(process.execPath, [join(here, 'fixtures', 'child-in-worker.mjs'), ENTRY], {
      spawn: { stdio: ['ignore', 'pipe', 'pipe'] },
    })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d) => (stdout += String(d)))
    child.stderr!.on('data', (d) => (stderr += String(d)))
    const sending = (async () => {
      for (let i = 0; i < 1000; i++) await transport.send({ i })
    })()
    let ok = true
    for (let i = 0; i < 1000; i++) if (((await transport.receive({ timeout: 20_000 })) as { i: number }).i !== i) ok = false
    await sending
    expect(ok).toBe(true)
    await transport.send({ terminate: true })
    const info = await transport.closed
    const closedAt = Date.now()
    expect(await exitOf(child)).toBe(0)
    const m = /TERMINATED (\d+)/.exec(stdout)
    expect(m).not.toBeNull()
    expect(['peer', 'peer-exited']).toContain(info.reason)
    expect(closedAt - Number(m![1])).toBeLessThan(1000)
    expect(stderr).not.toMatch(/FATAL|Segmentation|Aborted|closed but not opened/)
  }, 60_000)
})
