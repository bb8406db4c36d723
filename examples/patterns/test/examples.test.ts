// Every example runs as written and says what it should.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = async (name: string): Promise<string> => {
  const { stdout } = await promisify(execFile)(process.execPath, [fileURLToPath(new URL(`../dist/${name}.js`, import.meta.url))], { timeout: 50_000 })
  return stdout
}

describe('examples', () => {
  it('rpc: a quote, a coded failure, a deadline, a stream', async () => {
    const out = await run('rpc')
    expect(out).toContain("quote: { sku: 'ACME', cents: 1000 }")
    expect(out).toContain('bad quantity: BAD_QUANTITY')
    expect(out).toContain('report with a 100 ms deadline: ERR_IPC_TIMEOUT')
    expect(out).toContain(`1000 ticks, total cents: ${1000 * 250 + (999 * 1000) / 2}`)
  })

  it('pubsub: each subscriber gets what its pattern matches', async () => {
    const out = await run('pubsub')
    expect(out).toContain("subscriber: { pattern: 'prices.>', got: 10000, dropped: 0 }")
    expect(out).toContain("subscriber: { pattern: 'prices.eu.*', got: 5000, dropped: 0 }")
    expect(out).toMatch(/subscriber: \{ pattern: 'prices\.\*\.\*', got: \d+, dropped: \d+ \}/)
    const [, got, dropped] = /pattern: 'prices\.\*\.\*', got: (\d+), dropped: (\d+)/.exec(out)!
    expect(Number(got) + Number(dropped)).toBe(10_000) // every message arrived or was counted
  })

  it('workqueue: every job done, the dead worker’s job redelivered', async () => {
    const out = await run('workqueue')
    expect(out).toContain('squares of 0..199 done: 200; 42² = 1764')
    expect(out).toMatch(/acked: 200/)
    expect(out).toMatch(/redelivered: [12]/)
  })
})
