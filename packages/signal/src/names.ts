/**
 * Real-time signal names: `SIGRTMIN+n` and `SIGRTMAX-n` (or the number). Standard signals stay with
 * `process.on` (Node and libuv own them; SIGUSR1 is the inspector's, SIGPROF the profiler's, the
 * fatal ones V8's): every name Node knows (`os.constants.signals`) is refused.
 */
import { readFileSync } from 'node:fs'
import { constants } from 'node:os'
import { IpcError } from '@ipc/core'
import { native } from '@ipc/native'

/** SIGRTMIN and SIGRTMAX of this system's C library (glibc keeps 32 and 33 for itself). */
export const { min: SIGRTMIN, max: SIGRTMAX } = native.signalRange()

/** A real-time signal: `'SIGRTMIN+3'`, `'SIGRTMAX-2'`, `'SIGRTMIN'`, or its number. */
export type SignalName = `SIGRTMIN${'' | `+${number}`}` | `SIGRTMAX${'' | `-${number}`}` | number

/** The number of a real-time signal name; `ERR_IPC_INVALID_ARGUMENT` for anything else. */
export function signalNumber(name: SignalName): number {
  let n: number | undefined
  if (typeof name === 'number') n = name
  else if (typeof name === 'string') {
    const m = /^SIGRT(MIN|MAX)(?:([+-])(\d{1,2}))?$/.exec(name)
    if (m) {
      const offset = m[3] === undefined ? 0 : Number(m[3])
      if (m[1] === 'MIN' && m[2] !== '-') n = SIGRTMIN + offset
      if (m[1] === 'MAX' && m[2] !== '+') n = SIGRTMAX - offset
    } else if (name in constants.signals) {
      throw new IpcError(
        'ERR_IPC_INVALID_ARGUMENT',
        `${name} is a standard signal: it stays with process.on() (Node, libuv and V8 use them); use a real-time signal, SIGRTMIN+n`,
      )
    }
  }
  if (n === undefined || !Number.isInteger(n) || n < SIGRTMIN || n > SIGRTMAX) {
    throw new IpcError(
      'ERR_IPC_INVALID_ARGUMENT',
      `a real-time signal is SIGRTMIN+n or SIGRTMAX-n within ${SIGRTMIN}..${SIGRTMAX}, got ${JSON.stringify(name)}`,
    )
  }
  return n
}

/** The name of a real-time signal number (`SIGRTMIN+n`). */
export function signalName(signo: number): string {
  if (signo >= SIGRTMIN && signo <= SIGRTMAX) return signo === SIGRTMIN ? 'SIGRTMIN' : `SIGRTMIN+${signo - SIGRTMIN}`
  return `signal ${signo}`
}

/** The `si_code` names of siginfo (`<bits/siginfo-consts.h>`). */
const CODES: Record<number, string> = {
  0: 'SI_USER',
  128: 'SI_KERNEL',
  [-1]: 'SI_QUEUE',
  [-2]: 'SI_TIMER',
  [-3]: 'SI_MESGQ',
  [-4]: 'SI_ASYNCIO',
  [-5]: 'SI_SIGIO',
  [-6]: 'SI_TKILL',
}

/** How a signal was sent, by its `si_code`. */
export type SignalCode = 'SI_USER' | 'SI_KERNEL' | 'SI_QUEUE' | 'SI_TIMER' | 'SI_MESGQ' | 'SI_ASYNCIO' | 'SI_SIGIO' | 'SI_TKILL' | `code ${number}`

export function codeName(code: number): SignalCode {
  return (CODES[code] ?? `code ${code}`) as SignalCode
}

/**
 * The real-time signals the process `pid` catches (`/proc/<pid>/status` SigCgt), or undefined if
 * it cannot be read (gone). A real-time signal's default action ends the process: send only what
 * it catches.
 */
export function caughtSignals(pid: number): Set<number> | undefined {
  let text: string
  try {
    text = readStatus(pid)
  } catch {
    return undefined
  }
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(text)
  if (!m) return undefined
  const mask = BigInt(`0x${m[1]}`)
  const out = new Set<number>()
  for (let s = SIGRTMIN; s <= SIGRTMAX; s++) if ((mask >> BigInt(s - 1)) & 1n) out.add(s)
  return out
}

function readStatus(pid: number): string {
  return readFileSync(`/proc/${pid}/status`, 'utf8')
}
