/**
 * RPC v2: a price service in a child process, called with a deadline, a cancellation, a bad
 * argument and a stream. Run: `node dist/rpc.js`.
 */
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, listen } from '@ipc/core'
import { type CallContext, RpcError, client, isRpcError, serve } from '@ipc/patterns'

const procedures = {
  quote: ({ sku, quantity }: { sku: string; quantity: number }) => {
    if (!Number.isInteger(quantity) || quantity < 1) throw new RpcError('BAD_QUANTITY', `quantity must be a positive integer, got ${quantity}`)
    return { sku, cents: quantity * 250 }
  },
  /** Slow on purpose: it gives up when its caller does. */
  report: (_: undefined, ctx: CallContext) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(resolve, 60_000, 'done')
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer)
        reject(ctx.signal.reason)
      })
    }),
  /** A stream: one price per tick. */
  async *ticker(count: number) {
    for (let i = 0; i < count; i++) yield { i, cents: 250 + i }
  },
}
type Prices = typeof procedures

if (process.argv[2] === 'service') {
  await serve(await connect(process.argv[3]!), procedures)
} else {
  const dir = mkdtempSync(join(tmpdir(), 'ipc-example-'))
  const server = await listen(`unix:${dir}/prices.sock`)
  const child = fork(new URL(import.meta.url), ['service', server.address])
  const transport = await server.accept()
  const prices = client<Prices>(transport)
  try {
    console.log('quote:', await prices.call('quote', { sku: 'ACME', quantity: 4 }))
    const bad = await prices.call('quote', { sku: 'ACME', quantity: 0 }).catch((e) => e)
    console.log('bad quantity:', isRpcError(bad) ? bad.code : bad)
    const late = await prices.call('report', undefined, { timeout: 100 }).catch((e) => e)
    console.log('report with a 100 ms deadline:', late.code)
    let total = 0
    for await (const tick of prices.stream('ticker', 1000)) total += tick.cents
    console.log('1000 ticks, total cents:', total)
  } finally {
    await transport.close()
    await server.close()
    child.kill()
    rmSync(dir, { recursive: true, force: true })
  }
}
