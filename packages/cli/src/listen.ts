/**
 * `ipc listen <address>`: listens, prints every message that arrives (one JSON line each; who
 * connected and left goes to standard error), sends each line of standard input to every open
 * connection, answers each message with itself when `echo`, and ends — closing the listener, so
 * its kernel objects go — on SIGINT/SIGTERM or after `count` messages.
 */
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { type CodecOption, type Transport, listen as listenAt } from '@ipc/core'
import { fromJsonText, toJsonLine } from './json.js'

/** Options of {@link listen}. */
export interface ListenOptions {
  /**
   * The codec both ends use.
   * @defaultValue `'msgpack'`
   */
  codec?: CodecOption
  /** Answer each message with itself. */
  echo?: boolean
  /** Stop after this many messages. */
  count?: number
  /** Ends the listener when aborted. */
  signal?: AbortSignal
}

/** Listens at `address` until `count` messages, an abort, or the listener's end; returns the number of messages. */
export async function listen(address: string, options: ListenOptions, input: Readable | undefined, output: Writable, notes: Writable): Promise<number> {
  const listener = await listenAt(address, { codec: options.codec })
  notes.write(`# listening at ${listener.address}\n`)
  const open = new Set<Transport>()
  let messages = 0
  let connections = 0
  let ending = false
  const end = (): void => {
    if (ending) return
    ending = true
    void listener.close()
    for (const t of open) void t.close()
  }
  options.signal?.addEventListener('abort', end, { once: true })
  if (input !== undefined) {
    ;(async () => {
      for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
        if (line.trim() === '') continue
        let value: unknown
        try {
          value = fromJsonText(line)
        } catch (err) {
          notes.write(`# ${(err as Error).message}\n`)
          continue
        }
        for (const t of open) await t.send(value).catch((err) => notes.write(`# send failed: ${(err as Error).message}\n`))
      }
    })()
  }
  const served: Promise<void>[] = []
  for await (const t of listener) {
    const n = ++connections
    open.add(t)
    const who = t.peer ? `pid ${t.peer.pid}${t.peer.uid !== undefined ? `, uid ${t.peer.uid}` : ''}` : 'peer unknown'
    notes.write(`# connection ${n} (${who})\n`)
    served.push(
      (async () => {
        try {
          for await (const m of t) {
            output.write(`${toJsonLine(m)}\n`)
            messages++
            if (options.echo) await t.send(m)
            if (options.count !== undefined && messages >= options.count) end()
          }
        } catch (err) {
          notes.write(`# connection ${n}: ${(err as Error).message}\n`)
        } finally {
          open.delete(t)
          notes.write(`# connection ${n} ended\n`)
          if (ending) await t.close()
        }
      })(),
    )
    if (ending) break
  }
  end()
  await Promise.all(served)
  return messages
}
