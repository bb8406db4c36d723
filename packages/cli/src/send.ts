/**
 * `ipc send <address> [json…]`: connects, sends each message (the arguments, else one per line of
 * standard input), and prints every message that comes back, one JSON line each, until `count`
 * have come or nothing has come for `wait` ms after the last send.
 */
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { type CodecOption, connect } from '@ipc/core'
import { fromJsonText, toJsonLine } from './json.js'

/** Options of {@link send}. */
export interface SendOptions {
  /**
   * The codec both ends use.
   * @defaultValue `'msgpack'`
   */
  codec?: CodecOption
  /**
   * Stop after this many replies.
   * @defaultValue no count: the command stops once it has been quiet for `wait` ms
   */
  count?: number
  /**
   * Quiet time after the last send (or reply) before closing, ms.
   * @defaultValue `500`
   */
  wait?: number
  /**
   * How long to keep trying to connect, ms.
   * @defaultValue `5000`
   */
  timeout?: number
}

/** Sends `messages` (JSON texts; `undefined`: lines of `input`) to `address`; prints replies to `output`. Returns the number of replies. */
export async function send(address: string, messages: string[] | undefined, options: SendOptions, input: Readable, output: Writable): Promise<number> {
  const values = messages?.map(fromJsonText) // bad JSON fails before anything is sent
  const t = await connect(address, { codec: options.codec, timeout: options.timeout ?? 5000 })
  const wait = options.wait ?? 500
  let replies = 0
  let quiet: NodeJS.Timeout | undefined
  let sending = true
  const done = new Promise<void>((resolve) => {
    const settle = (): void => {
      if (quiet) clearTimeout(quiet)
      resolve()
    }
    const arm = (): void => {
      if (quiet) clearTimeout(quiet)
      if (!sending) quiet = setTimeout(settle, wait)
    }
    ;(async () => {
      for await (const m of t) {
        output.write(`${toJsonLine(m)}\n`)
        replies++
        if (options.count !== undefined && replies >= options.count) break
        arm()
      }
      settle()
    })().catch(settle)
    sendAll().then(() => {
      sending = false
      if (options.count !== undefined && replies >= options.count) settle()
      else arm()
    }, settle)
  })
  async function sendAll(): Promise<void> {
    if (values !== undefined) {
      for (const v of values) await t.send(v)
      return
    }
    for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
      if (line.trim() === '') continue
      await t.send(fromJsonText(line))
    }
  }
  try {
    await done
  } finally {
    await t.close()
  }
  return replies
}
