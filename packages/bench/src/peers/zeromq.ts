/**
 * zeromq 6 (libzmq through zeromq.js) over `ipc://<tmpdir>/zmq-*.sock`, one Pair socket on each
 * side for both tests, every message one msgpackr-packed frame. The parent binds, the child
 * connects. The stream's sender awaits every `send()` (zeromq.js allows one pending send per
 * socket; it waits while the send high-water mark, default 1000 messages, is reached).
 */
import { Pair } from 'zeromq'
import { pack, unpack } from 'msgpackr'
import {
  type ChildConfig,
  END,
  type Msg,
  type PingPongPlan,
  type PingPongResult,
  QUIT,
  type StreamPlan,
  type StreamResult,
  StreamCounter,
  checkEcho,
  makePayload,
  measurePingPong,
  produce,
} from '../common.js'
import { guard, reap, spawnChild } from '../procs.js'
import type { Bench } from './bench.js'

/** `seq` of the child's "ready" message. */
const READY = -3
const EMPTY = new Uint8Array(0)

let cells = 0

async function open(folder: string, config: ChildConfig): Promise<{ sock: Pair; child: ReturnType<typeof spawnChild> }> {
  const address = `ipc://${folder}/zmq-${++cells}.sock`
  const sock = new Pair({ linger: 0 })
  try {
    await sock.bind(address)
    const child = spawnChild({ ...config, address })
    const ready = (async () => {
      const [frame] = await sock.receive()
      if ((unpack(frame!) as Msg).seq !== READY) throw new Error('zeromq-ipc: expected the ready message first')
    })()
    await guard(child, ready, 'zeromq-ipc: ready', 15_000)
    return { sock, child }
  } catch (err) {
    sock.close()
    throw err
  }
}

async function finish(sock: Pair, child: ReturnType<typeof spawnChild>): Promise<void> {
  await sock.send(pack({ seq: QUIT, data: EMPTY }))
  await reap(child)
  sock.close()
}

export function zeromqBench(folder: string): Bench {
  return {
    async pingPong(payloadBytes: number, plan: PingPongPlan): Promise<PingPongResult> {
      const { sock, child } = await open(folder, { name: 'zeromq-ipc', mode: 'pingpong', payloadBytes, streamMs: 0 })
      try {
        const data = makePayload(payloadBytes)
        const run = measurePingPong(plan, async (seq) => {
          await sock.send(pack({ seq, data }))
          const [frame] = await sock.receive()
          const m = unpack(frame!) as Msg
          checkEcho(seq, m.seq, m.data.length, payloadBytes)
        })
        const result = await guard(child, run, 'zeromq-ipc ping-pong', plan.maxMs + 30_000)
        await finish(sock, child)
        return result
      } finally {
        child.kill('SIGKILL')
        if (!sock.closed) sock.close()
      }
    },

    async stream(payloadBytes: number, plan: StreamPlan): Promise<StreamResult> {
      const { sock, child } = await open(folder, { name: 'zeromq-ipc', mode: 'stream', payloadBytes, streamMs: plan.warmupMs + plan.durationMs })
      try {
        const counter = new StreamCounter(payloadBytes, plan.warmupMs)
        const run = (async (): Promise<StreamResult> => {
          await sock.send(pack({ seq: 0, data: EMPTY })) // "go"
          for await (const [frame] of sock) {
            const m = unpack(frame!) as Msg
            if (m.seq === END) return counter.end(m.sent)
            counter.message(m.seq, m.data.length)
          }
          throw new Error('zeromq-ipc stream: the socket closed before the end marker')
        })()
        const result = await guard(child, run, 'zeromq-ipc stream', plan.warmupMs + plan.durationMs + 30_000)
        await finish(sock, child)
        return result
      } finally {
        child.kill('SIGKILL')
        if (!sock.closed) sock.close()
      }
    },
  }
}

/** The child's side. */
export async function zeromqSide(config: ChildConfig): Promise<void> {
  const sock = new Pair({ linger: 0 })
  sock.connect(config.address!)
  await sock.send(pack({ seq: READY, data: EMPTY }))
  if (config.mode === 'pingpong') {
    for await (const [frame] of sock) {
      const m = unpack(frame!) as Msg
      if (m.seq === QUIT) break
      await sock.send(pack(m))
    }
  } else {
    await sock.receive() // "go"
    const payload = makePayload(config.payloadBytes)
    const sent = await produce(config.streamMs, payload, (m) => sock.send(pack(m)))
    await sock.send(pack({ seq: END, data: EMPTY, sent }))
    for (;;) {
      const [frame] = await sock.receive()
      if ((unpack(frame!) as Msg).seq === QUIT) break
    }
  }
  sock.close()
}
