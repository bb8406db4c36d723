import { connect, listen } from '@ipc/core'
import '@ipc/nats'
import { fork } from 'node:child_process'
const url = 'nats://127.0.0.1:37891/pp' + (process.env.Q ?? '')
if (process.argv[2] === 'echo') {
  const t = await connect(url)
  for await (const m of t) await t.send(m)
} else {
  const l = await listen(url)
  const child = fork(new URL(import.meta.url), ['echo'])
  const t = await l.accept()
  await l.close()
  const data = new Uint8Array(64)
  const rt = []
  for (let i = 0; i < 12000; i++) { const t0 = performance.now(); await t.send({ seq: i, data }); await t.receive(); if (i >= 2000) rt.push(performance.now() - t0) }
  rt.sort((a, b) => a - b); console.log('ours p50 us', (rt[rt.length >> 1] * 1000).toFixed(1))
  await t.close(); child.kill()
}
