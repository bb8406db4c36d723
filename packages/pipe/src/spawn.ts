import { type ChildProcess, type SpawnOptions as NodeSpawnOptions, type StdioOptions, spawn as nodeSpawn } from 'node:child_process'
import { IpcError, type Transport, type TransportOptions } from '@ipc/core'
import { fromErrno } from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { childPipes, closeFds, pipeTransport } from './link.js'

/** The environment variable that tells the child where its pipe ends are: `"<readFd>,<writeFd>,<parentPid>"`. */
export const PIPE_ENV = 'IPC_PIPE'

/** Options of {@link spawn}: the transport's options plus `child_process.spawn`'s. */
export interface PipeSpawnOptions<In = unknown> extends TransportOptions<In> {
  /** Passed to `child_process.spawn` (`cwd`, `env`, `stdio`, `detached`, …). The child's stdio stays yours. */
  spawn?: Omit<NodeSpawnOptions, 'stdio'> & { stdio?: StdioOptions }
}

/** What {@link spawn} returns. */
export interface PipeChild<Out, In> {
  /** The child process. */
  child: ChildProcess
  /** This side's transport to the child (over two pipes from pipe2()). */
  transport: Transport<Out, In>
}

type StdioEntry = Exclude<StdioOptions, string>[number]

function baseStdio(stdio: StdioOptions | undefined): StdioEntry[] {
  if (stdio === undefined) return ['inherit', 'inherit', 'inherit']
  if (typeof stdio === 'string') return [stdio, stdio, stdio]
  const list = [...stdio]
  while (list.length < 3) list.push('inherit')
  return list
}

/**
 * Spawns `command` with two anonymous pipes (pipe2(), O_CLOEXEC) to it, besides its stdio, and
 * returns the child and a transport over them. The child calls {@link fromParent} to get its end.
 *
 * @example
 * ```ts
 * import { spawn } from '@ipc/pipe'
 * const { child, transport } = spawn<Job, Result>(process.execPath, ['worker.js'])
 * await transport.send({ id: 1 })
 * console.log(await transport.receive())
 * ```
 */
export function spawn<Out = unknown, In = unknown>(command: string, args: readonly string[] = [], options: PipeSpawnOptions<In> = {}): PipeChild<Out, In> {
  const { spawn: spawnOptions = {}, ...transportOptions } = options
  const { toChild, fromChild } = childPipes('spawn')
  const stdio = baseStdio(spawnOptions.stdio)
  const childRead = stdio.length
  stdio.push(toChild[0], fromChild[1])
  const env = { ...(spawnOptions.env ?? process.env), [PIPE_ENV]: `${childRead},${childRead + 1},${process.pid}` }
  let child: ChildProcess
  try {
    child = nodeSpawn(command, args, { ...spawnOptions, stdio, env })
  } catch (err) {
    closeFds(...toChild, ...fromChild)
    throw fromErrno(err, `spawn ${command}`)
  }
  // the child has its copies now; ours would hide its exit (no EOF while we hold its write end)
  closeFds(toChild[0], fromChild[1])
  // without a pid the spawn failed (e.g. ENOENT): the transport ends with that error
  const failure =
    child.pid === undefined
      ? new Promise<Error>((resolve) =>
          child.once('error', (err) =>
            resolve(new IpcError('ERR_IPC_SYSTEM', `spawn ${command}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err })),
          ),
        )
      : undefined
  const transport = pipeTransport<Out, In>(fromChild[0], toChild[1], child.pid, transportOptions, failure)
  return { child, transport }
}

/**
 * In a child started by {@link spawn}: this side's transport to the parent. Throws
 * `ERR_IPC_UNSUPPORTED` when the process was not started that way.
 */
export function fromParent<Out = unknown, In = unknown>(options: TransportOptions<In> = {}): Transport<Out, In> {
  const spec = process.env[PIPE_ENV]
  const m = spec === undefined ? null : /^(\d+),(\d+),(\d+)$/.exec(spec)
  if (!m) throw new IpcError('ERR_IPC_UNSUPPORTED', `fromParent: this process was not started by @ipc/pipe's spawn() (no valid ${PIPE_ENV})`)
  const [readFd, writeFd, parentPid] = [Number(m[1]), Number(m[2]), Number(m[3])]
  delete process.env[PIPE_ENV] // not for grandchildren
  try {
    native.setCloexec(readFd)
    native.setCloexec(writeFd)
  } catch (err) {
    throw fromErrno(err, `fromParent: fds ${readFd},${writeFd}`)
  }
  // a parent that died before we got here has been replaced by a reaper as our parent
  const peerPid = process.ppid === parentPid ? parentPid : undefined
  return pipeTransport<Out, In>(readFd, writeFd, peerPid, options)
}
