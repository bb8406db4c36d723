import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { describeConformance, peerCommand } from '@ipc/core/testing'
import { spawn } from '../src/index.js'

const require = createRequire(import.meta.url)
const ENTRY = join(dirname(require.resolve('@ipc/pipe/package.json')), 'dist', 'index.js')

/** A child that writes raw bytes into its pipe to us (and closes that pipe if `end`), then idles. */
const RAW_WRITER = `
const fs = require('node:fs')
const [, w] = process.env.IPC_PIPE.split(',').map(Number)
fs.writeSync(w, Buffer.from(process.argv[1], 'hex'))
if (process.argv[2] === 'end') fs.closeSync(w)
setInterval(() => {}, 1000)
`

describeConformance({
  name: 'pipe',
  killedPeerReason: 'peer-exited',
  boundaries: [64 * 1024, 1024 * 1024],
  async startPeer(role, options) {
    const { child, transport } = spawn(process.execPath, peerCommand(ENTRY, { call: 'fromParent' }, role, options), {
      ...options,
      spawn: { stdio: ['ignore', 'pipe', 'inherit'] },
    })
    return { child, transport }
  },
  async injectRaw(bytes, end, options) {
    const { child, transport } = spawn(process.execPath, ['-e', RAW_WRITER, Buffer.from(bytes).toString('hex'), end ? 'end' : 'open'], {
      ...options,
      spawn: { stdio: ['ignore', 'ignore', 'inherit'] },
    })
    return { child, transport }
  },
})
