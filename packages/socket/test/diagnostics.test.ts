// diagnostics_channel: connections can be watched without wrapping the API (over unix:, for real).
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IPC_CHANNELS, type IpcCloseMessage, type IpcConnectMessage, type IpcErrorMessage, type IpcListenMessage, connect, listen } from '@ipc/core'
import { afterAll, describe, expect, it } from 'vitest'
import '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'ipc-diag-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('diagnostics_channel', () => {
  it('ipc:listen, ipc:connect (both sides), ipc:close and ipc:error carry the address, mechanism and peer', async () => {
    const seen: { name: string; message: any }[] = []
    const handlers = Object.values(IPC_CHANNELS).map((name) => {
      const h = (message: unknown): void => void seen.push({ name, message })
      subscribe(name, h)
      return [name, h] as const
    })
    try {
      const address = `unix:${join(dir, 'watched.sock')}`
      const l = await listen(address)
      const [c, s] = await Promise.all([connect(address), l.accept()])
      await c.close()
      await s.closed
      await l.close()
      const failed = await connect(`unix:${join(dir, 'nobody.sock')}`).catch((e) => e)
      await new Promise((r) => setImmediate(r))
      const of = (name: string) => seen.filter((e) => e.name === name).map((e) => e.message)
      expect(of('ipc:listen')).toEqual([expect.objectContaining({ address, mechanism: 'unix', listener: l } satisfies Partial<IpcListenMessage>)])
      const connects = of('ipc:connect') as IpcConnectMessage[]
      expect(connects.map((m) => m.side).sort()).toEqual(['client', 'listener'])
      for (const m of connects) {
        expect(m).toMatchObject({ address, mechanism: 'unix' })
        expect(m.peer?.pid).toBe(process.pid)
      }
      expect(connects.find((m) => m.side === 'client')!.transport).toBe(c)
      const closes = of('ipc:close') as IpcCloseMessage[]
      expect(closes.map((m) => `${m.side}:${m.reason}`).sort()).toEqual(['client:local', 'listener:peer'])
      expect(of('ipc:error')).toEqual([
        expect.objectContaining({
          address: `unix:${join(dir, 'nobody.sock')}`,
          mechanism: 'unix',
          operation: 'connect',
          error: failed,
        } satisfies Partial<IpcErrorMessage>),
      ])
    } finally {
      for (const [name, h] of handlers) unsubscribe(name, h)
    }
  })
})
