// Shared test helpers: temporary System V queues (always removed), child processes and their output.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { native } from '../lib/index.js'

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures')
/** The built module, as the fixtures import it (a Worker's script cannot import TypeScript). */
export const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js')

/** ftok project id of every System V queue the tests (and fixtures) make. */
export const PROJ = 0x4e

/** The error `fn` throws (or `undefined`). */
export function errorOf(fn: () => unknown): any {
  try {
    fn()
  } catch (e) {
    return e
  }
  return undefined
}

/**
 * A folder of key files; each `queue()` is a new System V queue keyed by a file in it.
 * `remove()` removes every queue keyed by a file in the folder (also ones a child process made)
 * and the folder.
 */
export class QueueDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'ipc-native-test-'))
  private n = 0

  queue(): number {
    const path = join(this.dir, `k${++this.n}`)
    writeFileSync(path, '')
    const K = native.sysvConstants
    return native.msgGet(native.ftokKey(path, PROJ), K.IPC_CREAT | K.IPC_EXCL | 0o600)
  }

  remove(): void {
    for (const file of readdirSync(this.dir)) {
      try {
        native.msgRemove(native.msgGet(native.ftokKey(join(this.dir, file), PROJ), 0))
      } catch {
        // no queue for this file
      }
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Fills `msqid` with 1 KiB messages of `mtype` until a non-blocking send fails. Returns how many. */
export function fill(msqid: number, mtype: number): number {
  let n = 0
  while (native.msgSend(msqid, mtype, Buffer.alloc(1024, 1))) n++
  return n
}

/** Resolves once `check()` is true; fails after `ms`. For kernel state that has no event. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

/** Rejects after `ms` unless `p` settles first. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

/** Runs `node args...`; resolves with its exit code, signal and output once it exits. */
export function run(args: string[], timeoutMs: number): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d) => (stdout += String(d)))
    child.stderr!.on('data', (d) => (stderr += String(d)))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`node ${args.join(' ')}: still running after ${timeoutMs} ms\n${stderr}`))
    }, timeoutMs)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      // the pipes may still hold output
      setImmediate(() => resolve({ code, signal, stdout, stderr }))
    })
  })
}

/** Resolves with the rest of the first line of `child`'s stdout that starts with `prefix`. */
export function lineOf(child: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = ''
    const onData = (d: Buffer): void => {
      buf += String(d)
      for (const line of buf.split('\n')) {
        if (line.startsWith(prefix) && buf.includes(`${line}\n`)) {
          child.stdout!.off('data', onData)
          resolve(line.slice(prefix.length))
          return
        }
      }
    }
    child.stdout!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`exited (${code}) before printing ${prefix}`)))
  })
}

/** Where `/proc/self/fd/<fd>` points now, or `undefined` if `fd` is not open. */
export function fdTarget(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    return undefined
  }
}

// syscall numbers, for kernels whose /proc/<tid>/wchan shows no symbol names
const SYSCALLS: Record<string, Record<string, number>> = {
  x64: { msgrcv: 70, msgsnd: 69 },
  arm64: { msgrcv: 188, msgsnd: 189 },
}

/** How many of this process's threads named `comm` are blocked in `call` (msgrcv, msgsnd) now. */
export function threadsIn(comm: string, call: 'msgrcv' | 'msgsnd'): number {
  let n = 0
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const base = `/proc/self/task/${tid}`
      if (readFileSync(`${base}/comm`, 'utf8').trim() !== comm) continue
      const wchan = readFileSync(`${base}/wchan`, 'utf8').trim()
      if (wchan === `do_${call}`) n++
      else if (wchan === '0' && Number(readFileSync(`${base}/syscall`, 'utf8').split(' ')[0]) === SYSCALLS[process.arch]?.[call]) n++
    } catch {
      // the thread ended meanwhile
    }
  }
  return n
}
