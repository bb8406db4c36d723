import { closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { type ConformanceTarget, addressTarget } from '@ipc/core/testing'
import { native } from '@ipc/native'
import '../src/index.js'
import { randomBytes } from 'node:crypto'
import { READY } from '../src/handshake.js'
import { formatHello, makeToken } from '../src/hello.js'
import { pairPaths } from '../src/rendezvous.js'

const require = createRequire(import.meta.url)
/** The built entry of this package, for peer processes. */
export const ENTRY = join(dirname(require.resolve('@ipc/fifo/package.json')), 'dist', 'index.js')

/** A private folder for FIFOs; `leftovers()` lists everything left in it (recursively). */
export function fifoFolder() {
  const dir = mkdtempSync(join(tmpdir(), 'ipc-fifo-test-'))
  let n = 0
  return {
    dir,
    fresh: () => `fifo:${join(dir, `f${++n}`)}`,
    leftovers: async () => readdirSync(dir, { recursive: true }) as string[],
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  }
}

const { O_RDONLY, O_WRONLY, O_NONBLOCK } = (await import('node:fs')).constants

/**
 * A misbehaving client done by hand: the real handshake (pair, hello, ack, ready), then `bytes`
 * raw on the client→server FIFO. Returns a function that closes its ends (`end`) when called.
 */
export async function rawClient(address: string, bytes: Uint8Array): Promise<() => void> {
  const wellKnown = address.slice('fifo:'.length)
  const token = makeToken(process.pid, randomBytes(8).toString('hex'))
  const { c2s, s2c } = pairPaths(`${wellKnown}.d`, token)
  native.mkfifo(c2s, 0o600)
  native.mkfifo(s2c, 0o600)
  const inFd = openSync(s2c, O_RDONLY | O_NONBLOCK)
  const hold = openSync(s2c, O_WRONLY | O_NONBLOCK)
  const wk = openSync(wellKnown, O_WRONLY | O_NONBLOCK)
  writeSync(wk, formatHello({ pid: process.pid, token })) // the wire format, from the package itself
  closeSync(wk)
  const ack = Buffer.alloc(8)
  for (let got = 0; got < 8; ) {
    try {
      got += readSync(inFd, ack, got, 8 - got, null)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err
      await new Promise((r) => setImmediate(r))
    }
  }
  closeSync(hold)
  const outFd = openSync(c2s, O_WRONLY | O_NONBLOCK)
  writeSync(outFd, READY)
  writeSync(outFd, bytes)
  rmSync(c2s)
  rmSync(s2c)
  return () => {
    closeSync(outFd)
    closeSync(inFd)
  }
}

export function fifoTarget(folder: ReturnType<typeof fifoFolder>): ConformanceTarget {
  return addressTarget({
    name: 'fifo',
    entry: ENTRY,
    fresh: folder.fresh,
    killedPeerReason: 'peer-exited',
    boundaries: [64 * 1024],
    leftovers: folder.leftovers,
    async rawClient(address, bytes, end) {
      const close = await rawClient(address, bytes)
      if (end) close()
    },
  })
}
