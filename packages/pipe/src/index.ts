/**
 * `@ipc/pipe` — anonymous pipes between a parent and the child it spawns, behind the ipc
 * `Transport`. Real `pipe2()` pipes (one per direction), not the socketpair that Node's
 * `stdio: 'pipe'` gives, passed to the child beside its stdio, which stays free for you.
 *
 * - Parent: `const { child, transport } = spawn(command, args, options)`.
 * - Child: `const transport = fromParent(options)`.
 * - Any program (`sort`, `grep`, a Python filter): `const t = popen(command, args, { framing: 'lines' })`,
 *   a transport over its stdin and stdout.
 *
 * Each side watches the other process through a pidfd, so an exit, even by SIGKILL, closes the
 * transport with `'peer-exited'` at once. In such a child, `connect('pipe:')` from `@ipc/core` is
 * the same as `fromParent()`, so a program that takes its address from configuration runs as a
 * pipe child unchanged.
 *
 * @packageDocumentation
 */
import { IpcError } from '@ipc/core'
import { registerScheme } from '@ipc/core/mechanism'
import { fromParent as openFromParent } from './spawn.js'
export { PIPE_ENV, type PipeChild, type PipeSpawnOptions, fromParent, spawn } from './spawn.js'
export { type PopenFraming, type PopenOptions, type PopenTransport, popen } from './popen.js'

// `pipe:` (or `pipe:parent`) in a child started by spawn() connects to the parent, so a program
// that takes its address from configuration runs unchanged as a pipe child. There is no listener:
// the parent side is spawn().
registerScheme('pipe', {
  async connect(address, options) {
    if (address.target !== '' && address.target !== 'parent') {
      throw new IpcError(
        'ERR_IPC_INVALID_ADDRESS',
        `pipe: addresses are "pipe:" or "pipe:parent" (the parent of a child started by spawn()), got "${address.text}"`,
      )
    }
    return openFromParent(options)
  },
  options: {},
  sampleAddresses: () => ['pipe:'],
  async listen(address) {
    throw new IpcError('ERR_IPC_UNSUPPORTED', `${address.text}: pipes have no listener; the parent starts the child with spawn() from @ipc/pipe`)
  },
})
