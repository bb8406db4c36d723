/** Runs the built `ipc` command and the test's holder processes. */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const IPC = join(here, '..', 'dist', 'main.js')

export interface Ran {
  code: number
  stdout: string
  stderr: string
}

/** `ipc …args`, to its end; `input` is written to its standard input. */
export function ipc(args: string[], input?: string): Promise<Ran> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [IPC, ...args], { maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
    })
    child.stdin?.end(input ?? '')
  })
}

/** `ipc ls <match> --json`, parsed. */
export async function ls(match: string, ...more: string[]): Promise<Array<Record<string, unknown>>> {
  const r = await ipc(['ls', match, '--json', ...more])
  if (r.code !== 0) throw new Error(`ipc ls failed: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

/** Starts test/hold.mjs with `args` and waits until it holds them all. */
export async function hold(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(here, 'hold.mjs'), ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  let out = ''
  child.stdout!.setEncoding('utf8')
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: string) => {
      out += d
      if (out.includes('ready\n')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`holder exited (${code}) before it was ready: ${out}`)))
  })
  return child
}

/** Sends `signal` and waits for the exit. */
export async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill(signal)
  await exited
}
