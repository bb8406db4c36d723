/**
 * Node's own IPC channel: `child_process.fork()` and `process.send()`.
 *
 * - `fork-json` (serialization 'json'): JSON has no binary type, so the payload travels as a
 *   base64 string; the sender encodes it (`Buffer#toString('base64')`) and the receiver decodes it
 *   back to bytes (`Buffer.from(s, 'base64')`) for every message, as an application would.
 * - `fork-advanced` (serialization 'advanced', the V8 structured-clone serializer): the
 *   Uint8Array is sent as is.
 *
 * Backpressure on the sending side of the stream: `process.send()` returns false once the
 * channel's write queue is long; the sender then waits for the send callback of that message.
 */
import type { ChildProcess } from 'node:child_process'
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
import { forkChild, guard, reap } from '../procs.js'
import type { Bench } from './bench.js'

type Serialization = 'json' | 'advanced'
/** The message on the wire: `data` is base64 text for json, bytes for advanced. */
interface Wire {
  seq: number
  data: string | Uint8Array
  sent?: number
}

/** `seq` of the child's "ready" message. */
const READY = -3

function encoder(serialization: Serialization): (m: Msg) => Wire {
  if (serialization === 'advanced') return (m) => m
  return (m) => {
    const w: Wire = { seq: m.seq, data: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength).toString('base64') }
    if (m.sent !== undefined) w.sent = m.sent
    return w
  }
}

function decoder(serialization: Serialization): (w: Wire) => Msg {
  if (serialization === 'advanced') return (w) => w as Msg
  return (w) => {
    const m: Msg = { seq: w.seq, data: Buffer.from(w.data as string, 'base64') }
    if (w.sent !== undefined) m.sent = w.sent
    return m
  }
}

/** Starts the child and waits for its "ready" (messages sent before it listens would be lost). */
async function open(config: ChildConfig, serialization: Serialization): Promise<ChildProcess> {
  const child = forkChild(config, serialization)
  const ready = new Promise<void>((resolve) => {
    const onMessage = (w: Wire): void => {
      if (w?.seq !== READY) return
      child.off('message', onMessage)
      resolve()
    }
    child.on('message', onMessage)
  })
  await guard(child, ready, `${config.name}: ready`, 15_000)
  return child
}

export function forkBench(serialization: Serialization): Bench {
  const name = serialization === 'json' ? 'fork-json' : 'fork-advanced'
  const encode = encoder(serialization)
  const decode = decoder(serialization)
  return {
    async pingPong(payloadBytes: number, plan: PingPongPlan): Promise<PingPongResult> {
      const child = await open({ name, mode: 'pingpong', payloadBytes, streamMs: 0 }, serialization)
      try {
        const data = makePayload(payloadBytes)
        let waiting: ((w: Wire) => void) | undefined
        child.on('message', (w: Wire) => {
          const r = waiting
          waiting = undefined
          r?.(w)
        })
        const run = measurePingPong(
          plan,
          (seq) =>
            new Promise<void>((resolve, reject) => {
              waiting = (w) => {
                try {
                  const m = decode(w)
                  checkEcho(seq, m.seq, m.data.length, payloadBytes)
                  resolve()
                } catch (err) {
                  reject(err)
                }
              }
              child.send(encode({ seq, data }))
            }),
        )
        const result = await guard(child, run, `${name} ping-pong`, plan.maxMs + 30_000)
        child.send({ seq: QUIT, data: '' })
        await reap(child)
        return result
      } finally {
        child.kill('SIGKILL')
      }
    },

    async stream(payloadBytes: number, plan: StreamPlan): Promise<StreamResult> {
      const child = await open({ name, mode: 'stream', payloadBytes, streamMs: plan.warmupMs + plan.durationMs }, serialization)
      try {
        const counter = new StreamCounter(payloadBytes, plan.warmupMs)
        const run = new Promise<StreamResult>((resolve, reject) => {
          child.on('message', (w: Wire) => {
            try {
              const m = decode(w)
              if (m.seq === END) resolve(counter.end(m.sent))
              else counter.message(m.seq, m.data.length)
            } catch (err) {
              reject(err)
            }
          })
        })
        // the child starts streaming when told to, after its "ready": its start-up is not measured
        child.send({ seq: 0, data: '' })
        const result = await guard(child, run, `${name} stream`, plan.warmupMs + plan.durationMs + 30_000)
        child.disconnect() // the child waits for this, then exits
        await reap(child)
        return result
      } finally {
        child.kill('SIGKILL')
      }
    },
  }
}

/** The child's side over `process.send` / `process.on('message')`. */
export async function forkSide(config: ChildConfig): Promise<void> {
  const serialization: Serialization = config.name === 'fork-json' ? 'json' : 'advanced'
  const encode = encoder(serialization)
  const decode = decoder(serialization)
  const send = process.send!.bind(process)
  if (config.mode === 'pingpong') {
    await new Promise<void>((resolve) => {
      process.on('message', (w: Wire) => {
        if (w.seq === QUIT) {
          process.disconnect()
          resolve()
          return
        }
        send(encode(decode(w)))
      })
      send({ seq: READY, data: '' })
    })
    return
  }
  // stream: wait for "go", send, then wait for the parent to disconnect
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()))
  const disconnected = new Promise<void>((resolve) => process.once('disconnect', resolve))
  send({ seq: READY, data: '' })
  await go
  const payload = makePayload(config.payloadBytes)
  let issued = 0
  let written = 0
  let waitFor = 0
  let wake: (() => void) | undefined
  const onWritten = (): void => {
    written++
    if (wake !== undefined && written >= waitFor) {
      const w = wake
      wake = undefined
      w()
    }
  }
  const sendOne = (m: Msg): Promise<void> | undefined => {
    const ok = send(encode(m), onWritten)
    issued++
    if (ok) return undefined
    // the channel's queue is long: wait until this message has been written
    waitFor = issued
    return new Promise<void>((resolve) => (wake = resolve))
  }
  const sent = await produce(config.streamMs, payload, sendOne)
  await new Promise<void>((resolve) => send(encode({ seq: END, data: new Uint8Array(0), sent }), () => resolve()))
  await disconnected
}
