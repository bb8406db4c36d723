import { connect, listen } from '@ipc/core'
import '@ipc/socket'
import { spawn } from 'node:child_process'
const N = 1_500_000
if (process.argv[2] === 'child') {
  const t = await connect(process.argv[3])
  const data = new Uint8Array(64).fill(5)
  const t0 = performance.now()
  for (let seq = 0; seq < N; seq++) await t.send({ seq, data })
  await t.send({ seq: -2, data })
  process.stderr.write(`child send loop ${(performance.now() - t0).toFixed(0)} ms\n`)
  for await (const _ of t) {}
} else {
  const addr = 'unix:/tmp/probe/tp.sock'
  const server = await listen(addr)
  const child = spawn(process.execPath, [...(process.env.CHILD_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/probe/prof'] : []), process.argv[1], 'child', addr], { stdio: 'inherit' })
  const t = await server.accept()
  await server.close()
  let n = 0, t0 = 0
  for await (const m of t) { if (n === 0) t0 = performance.now(); if (m.seq === -2) break; if (m.seq !== n) throw new Error('order'); n++ }
  const s = (performance.now() - t0) / 1000
  console.log(`ours: ${n} msgs in ${s.toFixed(2)} s = ${(n / s / 1000).toFixed(0)}k msgs/s`)
  await t.close(); await new Promise(r => child.once('exit', r))
}
