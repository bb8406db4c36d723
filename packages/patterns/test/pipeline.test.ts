import { type Transport, memoryPair } from '@ipc/core'
import { describe, expect, it } from 'vitest'
import { type Puller, type Pusher, puller, pusher } from '../src/index.js'
import { W } from '../src/pipeline-wire.js'

function pair<T>(jobs: Pusher<T>, concurrency = 1): Puller<T> {
  const [a, b] = memoryPair()
  jobs.attach(a)
  return puller<T>(b, { concurrency })
}

describe('work queues over the in-memory link', () => {
  it('hands jobs only to pullers with credit, round robin, and push() waits while none has any', async () => {
    const jobs = await pusher<number>(undefined)
    const early = jobs.push(0) // nobody yet: it waits
    let settled = false
    void early.then(() => (settled = true))
    await new Promise((r) => setImmediate(r))
    expect(settled).toBe(false)
    expect(jobs.stats.waiting).toBe(1)
    const workers = [pair(jobs), pair(jobs), pair(jobs)]
    await Promise.all(workers.map((w) => w.ready))
    await early
    const got: number[][] = [[], [], []]
    const runs = workers.map(async (w, k) => {
      for await (const job of w) {
        got[k]!.push(job.data)
        if (job.data === -1) break
      }
    })
    for (let i = 1; i < 300; i++) await jobs.push(i)
    for (let k = 0; k < 3; k++) await jobs.push(-1)
    await Promise.all(runs)
    const all = got.flat().filter((n) => n >= 0)
    expect(all.sort((a, b) => a - b)).toEqual([...Array(300)].map((_, k) => k))
    for (const list of got) expect(list.length).toBeGreaterThan(50) // shared, not all to one
    expect(jobs.stats).toMatchObject({ pushed: 303, delivered: 303, inFlight: 0, waiting: 0 })
    await jobs.close()
  })

  it('with ack: a puller that goes away holding a job gives it back; it is done by another, acknowledged once', async () => {
    const done: number[] = []
    const jobs = await pusher<number>(undefined, { ack: true })
    const quitter = pair(jobs, 2)
    await quitter.ready
    await jobs.push(1)
    await jobs.push(2)
    const first = await quitter.receive()
    expect(first.data).toBe(1)
    first.ack()
    const second = await quitter.receive()
    expect(second).toMatchObject({ data: 2, attempt: 1 })
    await quitter.close() // without acknowledging job 2
    const worker = pair(jobs)
    const draining = jobs.drain()
    for await (const job of worker) {
      done.push(job.data)
      expect(job.attempt).toBe(2)
      job.ack()
      break
    }
    await draining
    expect(done).toEqual([2])
    expect(jobs.stats).toMatchObject({ acked: 2, redelivered: 1, inFlight: 0 })
    await jobs.close()
  })

  it('with ack: a failed job goes to a puller again, and to onDeadLetter after maxAttempts', async () => {
    const dead: [number, string][] = []
    const jobs = await pusher<number>(undefined, { ack: true, maxAttempts: 3, onDeadLetter: (job, reason) => dead.push([job, reason]) })
    const worker = pair(jobs)
    const attempts: number[] = []
    const processing = worker.process((n, job) => {
      attempts.push(job.attempt)
      if (n === 13) throw new Error('unlucky')
    })
    await jobs.push(13)
    await jobs.push(14)
    await jobs.drain()
    expect(attempts).toEqual([1, 2, 3, 1])
    expect(dead).toEqual([[13, expect.stringContaining('unlucky')]])
    expect(jobs.stats).toMatchObject({ acked: 1, deadLettered: 1, redelivered: 2 })
    await jobs.close()
    await processing // ends when the pusher closes
    expect(worker.stats).toEqual({ received: 4, acked: 1, failed: 3 })
  })

  it('process() runs up to concurrency jobs at once', async () => {
    const jobs = await pusher<number>(undefined)
    const worker = pair(jobs, 4)
    let running = 0
    let most = 0
    const processing = worker.process(async () => {
      running++
      most = Math.max(most, running)
      await new Promise((r) => setTimeout(r, 5))
      running--
    })
    for (let i = 0; i < 40; i++) await jobs.push(i)
    await jobs.drain()
    await jobs.close()
    await processing
    expect(most).toBe(4)
    expect(worker.stats.acked).toBe(40)
  })

  it('a hostile puller closes only its own transport', async () => {
    const jobs = await pusher<number>(undefined, { ack: true })
    const good = pair(jobs)
    await good.ready
    const hostile: Transport<unknown, unknown>[] = []
    for (const junk of ['x', [W.CREDIT, 0], [W.CREDIT, 1e9], [W.DONE, 1], [77, 1], [W.FAIL, 1]]) {
      const [a, b] = memoryPair()
      jobs.attach(a)
      await b.send(junk)
      hostile.push(b)
    }
    for (const h of hostile) {
      expect(await h.receive()).toEqual([W.BYE, 'ERR_IPC_DECODE', expect.any(String)])
      expect((await h.closed).reason).toBe('peer')
    }
    await jobs.push(5)
    const job = await good.receive()
    expect(job.data).toBe(5)
    job.ack()
    await jobs.drain()
    expect(jobs.workers).toBe(1)
    await jobs.close()
  })

  it('a pusher sending more jobs than the credit ends the puller with ERR_IPC_DECODE', async () => {
    const [a, b] = memoryPair()
    const worker = puller(b)
    expect(await a.receive()).toEqual([W.CREDIT, 1])
    await a.send([W.JOB, 0, 1, 'a'])
    await a.send([W.JOB, 1, 1, 'b'])
    expect((await worker.receive()).data).toBe('a')
    await expect(worker.receive()).rejects.toMatchObject({ code: 'ERR_IPC_DECODE' })
  })
})
