/**
 * The C floor: `../shared/floor` drives the same mechanisms from C (`./run` writes
 * `results/run-*.txt`). The bench reads the newest of those files (or `IPC_FLOOR_RESULTS`) and
 * reports each of our transports as a fraction of the floor of its mechanism, cross-CPU, so the
 * distance to the limit shows. Without a floor file the table says so.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { type OurName, PAYLOADS, type Row, distFile } from './common.js'

/** The floor's row for each of our transports (its "Different CPUs" table). */
const MECHANISM: Record<OurName, string> = {
  unix: 'Unix socket SOCK_STREAM',
  tcp: 'TCP 127.0.0.1, TCP_NODELAY',
  pipe: 'anonymous pipe (pipe2)',
  fifo: 'FIFO (mkfifo, opened by path)',
  mq: 'POSIX mq (mq_send/mq_receive)',
  'mq+sysv': 'System V msg queue (msgsnd/msgrcv)',
  shm: 'shm SPSC ring, futex wait/wake',
  'shm+spin': 'shm SPSC ring, busy-poll',
}

/** One floor cell: msgs/s per payload, RTT p50 µs per payload (64 B and 1 KiB only). */
export interface FloorRow {
  msgsPerSec: Partial<Record<number, number>>
  rttP50Us: Partial<Record<number, number>>
}

export interface Floor {
  file: string
  rows: Map<string, FloorRow>
}

function rate(cell: string): number | undefined {
  const m = /([\d.]+)\s*([kM]?)\/s/.exec(cell)
  if (!m) return undefined
  return Number(m[1]) * (m[2] === 'M' ? 1e6 : m[2] === 'k' ? 1e3 : 1)
}

function rtt(cell: string): number | undefined {
  const m = /^\s*([\d.]+)\s*\//.exec(cell)
  return m ? Number(m[1]) : undefined
}

/** The newest floor results, or undefined when there are none. */
export function readFloor(): Floor | undefined {
  let file = process.env.IPC_FLOOR_RESULTS
  if (file === undefined) {
    const dir = join(distFile('.'), '..', '..', '..', '..', 'shared', 'floor', 'results')
    if (!existsSync(dir)) return undefined
    const runs = readdirSync(dir)
      .filter((f) => /^run-.*\.txt$/.test(f))
      .sort()
    if (runs.length === 0) return undefined
    file = join(dir, runs[runs.length - 1]!)
  }
  if (!existsSync(file)) return undefined
  const text = readFileSync(file, 'utf8')
  const start = text.indexOf('Different CPUs')
  if (start < 0) return undefined
  const rows = new Map<string, FloorRow>()
  for (const line of text.slice(start).split('\n').slice(1)) {
    if (line.startsWith('#')) break
    const cells = line.split('|').map((c) => c.trim())
    if (cells.length < 7 || cells[1] === 'Mechanism' || cells[1]!.startsWith('---')) continue
    const [, name, rtt64, rtt1k, s64, s1k, s64k] = cells as [string, string, string, string, string, string, string]
    rows.set(name, {
      rttP50Us: { 64: rtt(rtt64), 1024: rtt(rtt1k) },
      msgsPerSec: { 64: rate(s64), 1024: rate(s1k), [64 * 1024]: rate(s64k) },
    })
  }
  return { file, rows }
}

/** Our rows as fractions of the floor: msgs/s ours ÷ floor (higher is closer), RTT floor ÷ ours. */
export function floorTable(rows: Row[], floor: Floor | undefined, names: readonly OurName[]): string {
  if (floor === undefined) return 'No C floor results found (run `cd ../shared/floor && ./run`, or set IPC_FLOOR_RESULTS).'
  const lines = ['| transport | floor (C) | payload | msgs/s: ours ÷ floor | RTT p50: floor ÷ ours |', '|:---|:---|---:|---:|---:|']
  const fraction = (a: number | null | undefined, b: number | null | undefined): string =>
    a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? '—' : `${((100 * a) / b).toFixed(0)} %`
  for (const name of names) {
    const f = floor.rows.get(MECHANISM[name])
    for (const payload of PAYLOADS) {
      const r = rows.find((x) => x.name === name && x.payloadBytes === payload)
      if (r === undefined) continue
      const label = payload >= 1024 ? `${payload / 1024} KiB` : `${payload} B`
      lines.push(
        `| ${name} | ${MECHANISM[name]} | ${label} | ${fraction(r.msgsPerSec, f?.msgsPerSec[payload])} | ${fraction(f?.rttP50Us[payload], r.rttP50Us)} |`,
      )
    }
  }
  return `${lines.join('\n')}\n\nFloor: \`${floor.file}\` (the same mechanism driven from C, parent and child on different CPUs).`
}
