// A pattern peer in a process of its own, for the tests in processes.test.ts:
//   node peer.mjs <role> <address> <json options>
// It connects to <address> ('pipe:' when spawned by @ipc/pipe) and plays <role>, reporting JSON
// lines on stdout.
import { connect } from '@ipc/core'
import { puller, serve, subscriber } from '@ipc/patterns'

const [role, address, json = '{}'] = process.argv.slice(2)
const opts = JSON.parse(json)
const report = (value) => process.stdout.write(`${JSON.stringify(value)}\n`)

switch (role) {
  case 'subscriber': {
    // read `count` messages of `pattern`, checking they come in order (message.i = 0, 1, …)
    const sub = subscriber(address, opts.pattern, opts.slow ? { slow: opts.slow } : {})
    await sub.ready
    report({ ready: true })
    let expected = 0
    let ok = true
    try {
      for await (const { message, dropped } of sub) {
        if (message.i !== expected + dropped) ok = false
        expected = message.i + 1
        if (expected >= opts.count) break
      }
      report({ received: sub.stats.received, dropped: sub.stats.dropped, ok })
    } catch (err) {
      report({ error: err.code, received: sub.stats.received })
    }
    await sub.close()
    break
  }
  case 'subscribers': {
    // `n` subscribers in this process, each its own connection, each reading `count` messages in order
    const subs = Array.from({ length: opts.n }, () => subscriber(address, opts.pattern))
    await Promise.all(subs.map((s) => s.ready))
    report({ ready: true })
    const results = await Promise.all(
      subs.map(async (sub) => {
        let expected = 0
        let ok = true
        for await (const { message, dropped } of sub) {
          if (message.i !== expected + dropped) ok = false
          expected = message.i + 1
          if (expected >= opts.count) break
        }
        await sub.close()
        return { received: sub.stats.received, dropped: sub.stats.dropped, ok }
      }),
    )
    report({ results })
    break
  }
  case 'puller': {
    // take jobs one at a time; SIGKILL this process in the middle of job `dieOn`
    const jobs = puller(address, { concurrency: opts.concurrency ?? 1 })
    await jobs.ready
    report({ ready: true })
    await jobs.process(async (n, job) => {
      report({ got: n, attempt: job.attempt })
      if (n === opts.dieOn) {
        await new Promise((r) => setTimeout(r, 20)) // mid-job
        process.kill(process.pid, 'SIGKILL')
      }
      await new Promise((r) => setImmediate(r))
      report({ done: n })
    })
    report({ ended: true })
    break
  }
  case 'rpc-server': {
    let running = 0
    let most = 0
    let produced = 0
    // serve `wait`: resolves never; reports how long after the call's deadline its signal fired
    const t = await connect(address)
    report({ ready: true })
    await serve(t, {
      wait: (_, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            report({ aborted: true, late: ctx.deadline === undefined ? null : performance.now() - ctx.deadline, reason: ctx.signal.reason?.code ?? null })
            reject(ctx.signal.reason)
          })
        }),
      add: ([a, b]) => a + b,
      // for the flood: each call holds a slot for a turn of the loop; `most` says how many ran at once
      work: async (i) => {
        running++
        most = Math.max(most, running)
        await new Promise((r) => setImmediate(r))
        running--
        return i * 2
      },
      most: () => most,
      // a stream, and how far its producer got (to check credit bounds it)
      items: async function* (n) {
        for (let i = 0; i < n; i++) {
          produced++
          yield i
        }
      },
      produced: () => produced,
    })
    report({ ended: true })
    break
  }
  default:
    throw new Error(`unknown role ${role}`)
}
