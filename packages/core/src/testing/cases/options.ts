// Options are parsed in one place: a bad value of any declared option is refused, naming it.
import { expect, it } from 'vitest'
import { isIpcError } from '../../errors.js'
import { COMMON_OPTIONS, connect, listen, schemeHandler } from '../../registry.js'
import { parseAddress } from '../../address.js'
import type { Kit } from '../util.js'

/** Every declared option of the mechanism, and every common one, refuses a bad value (mechanisms with listeners). */
export function optionCases(kit: Kit): void {
  const { target } = kit
  const lt = target.listener
  if (!lt) return
  it('options: a bad value for every declared and common option is ERR_IPC_INVALID_ARGUMENT at listen() and connect(), naming the option', async () => {
    const address = lt.fresh()
    const handler = schemeHandler(parseAddress(address).scheme)
    expect(handler).toBeDefined()
    const names = [...Object.keys(COMMON_OPTIONS), ...Object.keys(handler!.options ?? {})]
    expect(handler!.options, 'the scheme declares its options with parsers').toBeDefined()
    const sep = address.includes('?') ? '&' : '?'
    for (const name of names) {
      for (const [how, attempt] of [
        ['listen, address', () => listen(`${address}${sep}${name}=not%20a%20value`)],
        ['connect, address', () => connect(`${address}${sep}${name}=not%20a%20value`)],
        ['listen, object', () => listen(address, { [name]: -1.5 })],
      ] as const) {
        const err = await attempt().then(
          async (made) => {
            await (made as { close(): Promise<void> }).close()
            return undefined
          },
          (e) => e,
        )
        expect(isIpcError(err, 'ERR_IPC_INVALID_ARGUMENT'), `${name} (${how}): ${err?.code} ${err?.message}`).toBe(true)
        expect(err.details?.option, `${name} (${how})`).toBe(name)
      }
    }
  })
}
