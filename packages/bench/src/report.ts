/** The Markdown tables. */
import type { Floor } from './floor.js'
import type { SemaphoreRow } from './semaphore.js'
import type { NatsRawRow } from './nats-raw.js'
import type { PatternsRow } from './patterns.js'
import type { SignalRow } from './signal.js'
import { type Name, OURS, PAYLOADS, type Row } from './common.js'
import type { IdleResult, IdleSide } from './idle.js'
import type { MemoryResult } from './memory.js'

export function payloadLabel(bytes: number): string {
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`
  return `${bytes} B`
}

function fixed(n: number | null, digits: number): string {
  return n === null || !Number.isFinite(n) ? '—' : n.toFixed(digits)
}

function int(n: number | null): string {
  return n === null || !Number.isFinite(n) ? '—' : Math.round(n).toLocaleString('en-US')
}

function ratio(a: number | null | undefined, b: number | null | undefined): string {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '—'
  return `${(a / b).toFixed(2)}×`
}

function table(head: string[], align: ('l' | 'r')[], rows: string[][]): string {
  const lines = [`| ${head.join(' | ')} |`, `|${align.map((a) => (a === 'r' ? '---:' : ':---')).join('|')}|`]
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`)
  return lines.join('\n')
}

export function resultsTable(rows: Row[]): string {
  return table(
    ['name', 'payload', 'RTT p50 µs', 'RTT p99 µs', 'msgs/s', 'MB/s'],
    ['l', 'r', 'r', 'r', 'r', 'r'],
    rows.map((r) => [
      r.name,
      payloadLabel(r.payloadBytes),
      fixed(r.rttP50Us, 1),
      fixed(r.rttP99Us, 1),
      int(r.msgsPerSec),
      fixed(r.bytesPerSec === null ? null : r.bytesPerSec / 1e6, 1),
    ]),
  )
}

export function ratioTable(rows: Row[]): string {
  const find = (name: Name, payload: number): Row | undefined => rows.find((r) => r.name === name && r.payloadBytes === payload)
  const out: string[][] = []
  for (const name of OURS) {
    for (const payload of PAYLOADS) {
      const r = find(name, payload)
      const cork = find('net-cork', payload)
      const zmq = find('zeromq-ipc', payload)
      const adv = find('fork-advanced', payload)
      out.push([
        name,
        payloadLabel(payload),
        ratio(r?.msgsPerSec, cork?.msgsPerSec),
        ratio(r?.msgsPerSec, zmq?.msgsPerSec),
        ratio(r?.msgsPerSec, adv?.msgsPerSec),
        ratio(r?.rttP50Us, cork?.rttP50Us),
      ])
    }
  }
  return table(
    ['transport', 'payload', 'msgs/s vs net-cork', 'msgs/s vs zeromq-ipc', 'msgs/s vs fork-advanced', 'RTT p50 vs net-cork'],
    ['l', 'r', 'r', 'r', 'r', 'r'],
    out,
  )
}

export function memoryTable(m: MemoryResult | undefined): string {
  const head = [
    'transport',
    'highWaterMark',
    'payload',
    'accepted before send blocked',
    'send blocked',
    'peak RSS growth',
    'limit (hwm + 32 MiB)',
    'within limit',
  ]
  const align: ('l' | 'r')[] = ['l', 'r', 'r', 'r', 'l', 'r', 'r', 'l']
  if (m === undefined) return table(head, align, [['unix', '1 MiB', '64 KiB', '—', '—', '—', '—', 'failed']])
  const MiB = 1024 * 1024
  return table(head, align, [
    [
      m.transport,
      `${m.highWaterMark / MiB} MiB`,
      payloadLabel(m.payloadBytes),
      `${(m.bytesAccepted / MiB).toFixed(2)} MiB (${m.messagesAccepted} msgs)`,
      m.sendBlocked ? 'yes' : 'NO',
      `${m.peakRssGrowthMiB.toFixed(1)} MiB`,
      `${m.limitMiB} MiB`,
      m.withinLimit ? 'yes' : 'NO',
    ],
  ])
}

function kib(bytes: number): string {
  // a growth of a few bytes either way is noise: no "-0.0"
  const v = bytes / 1024
  return `${Math.abs(v) < 0.05 ? '0.0' : v.toFixed(1)} KiB`
}

/** The idle-connection memory test: per-end growth in the client and the server process. */
export function idleTable(r: IdleResult | undefined): string {
  const head = ['process', 'ends', 'RSS / end', 'heapUsed + external / end', 'arrayBuffers / end', 'target', 'met']
  const align: ('l' | 'r')[] = ['l', 'r', 'r', 'r', 'r', 'r', 'l']
  if (r === undefined) {
    return table(head, align, [
      ['client', '—', '—', '—', '—', '≤ 16 KiB', 'failed'],
      ['server', '—', '—', '—', '—', '≤ 16 KiB', 'failed'],
    ])
  }
  const target = r.targetBytesPerEnd
  const row = (label: string, s: IdleSide): string[] => {
    const over = [s.perEnd.rss > target ? 'RSS' : '', s.perEnd.js > target ? 'JS' : ''].filter(Boolean).join(', ')
    return [
      label,
      int(s.ends),
      kib(s.perEnd.rss),
      kib(s.perEnd.js),
      kib(s.perEnd.arrayBuffers),
      `≤ ${target / 1024} KiB`,
      s.withinTarget ? 'yes' : `NO (${over || 'no ends'})`,
    ]
  }
  const lines = [
    table(head, align, [row('client (measuring process)', r.client), row('server (child, accepted ends)', r.server)]),
    '',
    `${r.transport}: ${int(r.connections)} connections, one ${r.messageBytes}-byte message each way, then ${(r.idleMs / 1000).toFixed(1)} s idle; ` +
      `growth over a baseline taken before the first connect, both after a forced GC. ` +
      `${int(r.connections)} connects took ${(r.connectMs / 1000).toFixed(2)} s (${int(r.connectsPerSec)}/s, ${r.batch} at a time), the exchanges ${(r.exchangeMs / 1000).toFixed(2)} s. ` +
      `Right after the exchange (before idling) arrayBuffers was ${kib(r.client.perEndAfterExchange.arrayBuffers)} / end (client), ${kib(r.server.perEndAfterExchange.arrayBuffers)} / end (server).`,
  ]
  return lines.join('\n')
}

/** The `semaphore` rows (@ipc/sem's Semaphore API), with the targets beside them. */
export function semaphoreTable(rows: SemaphoreRow[] | undefined): string {
  const head = ['kind', 'acquire+release pairs/s (target ≥ 1 M)', 'tryAcquire/s (target ≥ 5 M)', 'hand-off p50 (target ≤ 60 µs)', 'hand-off p99']
  const align: ('l' | 'r')[] = ['l', 'r', 'r', 'r', 'r']
  if (rows === undefined) return table(head, align, [['posix / sysv', 'failed', '—', '—', '—']])
  const n = (v: number): string => Math.round(v).toLocaleString('en-US')
  return table(
    head,
    align,
    rows.map((r) => [r.kind, n(r.pairsPerSec), n(r.tryAcquirePerSec), `${r.handoffP50Us.toFixed(1)} µs`, `${r.handoffP99Us.toFixed(1)} µs`]),
  )
}

/** The `signal` rows, with the C floor's real-time signal rows (`rtsigwait`: sigwaitinfo; `rtsig`: a handler) beside them. */
/** `nats` (64 B) beside the raw client library, and beside `tcp`, with the targets. */
export function natsTable(rows: Row[], raw: NatsRawRow): string {
  const ours = (payload: number) => rows.find((r) => r.name === 'nats' && r.payloadBytes === payload)
  const tcp = rows.find((r) => r.name === 'tcp' && r.payloadBytes === 64)
  const small = ours(64)
  const big = ours(64 * 1024)
  const n = (v: number | undefined): string => (v === undefined ? '—' : Math.round(v).toLocaleString('en-US'))
  const head = ['measure', 'nats (ours)', 'client library alone', 'target', 'met']
  const ratio = small?.rttP50Us != null && tcp?.rttP50Us != null ? small.rttP50Us / tcp.rttP50Us : undefined
  const mb = big?.bytesPerSec == null ? undefined : big.bytesPerSec / 1e6
  return table(
    head,
    ['l', 'r', 'r', 'r', 'l'],
    [
      ['64 B msgs/s one way', n(small?.msgsPerSec ?? undefined), n(raw.msgsPerSec), '≥ 200,000', (small?.msgsPerSec ?? 0) >= 200_000 ? 'yes' : 'NO'],
      ['64 KiB MB/s one way', mb === undefined ? '—' : mb.toFixed(1), '—', '≥ 300', (mb ?? 0) >= 300 ? 'yes' : 'NO'],
      [
        'round trip p50 (64 B)',
        small?.rttP50Us != null ? `${small.rttP50Us.toFixed(1)} µs` : '—',
        `${raw.rttP50Us.toFixed(1)} µs`,
        `≤ 3 × tcp (${tcp?.rttP50Us != null ? tcp.rttP50Us.toFixed(1) : '—'} µs)`,
        ratio === undefined ? '—' : `${ratio <= 3 ? 'yes' : 'NO'} (${ratio.toFixed(2)}×)`,
      ],
    ],
  )
}

/** The `patterns` rows: RPC and fan-out over unix:, with the targets beside them. */
export function patternsTable(row: PatternsRow | undefined): string {
  const head = ['measure', 'result', 'target', 'met']
  const align: ('l' | 'r')[] = ['l', 'r', 'r', 'l']
  if (row === undefined) return table(head, align, [['patterns', 'failed', '—', '—']])
  const ratio = row.rpcRttP50Us / row.bareRttP50Us
  const n = (v: number): string => Math.round(v).toLocaleString('en-US')
  return table(head, align, [
    ['RPC calls/s, 256 in flight', n(row.rpcCallsPerSec), '≥ 150,000', row.rpcCallsPerSec >= 150_000 ? 'yes' : 'NO'],
    [
      'RPC round trip p50 ÷ bare transport ping-pong p50',
      `${row.rpcRttP50Us.toFixed(1)} µs ÷ ${row.bareRttP50Us.toFixed(1)} µs = ${ratio.toFixed(2)}×`,
      '≤ 1.2×',
      ratio <= 1.2 ? 'yes' : 'NO',
    ],
    [
      `pub/sub fan-out, ${row.fanoutSubscribers} subscribers, 64 B (deliveries/s)`,
      `${n(row.fanoutDeliveriesPerSec)} (${n(row.fanoutMessages)} messages each, ${row.fanoutLost} lost)`,
      '≥ 1,000,000',
      row.fanoutDeliveriesPerSec >= 1_000_000 && row.fanoutLost === 0 ? 'yes' : 'NO',
    ],
  ])
}

export function signalTable(rows: SignalRow[] | undefined, floor: Floor | undefined): string {
  const head = [
    'run',
    'signals/s one way (target ≥ 250 k)',
    'stream whole, in order',
    'small-message RTT p50 (target ≤ 80 µs)',
    'RTT p99',
    'C floor signals/s (rtsigwait / rtsig)',
    'ours ÷ floor',
  ]
  const align: ('l' | 'r')[] = ['l', 'r', 'l', 'r', 'r', 'r', 'r']
  const best = floor?.rows.get('rtsigwait')?.msgsPerSec[64]
  const handler = floor?.rows.get('rtsig')?.msgsPerSec[64]
  const floorText =
    best === undefined ? '—' : `${Math.round(best).toLocaleString('en-US')} / ${handler === undefined ? '—' : Math.round(handler).toLocaleString('en-US')}`
  if (rows === undefined) return table(head, align, [['signal', 'failed', '—', '—', '—', floorText, '—']])
  return table(
    head,
    align,
    rows.map((r) => [
      r.limited ? 'RLIMIT_SIGPENDING = 64 (both ends)' : 'default limits',
      Math.round(r.signalsPerSec).toLocaleString('en-US'),
      r.inOrder ? `yes (${r.messages} messages)` : 'NO',
      r.limited ? '—' : `${r.rttP50Us.toFixed(1)} µs`,
      r.limited ? '—' : `${r.rttP99Us.toFixed(1)} µs`,
      floorText,
      best === undefined ? '—' : `${((100 * r.signalsPerSec) / best).toFixed(0)} %`,
    ]),
  )
}
