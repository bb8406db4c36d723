/**
 * How `ipc send` / `ipc listen` show messages as JSON and read them back: plain JSON, plus three
 * tagged objects for what JSON has no word for — `{"$bytes": "<base64>"}` (a `Uint8Array`),
 * `{"$bigint": "123"}` and `{"$map": [[key, value], …]}`. `undefined` shows as `null`.
 */
import { IpcError } from '@ipc/core'

/** One message as one line of JSON. */
export function toJsonLine(value: unknown): string {
  return JSON.stringify(value, function replace(this: Record<string, unknown>, key: string, shown: unknown) {
    const raw = this[key] // before toJSON (a Buffer's toJSON would hide its bytes)
    if (raw instanceof Uint8Array) return { $bytes: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') }
    if (typeof raw === 'bigint') return { $bigint: raw.toString() }
    if (raw instanceof Map) return { $map: [...raw.entries()] }
    if (raw === undefined) return null
    return shown
  })
}

function only(value: Record<string, unknown>, key: string): boolean {
  const keys = Object.keys(value)
  return keys.length === 1 && keys[0] === key
}

/** A message from JSON text (the tagged objects become what they name); `ERR_IPC_INVALID_ARGUMENT` for text that is not JSON. */
export function fromJsonText(text: string): unknown {
  try {
    return JSON.parse(text, (_key, value: unknown) => {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
      const v = value as Record<string, unknown>
      if (only(v, '$bytes') && typeof v.$bytes === 'string') return new Uint8Array(Buffer.from(v.$bytes, 'base64'))
      if (only(v, '$bigint') && typeof v.$bigint === 'string' && /^-?\d+$/.test(v.$bigint)) return BigInt(v.$bigint)
      if (only(v, '$map') && Array.isArray(v.$map) && v.$map.every((e) => Array.isArray(e) && e.length === 2)) return new Map(v.$map as [unknown, unknown][])
      return value
    })
  } catch (err) {
    throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `not JSON: ${text.length > 80 ? `${text.slice(0, 80)}…` : text} (${(err as Error).message})`)
  }
}
