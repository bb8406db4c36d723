// A nats peer process for the broker tests: node peer.mjs <role> <address> [n]. It reports JSON
// lines on stdout and never calls process.exit: it must end by itself once its transport is gone.
import { connect } from '@ipc/core'
import '@ipc/nats'

const [role, address, arg] = process.argv.slice(2)
const report = (value) => process.stdout.write(`${JSON.stringify(value)}\n`)
const t = await connect(address)
report({ ready: true })
if (role === 'echo') {
  let count = 0
  try {
    for await (const m of t) {
      count++
      await t.send(m)
    }
  } catch {}
  const info = await t.closed
  report({ count, reason: info.reason, code: info.error?.code ?? null })
} else if (role === 'source') {
  // send <count> numbered messages of <size> bytes as fast as backpressure allows, then wait for the close
  const [count, size] = arg.split(':').map(Number)
  const pad = new Uint8Array(size).fill(9)
  try {
    for (let i = 0; i < count; i++) await t.send({ i, pad })
    report({ sent: count })
  } catch {}
  await t.closed
} else if (role === 'count') {
  // read numbered messages, check order, report every 10,000 and at the end
  let expected = 0
  let ok = true
  try {
    for await (const m of t) {
      if (m.i !== expected) ok = false
      expected++
      if (expected % 10_000 === 0) report({ progress: expected })
      if (expected === Number(arg)) break
    }
  } catch {}
  report({ received: expected, ok })
  await t.close()
}
