/**
 * The backpressure memory test, run by main.js in this fresh process (so the RSS baseline is not
 * blurred by the heap of the other benchmarks): a `unix:` listener with highWaterMark 1 MiB, a
 * child that connects and reads nothing, and `await transport.send({ seq, data: 64 KiB })` in a
 * loop aiming at 1 GiB. The send blocks once the queue is full; RSS is sampled every 50 ms (and
 * every 16 accepted sends) for 2 s from the first send. The result goes to the parent over the
 * IPC channel main.js opened.
 */
import { listen } from '@ipc/core'
import '@ipc/socket'
import { type Msg, log, makePayload, now, sleep } from './common.js'
import { cleanup, guard, reap, spawnChild } from './procs.js'

export interface MemoryResult {
  transport: 'unix'
  highWaterMark: number
  payloadBytes: number
  /** What the loop aimed to send. */
  targetBytes: number
  /** Payload bytes of the sends that resolved. */
  bytesAccepted: number
  messagesAccepted: number
  /** Encoded bytes accepted (transport.stats.bytesOut: msgpack of the whole message, without the 4-byte prefixes). */
  encodedBytesAccepted: number
  /** Whether a send was still waiting when sampling ended (it should: the reader reads nothing). */
  sendBlocked: boolean
  /** When the last send resolved, in ms after the first send started. */
  lastAcceptMs: number
  rssBeforeMiB: number
  peakRssGrowthMiB: number
  rssGrowthAtEndMiB: number
  /** The target: growth ≤ highWaterMark + 32 MiB. */
  limitMiB: number
  withinLimit: boolean
  samples: number
  sampleIntervalMs: number
  durationMs: number
}

const MiB = 1024 * 1024
const HWM = 1 * MiB
const PAYLOAD = 64 * 1024
const TARGET = 1024 * MiB
const SAMPLE_MS = 50
const DURATION_MS = 2000

// never outlive main.js: when its IPC channel goes, stop (the exit hook kills the sink child)
process.on('disconnect', () => {
  cleanup()
  process.exit(3)
})

/** main.js passes a private folder for the socket (and removes it afterwards). */
async function measure(folder: string): Promise<MemoryResult> {
  {
    const listener = await listen<Msg, Msg>(`unix:${folder}/bench.sock`, { highWaterMark: HWM })
    const child = spawnChild({ name: 'mem-sink', mode: 'sink', payloadBytes: PAYLOAD, streamMs: 0, address: listener.address })
    try {
      const t = await guard(child, listener.accept(), 'memory: accept', 15_000)
      await listener.close()
      const data = makePayload(PAYLOAD)
      const gc = (globalThis as { gc?: () => void }).gc
      gc?.()
      await sleep(100)
      gc?.()
      const before = process.memoryUsage().rss
      let peak = before
      let samples = 0
      const sample = (): void => {
        const rss = process.memoryUsage().rss
        samples++
        if (rss > peak) peak = rss
      }
      let accepted = 0
      let lastAccept = 0
      const start = now()
      const timer = setInterval(sample, SAMPLE_MS)
      const sending = (async () => {
        for (let seq = 0; accepted * PAYLOAD < TARGET; seq++) {
          await t.send({ seq, data })
          accepted++
          lastAccept = now()
          if ((seq & 15) === 0) sample()
        }
      })()
      let sendError: unknown
      sending.catch((err) => (sendError = err))
      await sleep(DURATION_MS)
      clearInterval(timer)
      sample()
      const end = process.memoryUsage().rss
      const blocked = accepted * PAYLOAD < TARGET && sendError === undefined
      const encoded = t.stats.bytesOut
      child.kill('SIGKILL')
      await reap(child)
      // the waiting send now fails (the peer is gone); give it a moment
      await Promise.race([sending.catch(() => {}), sleep(2000)])
      await t.close()
      if (sendError !== undefined && !blocked) log(`  memory: send failed: ${(sendError as Error)?.message ?? sendError}`)
      const growth = (peak - before) / MiB
      const limitMiB = HWM / MiB + 32
      return {
        transport: 'unix',
        highWaterMark: HWM,
        payloadBytes: PAYLOAD,
        targetBytes: TARGET,
        bytesAccepted: accepted * PAYLOAD,
        messagesAccepted: accepted,
        encodedBytesAccepted: encoded,
        sendBlocked: blocked,
        lastAcceptMs: Math.round(lastAccept === 0 ? 0 : lastAccept - start),
        rssBeforeMiB: before / MiB,
        peakRssGrowthMiB: growth,
        rssGrowthAtEndMiB: (end - before) / MiB,
        limitMiB,
        withinLimit: growth <= limitMiB,
        samples,
        sampleIntervalMs: SAMPLE_MS,
        durationMs: DURATION_MS,
      }
    } finally {
      child.kill('SIGKILL')
      await listener.close()
    }
  }
}

measure(process.argv[2]!).then(
  (result) => {
    process.send!(result, () => {
      cleanup()
      process.exit(0)
    })
  },
  (err) => {
    log(`memory test: ${(err as Error)?.stack ?? err}`)
    cleanup()
    process.exit(1)
  },
)
