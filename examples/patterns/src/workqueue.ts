/**
 * A work queue with acknowledgements: three worker processes square numbers; the one that gets
 * job 42 dies in the middle of it, and another worker then does it. Run: `node dist/workqueue.js`.
 */
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { puller, pusher } from '@ipc/patterns'

if (process.argv[2] === 'worker') {
  const jobs = puller<number>(process.argv[3]!, { concurrency: 2 })
  await jobs.process(async (n, job) => {
    if (n === 42 && job.attempt === 1) process.exit(1) // whoever gets 42 first dies holding it: it is not acknowledged
    await new Promise((r) => setTimeout(r, 1))
    process.send!({ n, square: n * n })
  })
} else {
  const dir = mkdtempSync(join(tmpdir(), 'ipc-example-'))
  const jobs = await pusher<number>(`unix:${dir}/squares.sock`, { ack: true })
  const squares = new Map<number, number>()
  let allIn!: () => void
  const allReported = new Promise<void>((resolve) => (allIn = resolve))
  const workers = [1, 2, 3].map(() => fork(new URL(import.meta.url), ['worker', jobs.address!]))
  for (const w of workers) {
    w.on('message', (m: { n: number; square: number }) => {
      squares.set(m.n, m.square)
      if (squares.size === 200) allIn()
    })
  }
  for (let n = 0; n < 200; n++) await jobs.push(n)
  await jobs.drain() // every job acknowledged …
  await allReported // … and every result here (the results come over the fork channel, a path of their own)
  console.log(`squares of 0..199 done: ${squares.size}; 42² = ${squares.get(42)}`)
  console.log('pusher:', jobs.stats)
  await jobs.close()
  rmSync(dir, { recursive: true, force: true })
}
