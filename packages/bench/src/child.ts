/**
 * The child program: the echo (ping-pong), source (stream) or sink (memory test) side of one
 * benchmark, for the name in its configuration (JSON in argv[2]).
 */
import { connect } from 'node:net'
import { type ChildConfig, isOurs } from './common.js'

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig

// Never outlive the parent: if it dies (even by SIGKILL), we are re-parented; then exit.
const parent = process.ppid
setInterval(() => {
  if (process.ppid !== parent) process.exit(3)
}, 250).unref()

async function sink(): Promise<void> {
  // connect and read nothing: the socket is paused at once, so only what Node reads before the
  // pause (at most its 16 KiB readable buffer) leaves the kernel's buffers
  const socket = connect(config.address!.replace(/^unix:/, ''))
  socket.pause()
  socket.on('error', () => process.exit(0))
  // stay until killed
  await new Promise<never>(() => setInterval(() => {}, 1 << 30))
}

async function main(): Promise<void> {
  if (isOurs(config.name)) return (await import('./peers/ours.js')).oursChild(config)
  switch (config.name) {
    case 'fork-json':
    case 'fork-advanced':
      return (await import('./peers/fork.js')).forkSide(config)
    case 'net-cork':
      return (await import('./peers/net-cork.js')).netCorkSide(config)
    case 'zeromq-ipc':
      return (await import('./peers/zeromq.js')).zeromqSide(config)
    case 'mem-sink':
      return sink()
    default:
      throw new Error(`unknown benchmark name ${JSON.stringify(config.name)}`)
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench child (${config.name} ${config.mode}): ${err?.stack ?? err}\n`)
    process.exit(1)
  },
)
