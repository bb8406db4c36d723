import { describe, expect, it } from 'vitest'
import { TopicIndex, topicProblem } from '../src/topics.js'

describe('topics', () => {
  it('checks topics and patterns', () => {
    for (const ok of ['a', 'orders.eu.created', 'x-1.y_2']) expect(topicProblem(ok, false)).toBeUndefined()
    for (const ok of ['*', '>', 'a.*.c', 'a.>', '*.>']) expect(topicProblem(ok, true)).toBeUndefined()
    for (const bad of ['', 'a..b', '.a', 'a.', 'a b', 'a.*', 'a.>']) expect(topicProblem(bad, false)).toBeDefined()
    for (const bad of ['a.>.b', 'a*', 'b.c>', '>.a', 7, 'x'.repeat(1025)]) expect(topicProblem(bad, true)).toBeDefined()
  })

  it('matches * as one token and a final > as one or more', () => {
    const index = new TopicIndex<string>()
    index.add('orders.*.created', 'star')
    index.add('orders.>', 'tail')
    index.add('orders.eu.created', 'exact')
    index.add('>', 'all')
    const m = (t: string): string[] => [...index.match(t)].sort()
    expect(m('orders.eu.created')).toEqual(['all', 'exact', 'star', 'tail'])
    expect(m('orders.us.created')).toEqual(['all', 'star', 'tail'])
    expect(m('orders')).toEqual(['all']) // `>` needs at least one token after "orders"
    expect(m('orders.eu.created.late')).toEqual(['all', 'tail'])
    expect(m('billing.eu.created')).toEqual(['all'])
    index.remove('>', 'all')
    index.remove('orders.>', 'tail')
    expect(m('orders.eu.created')).toEqual(['exact', 'star']) // the cache was cleared by the changes
    expect(index.remove('orders.>', 'tail')).toBe(false)
    index.remove('orders.*.created', 'star')
    index.remove('orders.eu.created', 'exact')
    expect(m('orders.eu.created')).toEqual([])
    expect((index as unknown as { root: { children: Map<string, unknown> } }).root.children.size).toBe(0) // pruned
  })

  it('a value under two matching patterns is delivered once', () => {
    const index = new TopicIndex<string>()
    index.add('a.*', 'v')
    index.add('a.>', 'v')
    index.add('a.b', 'v')
    expect(index.match('a.b')).toEqual(['v'])
  })
})
