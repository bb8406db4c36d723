// A process that holds what a test asks for until it is killed (SIGKILL: a crash) or told to end
// (SIGTERM: everything closed). Arguments: addresses to listen at; "connect:<address>" to connect
// to one of them; "posix-sem:/name" to create a POSIX named semaphore (removed at SIGTERM). Prints "ready" once all are held.
import { connect, listen } from '@ipc/core'
import '@ipc/fifo'
import '@ipc/mq'
import '@ipc/shm'
import '@ipc/socket'
import { Semaphore } from '@ipc/sem'

const held = []
for (const arg of process.argv.slice(2)) {
  if (arg.startsWith('connect:')) held.push(await connect(arg.slice('connect:'.length)))
  else if (arg.startsWith('posix-sem:')) held.push(await Semaphore.create(arg.slice('posix-sem:'.length), { initial: 1 }))
  else held.push(await listen(arg))
}
process.on('SIGTERM', async () => {
  for (const h of held.reverse()) await (h instanceof Semaphore ? h.unlink() : h.close())
  process.exit(0)
})
process.stdout.write('ready\n')
setInterval(() => {}, 1 << 30)
