// Every native object is released with its environment: a terminated Worker's watchers stop, its
// threads end, its descriptors are closed, and the process survives and exits by itself.
import { existsSync, mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { native } from '../lib/index.js'
import { FIXTURES, QueueDir, fdTarget, run, within } from './helpers.js'

/** Starts fixtures/mark-worker.mjs and resolves with what it made. */
async function markWorker(workerData: Record<string, unknown>): Promise<{ worker: Worker; made: any }> {
  const worker = new Worker(join(FIXTURES, 'mark-worker.mjs'), { workerData })
  const made = await within(
    new Promise((r, reject) => {
      worker.once('message', r)
      worker.once('error', reject)
    }),
    10_000,
    'the worker starts',
  )
  return { worker, made }
}

describe('Worker termination', () => {
  it('a Worker busy with every native object is terminated mid-activity 20 times: no FATAL, its marks end, its fds close, and the process exits by itself with 0', async () => {
    const queues = new QueueDir() // the fixture keys its queues by files in this folder
    try {
      const { code, signal, stdout, stderr } = await run([join(FIXTURES, 'survive-main.mjs'), '20', queues.dir], 60_000)
      expect(stderr).not.toMatch(/FATAL|Aborted|Segmentation|terminate called|open handles/)
      expect({ code, signal }).toEqual({ code: 0, signal: null })
      const report = JSON.parse(/^DONE (.*)$/m.exec(stdout)![1]!)
      expect(report).toMatchObject({ rounds: 20, mqClosed: 20, lockFree: 20, errors: [] })
      expect(report.markMsMax).toBeLessThan(1000)
      expect(report.fdAfter).toBe(report.fdBefore) // every descriptor of every Worker was closed
      expect(report.tasksAfter).toBeLessThanOrEqual(report.tasksBefore) // no thread left behind
    } finally {
      queues.remove()
      // /dev/mqueue is there only where the mqueue filesystem is mounted (containers have it; @ipc/mq's tests mount it)
      const mqueue = existsSync('/dev/mqueue') ? readdirSync('/dev/mqueue') : []
      for (const name of mqueue.filter((n) => n.startsWith('ipc-native-survive-'))) {
        try {
          unlinkSync(join('/dev/mqueue', name)) // only ones a failed run left (the fixture unlinks its own)
        } catch {
          // gone
        }
      }
    }
  }, 90_000)

  it("a terminated Worker's mq descriptor and lock file are closed (the lock is free again)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipc-native-worker-'))
    const mqName = `/ipc-native-test-${process.pid}-worker`
    const lockPath = join(dir, 'lock')
    try {
      const fdsBefore = readdirSync('/proc/self/fd').length
      const { worker, made } = await markWorker({ mqName, lockPath })
      expect(made.locked).toBe(true)
      expect(fdTarget(made.mqFd)).toBe(mqName)
      expect(fdTarget(made.lockFd)).toBe(lockPath)
      const F = native.fdConstants
      const probe = native.openFd(lockPath, F.O_RDWR, 0)
      try {
        expect(native.lockExclusive(probe)).toBe(false) // held by the Worker
        await worker.terminate()
        expect(fdTarget(made.mqFd)).not.toBe(mqName)
        expect(fdTarget(made.lockFd)).not.toBe(lockPath)
        expect(native.lockExclusive(probe)).toBe(true)
      } finally {
        native.closeFd(probe)
      }
      expect(readdirSync('/proc/self/fd').length).toBe(fdsBefore)
    } finally {
      try {
        native.mqUnlink(mqName)
      } catch {
        // never made
      }
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
