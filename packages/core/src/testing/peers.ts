import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { connect } from '../registry.js'
import type { TransportOptions } from '../transport.js'

// built as dist/testing/index.js (this module is bundled into it): peer.js sits beside it
const here = dirname(fileURLToPath(import.meta.url))

/** The peer program's path (`peer.js` beside this module). */
export const PEER_SCRIPT = join(here, 'peer.js')

/**
 * Arguments for `node` to run the kit's peer program: it imports `module` (an absolute path to the
 * mechanism's built entry), opens its end with `connect(address)` or by calling the export named
 * `call` (e.g. `fromParent`), and plays `role`.
 */
export function peerCommand(module: string, open: { connect: string } | { call: string }, role: string, options: TransportOptions<any> = {}): string[] {
  const how = 'connect' in open ? ['--connect', open.connect] : ['--call', open.call]
  return [PEER_SCRIPT, '--module', module, ...how, '--role', role, '--options', JSON.stringify(options)]
}

/** Starts a child process that listens at `address` (importing `entry`), echoes every message, and prints READY. */
export function spawnEchoListener(entry: string, address: string): { child: ChildProcess; ready: Promise<void> } {
  const script =
    `import(${JSON.stringify(pathToFileURL(entry).href)}).then(async () => {` +
    ` const { listen } = await import(${JSON.stringify(pathToFileURL(join(here, '..', 'index.js')).href)});` +
    ` const l = await listen(${JSON.stringify(address)}); process.stdout.write('READY\\n');` +
    ` for await (const c of l) void (async () => { for await (const m of c) await c.send(m) })() })`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => (String(d).includes('READY') ? resolve() : undefined))
    child.once('exit', (code) => reject(new Error(`listener child exited (${code})`)))
  })
  return { child, ready }
}

/** Connects to `address`, sends `value`, returns the reply, and closes. */
export async function roundTrip(address: string, value: unknown): Promise<unknown> {
  const t = await connect(address, { timeout: 10_000 })
  await t.send(value)
  const back = await t.receive({ timeout: 10_000 })
  await t.close()
  return back
}

/** Resolves with the peer's `REPORT` lines (parsed) once its stdout closes. */
export function peerReports(child: ChildProcess): Promise<Record<string, any>[]> {
  const reports: Record<string, any>[] = []
  if (!child.stdout) return Promise.resolve(reports)
  const lines = createInterface({ input: child.stdout })
  lines.on('line', (line) => {
    if (line.startsWith('REPORT ')) reports.push(JSON.parse(line.slice(7)))
  })
  return new Promise((resolve) => lines.once('close', () => resolve(reports)))
}

/**
 * Resolves once the peer prints the report `expected` (compared as its JSON text). Listens to the
 * raw output beside {@link peerReports}, which it does not disturb.
 */
export function reportSeen(child: ChildProcess, expected: Record<string, unknown>): Promise<void> {
  const line = `REPORT ${JSON.stringify(expected)}\n`
  return new Promise((resolve, reject) => {
    if (!child.stdout) return reject(new Error('peer has no stdout pipe'))
    let seen = ''
    const onData = (chunk: Buffer | string): void => {
      seen += chunk.toString()
      if (!seen.includes(line)) return
      child.stdout!.off('data', onData)
      resolve()
    }
    child.stdout.on('data', onData)
    child.stdout.once('close', () => reject(new Error(`peer ended without reporting ${line.trim()}`)))
  })
}

/** The first `REPORT` line the peer prints (resolves as soon as it is printed). */
export function firstReport(child: ChildProcess): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    if (!child.stdout) return reject(new Error('peer has no stdout pipe'))
    const lines = createInterface({ input: child.stdout })
    lines.on('line', (line) => {
      if (line.startsWith('REPORT ')) {
        resolve(JSON.parse(line.slice(7)))
        lines.close()
      }
    })
    lines.once('close', () => reject(new Error('peer ended without a report')))
  })
}

/** Resolves with the exit code (or signal name) of `child`. */
export function exitOf(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode)
  if (child.signalCode !== null) return Promise.resolve(child.signalCode)
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
}
