/**
 * What the measuring side (the parent) and the echo/sink/source side (a child) share: names,
 * message shapes, the child's configuration, timing and statistics helpers.
 */
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

/** Our transports (the SDK's). */
export const OURS = ['unix', 'tcp', 'nats', 'pipe', 'fifo', 'mq', 'mq+sysv', 'shm', 'shm+spin', 'sem'] as const
/** What they are compared with. */
export const PEERS = ['fork-json', 'fork-advanced', 'net-cork', 'zeromq-ipc'] as const
export type OurName = (typeof OURS)[number]

/** `true` for the SDK's own transports (as opposed to the peers). */
export const isOurs = (name: string): name is OurName => (OURS as readonly string[]).includes(name)
export type PeerName = (typeof PEERS)[number]
export type Name = OurName | PeerName

/** Payload sizes measured. */
export const PAYLOADS = [64, 1024, 64 * 1024] as const

/** The benchmark message. `data` is the payload; `sent` travels only on the stream's end marker. */
export interface Msg {
  seq: number
  data: Uint8Array
  sent?: number
}

/** `seq` of the ping-pong "quit" message: parent → child, the child ends. */
export const QUIT = -1
/** `seq` of the stream's end marker: child → parent, carries `sent` (messages sent before it). */
export const END = -2

/** What a child is asked to do (passed as JSON in argv[2]). */
export interface ChildConfig {
  name: Name | 'mem-sink'
  /** pingpong: echo every message; stream: send for `streamMs`, then the end marker; sink: connect and read nothing. */
  mode: 'pingpong' | 'stream' | 'sink'
  payloadBytes: number
  /** Stream mode: how long to send (warm-up plus measured window). */
  streamMs: number
  /** Where to connect (unix/tcp/net-cork/zeromq-ipc/mem-sink). */
  address?: string
}

export interface PingPongPlan {
  /** Round trips run first and not measured. */
  warmup: number
  /** Round trips measured (at most). */
  count: number
  /** Stop measuring after this long even if `count` is not reached. */
  maxMs: number
}

export interface StreamPlan {
  /** Messages received during this long after the first one are not counted. */
  warmupMs: number
  /** The measured window (the child sends for warmupMs + durationMs). */
  durationMs: number
}

export interface PingPongResult {
  samples: number
  p50Us: number
  p99Us: number
}

export interface StreamResult {
  messages: number
  seconds: number
  msgsPerSec: number
  bytesPerSec: number
}

/** One row of results/latest.json. */
export interface Row {
  name: Name
  payloadBytes: number
  rttP50Us: number | null
  rttP99Us: number | null
  msgsPerSec: number | null
  bytesPerSec: number | null
}

/** The built file `name` next to this module (all bundles and chunks live in dist/). */
export function distFile(name: string): string {
  return join(dirname(fileURLToPath(import.meta.url)), name)
}

export const now = (): number => performance.now()

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A payload with non-trivial content (not all zeros). */
export function makePayload(bytes: number): Uint8Array {
  const b = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + 7) & 0xff
  return b
}

let sink: ((text: string) => void) | undefined

/** A finished line of output (to standard error, or to the sink a progress display set). */
export function log(text: string): void {
  if (sink) sink(text)
  else process.stderr.write(`${text}\n`)
}

/** Sends {@link log}'s lines to `to` (a progress display) instead; `undefined` restores standard error. */
export function setLogSink(to: ((text: string) => void) | undefined): void {
  sink = to
}

/** Runs `work`; a failure is logged (with `what`), counted through `failed()`, and gives undefined. */
export async function attempt<T>(what: string, work: () => Promise<T>, failed: () => void): Promise<T | undefined> {
  try {
    return await work()
  } catch (err) {
    failed()
    log(`  FAILED ${what}: ${(err as Error)?.stack ?? err}`)
    return undefined
  }
}

/** Percentile by nearest rank of sorted samples. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

/**
 * Runs ping-pong round trips: `warmup` unmeasured, then up to `count` measured ones (or until
 * `maxMs`). `roundTrip(seq)` sends one message and resolves once its echo is back (and checked).
 */
export async function measurePingPong(plan: PingPongPlan, roundTrip: (seq: number) => Promise<void>): Promise<PingPongResult> {
  let seq = 0
  for (let i = 0; i < plan.warmup; i++) await roundTrip(seq++)
  const samples = new Float64Array(plan.count)
  let n = 0
  const deadline = now() + plan.maxMs
  while (n < plan.count) {
    const t0 = now()
    await roundTrip(seq++)
    const t1 = now()
    samples[n++] = (t1 - t0) * 1000
    if (t1 > deadline) break
  }
  const sorted = samples.subarray(0, n).sort()
  return { samples: n, p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99) }
}

/** Checks an echo: the same seq, the whole payload. */
export function checkEcho(seq: number, got: number, length: number, payloadBytes: number): void {
  if (got !== seq) throw new Error(`ping-pong: expected echo of seq ${seq}, got ${got}`)
  if (length !== payloadBytes) throw new Error(`ping-pong: echo of seq ${seq} has ${length} payload bytes, expected ${payloadBytes}`)
}

/**
 * The receiving side of a stream: checks that seq numbers arrive in order and payloads whole,
 * skips a warm-up, and times the rest up to the end marker.
 */
export class StreamCounter {
  private expected = 0
  private first = -1
  private start = -1
  private countedFrom = 0

  constructor(
    private readonly payloadBytes: number,
    private readonly warmupMs: number,
  ) {}

  /** One message arrived. Throws on a gap, a reordering or a short payload. */
  message(seq: number, length: number): void {
    if (seq !== this.expected) throw new Error(`stream: expected seq ${this.expected}, got ${seq}`)
    if (length !== this.payloadBytes) throw new Error(`stream: message ${seq} has ${length} payload bytes, expected ${this.payloadBytes}`)
    this.expected++
    if (this.start < 0) {
      const t = now()
      if (this.first < 0) this.first = t
      else if (t - this.first >= this.warmupMs) {
        this.start = t
        this.countedFrom = this.expected
      }
    }
  }

  /** The end marker arrived; `sent` is what the child says it sent. */
  end(sent: number | undefined): StreamResult {
    const t = now()
    if (sent !== this.expected) throw new Error(`stream: the child sent ${sent} messages, ${this.expected} arrived`)
    if (this.start < 0) throw new Error(`stream: ended during the warm-up (${this.expected} messages)`)
    const messages = this.expected - this.countedFrom
    const seconds = (t - this.start) / 1000
    const msgsPerSec = messages / seconds
    return { messages, seconds, msgsPerSec, bytesPerSec: msgsPerSec * this.payloadBytes }
  }
}

/** Child side of a stream: sends `{seq, data}` as fast as `send` allows for `ms`, returns how many. */
export async function produce(ms: number, payload: Uint8Array, send: (m: Msg) => unknown | Promise<unknown>): Promise<number> {
  const deadline = now() + ms
  let seq = 0
  for (;;) {
    // checking the clock every 16 messages keeps its cost out of the measurement
    for (let i = 0; i < 16; i++) {
      const r = send({ seq, data: payload })
      seq++
      if (r !== undefined) await r
    }
    if (now() >= deadline) return seq
  }
}
