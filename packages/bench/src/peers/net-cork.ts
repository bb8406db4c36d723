/**
 * The hand-written baseline: a `net` Unix socket carrying `[u32 LE length][msgpackr pack({seq, data})]`.
 *
 * - Sending: the first write of a tick corks the socket and schedules `uncork()` with
 *   `process.nextTick`, so everything written in one tick leaves in one writev. A frame under
 *   16 KiB is copied behind its prefix into one buffer; a larger one is written as prefix + body.
 *   The stream's sender respects `socket.write()`'s return value and waits for 'drain'.
 * - Receiving: length-prefixed frames are cut out of the 'data' chunks (a frame inside one chunk
 *   is unpacked in place; a frame split across chunks is joined once) and unpacked with msgpackr.
 */
import { once } from 'node:events'
import { type Server, type Socket, connect, createServer } from 'node:net'
import { pack, unpack } from 'msgpackr'
import {
  type ChildConfig,
  END,
  type Msg,
  type PingPongPlan,
  type PingPongResult,
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

const SMALL = 16 * 1024

/** Writes frames, corking the socket for the rest of the tick. */
export class CorkWriter {
  private corked = false
  private readonly uncork = (): void => {
    this.corked = false
    this.socket.uncork()
  }

  constructor(private readonly socket: Socket) {}

  /** Queues one message; returns socket.write()'s verdict (false: wait for 'drain'). */
  write(m: Msg): boolean {
    const body: Buffer = pack(m)
    if (!this.corked) {
      this.corked = true
      this.socket.cork()
      process.nextTick(this.uncork)
    }
    if (body.length < SMALL) {
      const frame = Buffer.allocUnsafe(4 + body.length)
      frame.writeUInt32LE(body.length, 0)
      frame.set(body, 4)
      return this.socket.write(frame)
    }
    const prefix = Buffer.allocUnsafe(4)
    prefix.writeUInt32LE(body.length, 0)
    this.socket.write(prefix)
    return this.socket.write(body)
  }
}

/** Cuts length-prefixed frames out of a byte stream and unpacks them. */
export class FrameReader {
  private pending: Buffer[] = []
  private pendingBytes = 0
  /** Bytes needed before the pending chunks can yield something (a prefix, or a whole frame). */
  private need = 4

  constructor(private readonly onMessage: (m: Msg) => void) {}

  push(chunk: Buffer): void {
    let buf: Buffer
    if (this.pendingBytes === 0) buf = chunk
    else {
      this.pending.push(chunk)
      this.pendingBytes += chunk.length
      if (this.pendingBytes < this.need) return
      buf = Buffer.concat(this.pending, this.pendingBytes)
      this.pending = []
      this.pendingBytes = 0
    }
    let pos = 0
    this.need = 4
    while (buf.length - pos >= 4) {
      const size = buf.readUInt32LE(pos)
      if (buf.length - pos - 4 < size) {
        this.need = 4 + size
        break
      }
      const body = buf.subarray(pos + 4, pos + 4 + size)
      pos += 4 + size
      this.onMessage(unpack(body) as Msg)
    }
    if (pos < buf.length) {
      const rest = buf.subarray(pos)
      this.pending.push(rest)
      this.pendingBytes = rest.length
    }
  }
}

interface Opened {
  socket: Socket
  server: Server
  child: ReturnType<typeof spawnChild>
}

async function open(folder: string, config: ChildConfig): Promise<Opened> {
  const path = `${folder}/net.sock`
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => {
      server.off('error', reject)
      resolve()
    })
  })
  try {
    const child = spawnChild({ ...config, address: path })
    const [socket] = (await guard(child, once(server, 'connection'), 'net-cork: accept', 15_000)) as [Socket]
    return { socket, server, child }
  } finally {
    server.close() // stops listening and removes the socket file; the connection stays
  }
}

async function finish({ socket, child }: Opened): Promise<void> {
  socket.end() // the child sees the end and exits
  await reap(child)
  socket.destroy()
}

export function netCork(folder: string): Bench {
  return {
    async pingPong(payloadBytes: number, plan: PingPongPlan): Promise<PingPongResult> {
      const opened = await open(folder, { name: 'net-cork', mode: 'pingpong', payloadBytes, streamMs: 0 })
      const { socket, child } = opened
      try {
        const data = makePayload(payloadBytes)
        const writer = new CorkWriter(socket)
        let waiting: ((m: Msg) => void) | undefined
        const reader = new FrameReader((m) => {
          const r = waiting
          waiting = undefined
          r?.(m)
        })
        socket.on('data', (chunk: Buffer) => reader.push(chunk))
        const run = measurePingPong(
          plan,
          (seq) =>
            new Promise<void>((resolve, reject) => {
              waiting = (m) => {
                try {
                  checkEcho(seq, m.seq, m.data.length, payloadBytes)
                  resolve()
                } catch (err) {
                  reject(err)
                }
              }
              writer.write({ seq, data })
            }),
        )
        const result = await guard(child, run, 'net-cork ping-pong', plan.maxMs + 30_000)
        await finish(opened)
        return result
      } finally {
        child.kill('SIGKILL')
        socket.destroy()
      }
    },

    async stream(payloadBytes: number, plan: StreamPlan): Promise<StreamResult> {
      const opened = await open(folder, { name: 'net-cork', mode: 'stream', payloadBytes, streamMs: plan.warmupMs + plan.durationMs })
      const { socket, child } = opened
      try {
        const counter = new StreamCounter(payloadBytes, plan.warmupMs)
        const run = new Promise<StreamResult>((resolve, reject) => {
          const reader = new FrameReader((m) => {
            if (m.seq === END) resolve(counter.end(m.sent))
            else counter.message(m.seq, m.data.length)
          })
          socket.on('data', (chunk: Buffer) => {
            try {
              reader.push(chunk)
            } catch (err) {
              reject(err)
            }
          })
          socket.on('end', () => reject(new Error('net-cork stream: the connection ended before the end marker')))
        })
        const result = await guard(child, run, 'net-cork stream', plan.warmupMs + plan.durationMs + 30_000)
        await finish(opened)
        return result
      } finally {
        child.kill('SIGKILL')
        socket.destroy()
      }
    },
  }
}

/** The child's side. */
export async function netCorkSide(config: ChildConfig): Promise<void> {
  const socket = connect(config.address!)
  await once(socket, 'connect')
  const writer = new CorkWriter(socket)
  const ended = new Promise<void>((resolve) => socket.once('end', resolve))
  if (config.mode === 'pingpong') {
    const reader = new FrameReader((m) => writer.write(m))
    socket.on('data', (chunk: Buffer) => reader.push(chunk))
  } else {
    socket.resume() // read (nothing comes) so the parent's end is seen
    const payload = makePayload(config.payloadBytes)
    const sent = await produce(config.streamMs, payload, (m) => (writer.write(m) ? undefined : once(socket, 'drain')))
    writer.write({ seq: END, data: new Uint8Array(0), sent })
  }
  await ended
  await new Promise<void>((resolve) => socket.end(resolve))
}
