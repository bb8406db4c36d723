/**
 * Topics: dot-separated tokens, the NATS subject convention. A published topic is concrete
 * (`orders.eu.created`); a subscription may use `*` for exactly one token and `>` as its last
 * token for one or more remaining tokens (`orders.*.created`, `orders.>`).
 */
import { IpcError } from '@ipc/core'

/** The longest topic or pattern accepted, in UTF-16 code units. */
export const MAX_TOPIC_LENGTH = 1024

/** Checks a topic given to `publish()`; throws `ERR_IPC_INVALID_ARGUMENT`. */
export function checkTopic(topic: unknown): asserts topic is string {
  const problem = topicProblem(topic, false)
  if (problem !== undefined) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `invalid topic ${describe(topic)}: ${problem}`)
}

/** Checks a subscription pattern; throws `ERR_IPC_INVALID_ARGUMENT`. */
export function checkPattern(pattern: unknown): asserts pattern is string {
  const problem = topicProblem(pattern, true)
  if (problem !== undefined) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `invalid topic pattern ${describe(pattern)}: ${problem}`)
}

/** What is wrong with `value` as a topic (or, with `wildcards`, a pattern); `undefined` when nothing. */
export function topicProblem(value: unknown, wildcards: boolean): string | undefined {
  if (typeof value !== 'string') return 'not a string'
  if (value.length === 0) return 'empty'
  if (value.length > MAX_TOPIC_LENGTH) return `longer than ${MAX_TOPIC_LENGTH} characters`
  const tokens = value.split('.')
  for (let k = 0; k < tokens.length; k++) {
    const token = tokens[k]!
    if (token.length === 0) return 'an empty token (two dots, or a dot at an end)'
    if (/[\s]/.test(token)) return 'white space'
    if (token === '*' || token === '>') {
      if (!wildcards) return `a wildcard (${token}) in a published topic`
      if (token === '>' && k !== tokens.length - 1) return '">" is not the last token'
    } else if (token.includes('*') || token.includes('>')) {
      return `"${token}": a wildcard must be a whole token`
    }
  }
  return undefined
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : `(${typeof value})`
}

interface TrieNode<V> {
  children: Map<string, TrieNode<V>>
  star: TrieNode<V> | undefined
  /** Values subscribed with `>` right below this node. */
  tail: Set<V>
  /** Values whose pattern ends at this node. */
  here: Set<V>
}

function node<V>(): TrieNode<V> {
  return { children: new Map(), star: undefined, tail: new Set(), here: new Set() }
}

/**
 * Which values (subscribers) match a topic: a token trie of their patterns, with a bounded cache
 * of topic → matches (cleared on every change), so a publisher repeating the same topics pays one
 * `Map` lookup per publish.
 */
export class TopicIndex<V> {
  private readonly root: TrieNode<V> = node()
  private readonly members = new Map<string, Set<V>>()
  private cache = new Map<string, V[]>()
  private static readonly CACHE_LIMIT = 4096

  /** Adds `value` under `pattern` (already checked). Adding the same pair twice is one subscription. */
  add(pattern: string, value: V): void {
    let members = this.members.get(pattern)
    if (members === undefined) this.members.set(pattern, (members = new Set()))
    if (members.has(value)) return
    members.add(value)
    const tokens = pattern.split('.')
    let at = this.root
    for (let k = 0; k < tokens.length; k++) {
      const token = tokens[k]!
      if (token === '>') {
        at.tail.add(value)
        this.cache.clear()
        return
      }
      if (token === '*') at = at.star ??= node()
      else {
        let next = at.children.get(token)
        if (next === undefined) at.children.set(token, (next = node()))
        at = next
      }
    }
    at.here.add(value)
    this.cache.clear()
  }

  /** Removes `value` from `pattern`; `false` when it was not there. */
  remove(pattern: string, value: V): boolean {
    const members = this.members.get(pattern)
    if (members === undefined || !members.delete(value)) return false
    if (members.size === 0) this.members.delete(pattern)
    const tokens = pattern.split('.')
    const path: [TrieNode<V>, string][] = []
    let at: TrieNode<V> | undefined = this.root
    for (let k = 0; k < tokens.length && at !== undefined; k++) {
      const token = tokens[k]!
      if (token === '>') {
        at.tail.delete(value)
        break
      }
      path.push([at, token])
      at = token === '*' ? at.star : at.children.get(token)
      if (k === tokens.length - 1 && at !== undefined) at.here.delete(value)
    }
    // prune empty nodes from the bottom up
    for (let k = path.length - 1; k >= 0; k--) {
      const [parent, token] = path[k]!
      const child = token === '*' ? parent.star : parent.children.get(token)
      if (child === undefined || !isEmpty(child)) break
      if (token === '*') parent.star = undefined
      else parent.children.delete(token)
    }
    this.cache.clear()
    return true
  }

  /** Removes `value` from every pattern it is under. */
  removeAll(value: V, patterns: Iterable<string>): void {
    for (const pattern of patterns) this.remove(pattern, value)
  }

  /** Every value with a pattern matching the concrete `topic`, each once, in a stable order. */
  match(topic: string): readonly V[] {
    const cached = this.cache.get(topic)
    if (cached !== undefined) return cached
    const found = new Set<V>()
    collect(this.root, topic.split('.'), 0, found)
    const list = [...found]
    if (this.cache.size >= TopicIndex.CACHE_LIMIT) this.cache = new Map()
    this.cache.set(topic, list)
    return list
  }
}

function isEmpty<V>(n: TrieNode<V>): boolean {
  return n.children.size === 0 && n.star === undefined && n.tail.size === 0 && n.here.size === 0
}

function collect<V>(at: TrieNode<V>, tokens: string[], k: number, found: Set<V>): void {
  if (k === tokens.length) {
    for (const v of at.here) found.add(v)
    return
  }
  for (const v of at.tail) found.add(v) // `>` takes one or more remaining tokens
  const next = at.children.get(tokens[k]!)
  if (next !== undefined) collect(next, tokens, k + 1, found)
  if (at.star !== undefined) collect(at.star, tokens, k + 1, found)
}
