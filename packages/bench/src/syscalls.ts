/**
 * `node dist/syscalls.js <address> <streamMs>`: one stream of 64-byte messages over `address`,
 * this process listening and receiving, a child (`dist/child.js`) sending for `streamMs`; prints
 * `{"messages":N}` on stdout. `main.js` runs it under `strace -f -c` (both processes traced), once
 * streaming and once with `streamMs` 0 (start-up and handshake alone), and reports the difference
 * per message: the syscalls a message costs at saturation.
 */
import { type Transport, listen } from '@ipc/core'
import { END, type Msg } from './common.js'
import { reap, spawnChild } from './procs.js'

const [address, streamArg] = process.argv.slice(2) as [string, string]
const listener = await listen<Msg, Msg>(address)
const child = spawnChild({ name: 'shm', mode: 'stream', payloadBytes: 64, streamMs: Number(streamArg), address: listener.address })
const t: Transport<Msg, Msg> = await listener.accept({ timeout: 15_000 })
await listener.close()
let messages = 0
for await (const m of t) {
  if (m.seq === END) break
  messages++
}
await t.close()
await reap(child)
process.stdout.write(`${JSON.stringify({ messages })}\n`)
