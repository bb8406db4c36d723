// Pattern peers in processes of their own, over real transports (see peer.mjs).
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type Transport, listen } from '@ipc/core'
import { afterAll } from 'vitest'
import type { Listener } from '@ipc/core'
import { spawn as pipeSpawn } from '@ipc/pipe'
import '@ipc/mq'
import '@ipc/shm'
import '@ipc/socket'

export const PEER = fileURLToPath(new URL('./peer.mjs', import.meta.url))

/** A transport kind the patterns are tried over. */
export interface Target {
  name: string
  /** A fresh address to listen at; `undefined` for `pipe` (a parent and the child it spawns). */
  fresh(): string | undefined
}

let n = 0
export const TARGETS: Target[] = [
  { name: 'unix', fresh: () => `unix:/tmp/ipc-patterns-${process.pid}-${++n}.sock` },
  { name: 'pipe', fresh: () => undefined },
  { name: 'mq', fresh: () => `mq:/ipc-patterns-${process.pid}-${++n}` },
  { name: 'shm', fresh: () => `shm:/ipc-patterns-${process.pid}-${++n}` },
]

/** One peer process and what it reports. */
export class Peer {
  private readonly seen: Record<string, any>[] = []
  private waiters: (() => void)[] = []
  readonly exited: Promise<number | string>

  constructor(
    readonly child: ChildProcess,
    /** The parent's end, for a `pipe` peer. */
    readonly transport: Transport<unknown, unknown> | undefined,
  ) {
    let partial = ''
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (text: string) => {
      partial += text
      for (let at = partial.indexOf('\n'); at >= 0; at = partial.indexOf('\n')) {
        this.seen.push(JSON.parse(partial.slice(0, at)))
        partial = partial.slice(at + 1)
      }
      for (const w of this.waiters.splice(0)) w()
    })
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)))
  }

  /** Every report so far. */
  get reports(): Record<string, any>[] {
    return this.seen
  }

  /** The first report with `key` (waiting for it). */
  async report(key: string): Promise<Record<string, any>> {
    return (await this.nth(key, 1))!
  }

  /** The `count`th report with `key` (waiting for it). */
  async nth(key: string, count: number): Promise<Record<string, any>> {
    for (;;) {
      const found = this.seen.filter((r) => key in r)
      if (found.length >= count) return found[count - 1]!
      const exited = await Promise.race([new Promise<false>((r) => this.waiters.push(() => r(false))), this.exited.then(() => true)])
      if (exited) {
        const last = this.seen.filter((r) => key in r)
        if (last.length >= count) return last[count - 1]!
        throw new Error(`peer exited without reporting "${key}" ${count} time(s) (reports: ${JSON.stringify(this.seen)})`)
      }
    }
  }
}

/** Starts a peer playing `role` against `address` (or, for `pipe`, over pipes to this process). */
export function startPeer(address: string | undefined, role: string, options: object): Peer {
  const args = [PEER, role, address ?? 'pipe:', JSON.stringify(options)]
  if (address !== undefined) return new Peer(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] }), undefined)
  const { child, transport } = pipeSpawn(process.execPath, args, { spawn: { stdio: ['ignore', 'pipe', 'inherit'] } })
  return new Peer(child, transport)
}

/** A listener at `address`, or none for `pipe`. */
export async function listenerFor(address: string | undefined): Promise<Listener<any, any> | undefined> {
  return address === undefined ? undefined : listen(address)
}

/** A function that keeps each peer it is given, all SIGKILLed after the file's tests (none outlives them). */
export function peerTracker(): (p: Peer) => Peer {
  const peers: Peer[] = []
  afterAll(() => {
    for (const p of peers) p.child.kill('SIGKILL')
  })
  return (p) => {
    peers.push(p)
    return p
  }
}
