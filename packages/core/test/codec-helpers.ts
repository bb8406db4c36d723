import type { Codec } from '../src/index.js'

/** What `encode` and `encodeShared` throw for `value` (undefined where one did not throw). */
export function encodeErrors(codec: Codec, value: unknown): unknown[] {
  return [codec.encode, codec.encodeShared!].map((encode) => {
    try {
      encode(value)
      return undefined
    } catch (err) {
      return err
    }
  })
}
