// Promise 3 with Workers: a connection end inside a worker_threads Worker works like any other,
// and its termination is noticed by the other side; the process survives and exits by itself.
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { exitOf, firstReport } from '../peers.js'
import type { Kit } from '../util.js'

const WORKER_HOST = join(dirname(fileURLToPath(import.meta.url)), 'worker-host.js')

/** Cases with one side of a connection inside a Worker (mechanisms with listeners). */
export function workerCases(kit: Kit): void {
  const { target, cleanups } = kit
  const lt = target.listener
  if (!lt || !target.entry) return
  const entry = target.entry
  for (const side of ['client', 'listener'] as const) {
    it(`promise 3: the ${side} side inside a Worker: 1,000 messages both ways, then terminate() mid-stream is noticed within 1 s; the process survives and exits by itself`, async () => {
      const address = lt.fresh()
      const child = spawn(process.execPath, [WORKER_HOST, '--module', entry, '--address', address, '--side', side], { stdio: ['ignore', 'pipe', 'pipe'] })
      cleanups.push(() => (child.exitCode === null && child.signalCode === null ? child.kill('SIGKILL') : undefined))
      let stderr = ''
      child.stderr!.on('data', (d) => (stderr += String(d)))
      const report = await firstReport(child)
      expect(report).toMatchObject({ ok: true, exitCode1: 0, count1: 1000 })
      expect(['peer', 'peer-exited']).toContain(report.reason)
      expect(['ERR_IPC_CLOSED', 'ERR_IPC_PEER_EXITED']).toContain(report.receiveCode)
      expect(report.noticedMs).toBeLessThan(1000)
      const code = await Promise.race([exitOf(child), new Promise((r) => setTimeout(r, 10_000, 'still running 10 s after its report'))])
      expect(stderr).not.toMatch(/FATAL|Segmentation|Aborted/)
      expect(code).toBe(0)
      if (side === 'listener' && target.listener?.spawnListener) {
        // a terminated Worker's listener is a crashed one: its address is reclaimed by the next listen()
        const again = await lt.listen(address, {})
        await again.close()
      }
    }, 60_000)
  }
}
