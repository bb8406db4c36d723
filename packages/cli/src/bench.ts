/**
 * `ipc bench [names…]`: runs the benchmark of an ipc checkout (`packages/bench`, private: it is
 * not published) — the one beside this command in the repository, else the one of the working
 * directory's checkout. The bench draws its own progress line on a terminal.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { IpcError } from '@ipc/core'

function isBench(folder: string): boolean {
  try {
    return JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')).name === '@ipc/bench'
  } catch {
    return false
  }
}

/** The bench folder of the checkout this command is in, or of the working directory's; `undefined` if neither has one. */
export function findBench(from: string = process.cwd()): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [resolve(here, '..', '..', 'bench')]
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    candidates.push(join(dir, 'packages', 'bench'))
    if (dirname(dir) === dir) break
  }
  return candidates.find(isBench)
}

/** Runs the bench with `args` (names and `--quick`), its output on this process's; resolves with its exit code. */
export function bench(args: string[]): Promise<number> {
  const folder = findBench()
  if (folder === undefined) {
    throw new IpcError(
      'ERR_IPC_UNSUPPORTED',
      'ipc bench runs the benchmark of a checkout of the ipc repository (packages/bench is not published): run it inside one',
    )
  }
  const main = join(folder, 'dist', 'main.js')
  if (!existsSync(main)) {
    throw new IpcError(
      'ERR_IPC_UNSUPPORTED',
      `the bench in ${folder} is not built: run \`pnpm bench --quick\` once (it builds it), or pnpm --filter @ipc/bench... build`,
    )
  }
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [main, ...args], { stdio: 'inherit' })
    child.once('error', reject)
    child.once('exit', (code, signal) => resolvePromise(code ?? (signal ? 128 : 1)))
  })
}
