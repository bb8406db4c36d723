import { listen, connect } from '@ipc/core'
const addr = 'shm:/soakdbg'
if (process.argv[2] === 'child') {
  const t = await connect(addr, { capacity: '16KiB' })
  for (let i = 0; i < 50; i++) { const data = new Uint8Array((i * 13) % 3000).map((_, k) => (k * 7 + i) & 255); let sum = i; for (const b of data) sum = (sum * 31 + b) >>> 0; await t.send({ i, data, sum }) }
  await t.close()
} else {
  const { spawn } = await import('node:child_process')
  const l = await listen(addr)
  spawn(process.execPath, [new URL(import.meta.url).pathname, 'child'], { stdio: 'inherit' })
  const t = await l.accept()
  for await (const m of t) { let sum = m.i; for (const b of m.data) sum = (sum * 31 + b) >>> 0; if (sum !== m.sum || m.data.length !== (m.i*13)%3000) { console.log('BAD', m.i, m.data.length, m.sum, sum, Buffer.from(m.data).subarray(0,16)); } }
  console.log('done'); await l.close()
}
