import { IpcError } from './errors.js'

/**
 * What msgpack (without extensions) cannot carry exactly, named with its path once the encoder
 * (msgpack-encode.ts) has refused a message: msgpackr would have changed such values silently — a
 * `Set` becomes an array, an `Error` or a `RegExp` an array of strings, a function `undefined`, a
 * lone surrogate U+FFFD — or, for typed arrays other than `Uint8Array`, written a `bin` of the
 * right length whose tail is stale bytes of its own buffer (earlier messages: a leak to the peer).
 * Returns a description of the first such value, with its path, or `undefined` when everything
 * can be sent as it is.
 *
 * Plain objects, arrays, `Map`s (any keys), `Date`s, `Uint8Array`s (and `Buffer`s), strings,
 * numbers, bigints in 64 bits, booleans, `null` and `undefined` pass; other class instances are
 * sent as their own enumerable properties, as msgpackr does.
 */
export function findUnencodable(value: unknown, maxDepth: number): string | undefined {
  const problem = visit(value, maxDepth)
  return problem === undefined ? undefined : `${problem.what} at ${problem.path || 'the top'}${problem.hint ?? ''}`
}

/** A problem found by the walk; its path is built on the way back up (nothing is allocated while all is well). */
interface Problem {
  what: string
  path: string
  hint?: string
}

const OBJECT = Object.prototype
const ARRAY = Array.prototype
const TOO_DEEP = "nesting deeper than the codec's maxDepth"

function at(problem: Problem | undefined, step: string): Problem | undefined {
  if (problem !== undefined)
    problem.path = problem.path ? (problem.path.startsWith('[') || problem.path.startsWith('<') ? step + problem.path : `${step}.${problem.path}`) : step
  return problem
}

/**
 * What an object msgpack cannot carry is (`a Set`, `a Float64Array`, …), or undefined. Called
 * for objects that are not plain objects, arrays, `Uint8Array`s, `Date`s or `Map`s; the encoder
 * and {@link findUnencodable} share it.
 */
export function refusedClass(value: object): string | undefined {
  if (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    value instanceof Set ||
    value instanceof Error ||
    value instanceof RegExp ||
    value instanceof WeakMap ||
    value instanceof WeakSet ||
    value instanceof Promise
  ) {
    return `a ${value.constructor.name}`
  }
  return undefined
}

const LONE_SURROGATE = 'a string with a lone surrogate (not UTF-8)'

/** Whether a value needs a look: containers and the primitives that can be refused. */
function suspect(v: unknown): boolean {
  const type = typeof v
  return type === 'object' ? v !== null : type !== 'number' && type !== 'boolean' && type !== 'undefined'
}

function visit(value: unknown, depthLeft: number): Problem | undefined {
  const type = typeof value
  if (type === 'string') return (value as string).isWellFormed() ? undefined : { what: LONE_SURROGATE, path: '' }
  if (type === 'bigint') {
    const n = value as bigint
    return n >= -(2n ** 63n) && n < 2n ** 64n ? undefined : { what: 'a bigint outside 64 bits', path: '' }
  }
  if (type !== 'object') return type === 'function' || type === 'symbol' ? { what: `a ${type}`, path: '' } : undefined
  if (value === null) return undefined
  const proto = Object.getPrototypeOf(value)
  if (proto === OBJECT || proto === null) return visitProperties(value as Record<string, unknown>, depthLeft)
  if (proto === ARRAY) return visitItems(value as unknown[], depthLeft)
  if (value instanceof Uint8Array || value instanceof Date) return undefined
  if (Array.isArray(value)) return visitItems(value, depthLeft)
  if (value instanceof Map) {
    if (depthLeft === 0) return { what: TOO_DEEP, path: '' }
    for (const [k, v] of value) {
      const problem = at(visit(k, depthLeft - 1), '<key>') ?? at(visit(v, depthLeft - 1), '<value>')
      if (problem !== undefined) return problem
    }
    return undefined
  }
  const refused = refusedClass(value as object)
  if (refused !== undefined)
    return { what: refused, path: '', hint: ArrayBuffer.isView(value) || value instanceof ArrayBuffer ? ' (send a Uint8Array of its bytes)' : undefined }
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return undefined // msgpackr sends what toJSON returns
  return visitProperties(value as Record<string, unknown>, depthLeft)
}

function visitItems(items: unknown[], depthLeft: number): Problem | undefined {
  if (depthLeft === 0) return { what: TOO_DEEP, path: '' }
  for (let i = 0; i < items.length; i++) {
    const v = items[i]
    if (suspect(v)) {
      const problem = visit(v, depthLeft - 1)
      if (problem !== undefined) return at(problem, `[${i}]`)
    }
  }
  return undefined
}

function visitProperties(object: Record<string, unknown>, depthLeft: number): Problem | undefined {
  if (depthLeft === 0) return { what: TOO_DEEP, path: '' }
  for (const key in object) {
    if (!Object.hasOwn(object, key)) continue
    if (!key.isWellFormed()) return { what: `a key with a lone surrogate (not UTF-8)`, path: JSON.stringify(key) }
    const v = object[key]
    if (suspect(v)) {
      const problem = visit(v, depthLeft - 1)
      if (problem !== undefined) return at(problem, key)
    }
  }
  return undefined
}

/**
 * The `ERR_IPC_INVALID_ARGUMENT` for a message the encoder refused, naming the first value
 * {@link findUnencodable} finds (or, should it find none, what the encoder said).
 */
export function unencodableError(value: unknown, maxDepth: number, refusal: Error): IpcError {
  const problem = findUnencodable(value, maxDepth) ?? refusal.message
  return new IpcError(
    'ERR_IPC_INVALID_ARGUMENT',
    `msgpack cannot encode this message: it holds ${problem}, which msgpack cannot carry exactly; convert it, or use extensions (trusted peers only)`,
    { details: { problem }, cause: refusal },
  )
}
