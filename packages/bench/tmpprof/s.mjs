import { listen, connect } from '@ipc/core'
import { spawn } from 'node:child_process'
const addr = process.env.ADDR ?? 'mq:/profq'
const size = Number(process.env.SIZE ?? 64)
if (process.argv[2] === 'child') {
  const t = await connect(addr)
  const data = new Uint8Array(size)
  const end = Date.now() + 3000
  let seq = 0
  while (Date.now() < end) { for (let i = 0; i < 100; i++) await t.send({ seq: seq++, data }) }
  await t.send({ seq: -1, data, sent: seq })
  for await (const _ of t) {}
  await t.close()
} else {
  const l = await listen(addr)
  const child = spawn(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname, 'child'], { stdio: 'inherit' })
  const t = await l.accept(); await l.close()
  let n = 0; const t0 = performance.now()
  for await (const m of t) { if (m.seq === -1) break; n++ }
  const s = (performance.now() - t0) / 1000
  console.log(addr, size, Math.round(n / s), 'msg/s')
  await t.close()
}
