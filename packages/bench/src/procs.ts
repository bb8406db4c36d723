/**
 * Parent-side process and file bookkeeping: every child is tracked and killed on exit, every
 * temporary folder is removed on exit, also after an error or a signal.
 */
import { type ChildProcess, type StdioOptions, fork, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Transport, listen } from '@ipc/core'
import { type ChildConfig, distFile, sleep } from './common.js'

const children = new Set<ChildProcess>()
const folders = new Set<string>()
let hooked = false

function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL')
      } catch {
        // gone already
      }
    }
  }
  children.clear()
}

function removeAll(): void {
  for (const dir of folders) {
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {
      // nothing more to do at exit
    }
  }
  folders.clear()
}

/** Kills the children and removes the folders now (also runs at exit). */
export function cleanup(): void {
  killAll()
  removeAll()
}

function hook(): void {
  if (hooked) return
  hooked = true
  process.on('exit', cleanup)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping, cleaning up\n`)
      cleanup()
      process.exit(130)
    })
  }
}

/** A fresh private folder in the system temp dir, removed at exit (or by {@link removeFolder}). */
export function makeFolder(): string {
  hook()
  const dir = mkdtempSync(join(tmpdir(), 'ipc-bench-'))
  folders.add(dir)
  return dir
}

export function removeFolder(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  folders.delete(dir)
}

/** Registers a child started elsewhere (e.g. by @ipc/pipe's spawn) so it is killed at exit. */
export function track(child: ChildProcess): ChildProcess {
  hook()
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/** The child's stdout and stderr go to our stderr: stdout carries only the tables. */
export const CHILD_STDIO: StdioOptions = ['ignore', 2, 2]

/** Arguments to run the child program with `config`. */
export function childArgs(config: ChildConfig): string[] {
  return [distFile('child.js'), JSON.stringify(config)]
}

/** Starts dist/child.js with `config` (plain spawn, no IPC channel). */
export function spawnChild(config: ChildConfig): ChildProcess {
  return track(spawn(process.execPath, childArgs(config), { stdio: CHILD_STDIO }))
}

/** Starts dist/child.js with a Node IPC channel of the given serialization. */
export function forkChild(config: ChildConfig, serialization: 'json' | 'advanced'): ChildProcess {
  return track(fork(distFile('child.js'), [JSON.stringify(config)], { serialization, stdio: ['ignore', 2, 2, 'ipc'] }))
}

/** Resolves when the child has exited; SIGKILLs it after `graceMs`. */
export async function reap(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const timer = sleep(graceMs).then(() => 'timeout' as const)
  if ((await Promise.race([exited, timer])) === 'timeout') {
    process.stderr.write(`  (child ${child.pid} did not exit within ${graceMs} ms: killed)\n`)
    child.kill('SIGKILL')
    await exited
  }
}

/** Rejects when the child exits before `work` settles (so a crashed child does not hang the run). */
export function guard<T>(child: ChildProcess, work: Promise<T>, what: string, timeoutMs = 60_000): Promise<T> {
  let onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined
  let timer: NodeJS.Timeout | undefined
  const failure = new Promise<never>((_, reject) => {
    // what the child wrote before it exited may still be on its way: give it a moment
    onExit = (code, signal) => {
      setTimeout(() => reject(new Error(`${what}: the child exited early (code ${code}, signal ${signal})`)), 1000).unref()
    }
    if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode)
    else child.once('exit', onExit)
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${timeoutMs} ms`)), timeoutMs)
  })
  return Promise.race([work, failure]).finally(() => {
    if (onExit) child.off('exit', onExit)
    clearTimeout(timer)
  })
}

/**
 * Listens at `address`, starts `process.execPath` with `args(actualAddress)` as the peer, runs
 * `work` on the accepted transport, and always closes the transport and SIGKILLs the peer.
 */
export async function withListenedPeer<T>(
  address: string,
  args: (address: string) => string[],
  work: (t: Transport<unknown, unknown>) => Promise<T>,
): Promise<T> {
  const server = await listen(address)
  const child = spawn(process.execPath, args(server.address), { stdio: ['ignore', 'ignore', 'inherit'] })
  try {
    const t = await server.accept({ timeout: 20_000 })
    await server.close()
    try {
      return await work(t)
    } finally {
      await t.close()
    }
  } finally {
    child.kill('SIGKILL')
  }
}
