import { parseSize } from './address.js'
import { IpcError } from './errors.js'

/**
 * Parses one mechanism or transport option, from an address (`?backlog=64`, a string) or from an
 * options object (any type). Throws `ERR_IPC_INVALID_ARGUMENT` naming the option for a bad value;
 * never lets a bad value through as `NaN` or a silently changed one.
 */
export type OptionParser<T = unknown> = (value: unknown, name: string) => T

/** The options a scheme understands, each with its parser (see {@link SchemeHandler.options}). */
export type OptionParsers = Readonly<Record<string, OptionParser>>

function invalid(name: string, expected: string, value: unknown): IpcError {
  const shown = typeof value === 'string' ? `"${value}"` : String(value)
  return new IpcError('ERR_IPC_INVALID_ARGUMENT', `option ${name} must be ${expected}, got ${shown}`, { details: { option: name } })
}

/** An integer in [min, max], given as a number or a decimal string. */
export function count(min: number, max: number = Number.MAX_SAFE_INTEGER): OptionParser<number> {
  return (value, name) => {
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN
    if (!Number.isSafeInteger(n) || n < min || n > max) throw invalid(name, `an integer from ${min} to ${max}`, value)
    return n
  }
}

/** A byte size in [min, max]: a number, or a string such as `65536`, `64KiB`, `4MiB`. */
export function size(min: number, max: number = Number.MAX_SAFE_INTEGER): OptionParser<number> {
  return (value, name) => {
    if (typeof value !== 'number' && typeof value !== 'string') throw invalid(name, 'a size such as 65536 or 64KiB', value)
    try {
      return parseSize(value, name, min, max)
    } catch {
      throw invalid(name, `a size from ${min} to ${max} bytes (e.g. 65536 or 64KiB)`, value)
    }
  }
}

const DURATION_UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000 }

/** Milliseconds in [min, max]: a number, or a string such as `500`, `500ms`, `2s`. */
export function duration(min = 0, max = 2 ** 31 - 1): OptionParser<number> {
  return (value, name) => {
    let n = Number.NaN
    if (typeof value === 'number') n = value
    else if (typeof value === 'string') {
      const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/i.exec(value)
      if (m) n = Number(m[1]) * DURATION_UNITS[(m[2] ?? '').toLowerCase()]!
    }
    if (!Number.isFinite(n) || n < min || n > max) throw invalid(name, `a duration from ${min} to ${max} ms (e.g. 500 or 2s)`, value)
    return n
  }
}

/** `true`/`false`, also `1`/`0`, `yes`/`no` and an empty value (`?flag`) in an address. */
export function flag(): OptionParser<boolean> {
  return (value, name) => {
    if (typeof value === 'boolean') return value
    if (typeof value === 'string') {
      const v = value.toLowerCase()
      if (v === 'true' || v === '1' || v === 'yes' || v === '') return true
      if (v === 'false' || v === '0' || v === 'no') return false
    }
    throw invalid(name, 'true or false', value)
  }
}

/** One of `choices`, exactly. */
export function oneOf<const C extends string>(...choices: C[]): OptionParser<C> {
  return (value, name) => {
    if (typeof value === 'string' && (choices as string[]).includes(value)) return value as C
    throw invalid(name, `one of ${choices.join(', ')}`, value)
  }
}

/**
 * Parses every option of `values` that `parsers` declares (skipping `undefined`) and returns a
 * copy with the parsed values; other keys are copied unchanged.
 */
export function parseOptions(values: Record<string, unknown>, parsers: OptionParsers): Record<string, unknown> {
  const out: Record<string, unknown> = { ...values }
  for (const key of Object.keys(parsers)) {
    const value = values[key]
    if (value !== undefined) out[key] = parsers[key]!(value, key)
  }
  return out
}
