/**
 * The C floor: `../shared/floor` drives the same mechanisms from C (`./run` writes
 * `results/run-*.txt`). The bench reads the newest of those files (or `IPC_FLOOR_RESULTS`) and
 * reports each of our transports as a fraction of the floor of its mechanism, cross-CPU, so the
 * distance to the limit shows. Without a floor file the table says so.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { type OurName, PAYLOADS, type Row, distFile } from './common.js'

/** The floor's mechanism for each of our transports (`mech=` in its RESULT lines). */
export const MECHANISM: Record<OurName, string> = {
  unix: 'udsstream',
  tcp: 'tcp',
  nats: 'tcp', // a NATS server over loopback TCP: the floor is TCP itself (two hops here)
  pipe: 'pipe',
  fifo: 'fifo',
  mq: 'posixmq',
  'mq+sysv': 'sysvmq',
  shm: 'shmfutex',
  'shm+spin': 'shmspin',
  sem: 'shmsem',
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

/** `key=value` fields of one line. */
function fields(line: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of line.split(' ')) {
    const eq = part.indexOf('=')
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1)
  }
  return out
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
  // RESULT mech=<m> place=cross kind=rtt|tput col=<payload> p50_us=… max_msgs_per_s=… (the best repetition: the limit)
  const rows = new Map<string, FloorRow>()
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('RESULT ')) continue
    const f = fields(line)
    if (f.place !== 'cross' || f.ok !== '1' || f.mech === undefined) continue
    const row = rows.get(f.mech) ?? { msgsPerSec: {}, rttP50Us: {} }
    rows.set(f.mech, row)
    const payload = Number(f.col)
    if (f.kind === 'rtt' && f.p50_us !== undefined) row.rttP50Us[payload] = Number(f.p50_us)
    if (f.kind === 'tput' && f.max_msgs_per_s !== undefined) row.msgsPerSec[payload] = Number(f.max_msgs_per_s)
  }
  if (rows.size === 0) return undefined
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
  return `${lines.join('\n')}\n\nFloor: \`${floor.file}\` (the same mechanism driven from C, parent and child on different CPUs; streams: the best repetition).`
}
