// Promise 5: hostile bytes give a coded error and close that connection only.
import { expect, it } from 'vitest'
import { isIpcError } from '../../errors.js'
import type { TransportOptions } from '../../transport.js'
import { type Kit, numberedSchema } from '../util.js'

/** Promise 5: bad bytes from a raw peer close that connection with a coded error, without a large allocation. */
export function hostileCases(kit: Kit): void {
  const { target, cleanups } = kit
  if (target.injectRaw) {
    const inject = target.injectRaw.bind(target)
    const header = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]
    const cases: { name: string; bytes: number[]; end: boolean; codes: string[]; schema?: boolean }[] = [
      { name: 'a 4 GiB length prefix', bytes: [0xff, 0xff, 0xff, 0xff, 1, 2, 3], end: false, codes: ['ERR_IPC_MESSAGE_TOO_LARGE'] },
      { name: 'a truncated frame, then EOF', bytes: [...header(100), 0x92, 1], end: true, codes: ['ERR_IPC_DECODE'] },
      {
        name: 'random garbage',
        bytes: Array.from({ length: 4096 }, (_, k) => (k * 7919 + 13) & 0xff),
        end: false,
        codes: ['ERR_IPC_MESSAGE_TOO_LARGE', 'ERR_IPC_DECODE'],
      },
      { name: 'undecodable msgpack', bytes: [...header(3), 0xc1, 0xc1, 0xc1], end: false, codes: ['ERR_IPC_DECODE'] },
      { name: 'a message that fails schema', bytes: [...header(2), 0x91, 0x01], end: false, codes: ['ERR_IPC_DECODE'], schema: true },
    ]
    for (const c of cases) {
      it(`promise 5: bad bytes — ${c.name}: a coded error, that connection closed, no large allocation`, async () => {
        const options: TransportOptions<any> = { maxMessageSize: 1024 * 1024 }
        if (c.schema) options.schema = numberedSchema
        const before = process.memoryUsage().arrayBuffers
        const { transport, child } = await inject(Uint8Array.from(c.bytes), c.end, options)
        cleanups.push(() => transport.close())
        if (child) cleanups.push(() => (child.exitCode === null ? child.kill('SIGKILL') : undefined))
        const info = await transport.closed
        expect(c.codes).toContain(info.error?.code)
        expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024)
        const err = await transport.receive().catch((e) => e)
        expect(isIpcError(err)).toBe(true)
      })
    }
  }
}
