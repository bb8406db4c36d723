// latest.svg: well-formed XML, every transport and payload drawn, text escaped.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { Row } from '../src/common.js'
import { benchSvg } from '../src/svg.js'

/** A strict check of the XML this renderer writes: balanced tags, quoted attributes, known entities only. */
function wellFormed(xml: string): string[] {
  const problems: string[] = []
  const stack: string[] = []
  const text = xml.replace(/^<\?xml[^?]*\?>\s*/, '')
  const token = /<\/?([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<&]*(?:&(?:amp|lt|gt|quot|apos);[^"<&]*)*")*)\s*(\/?)>|([^<]+)|(<)/g
  for (let m = token.exec(text); m !== null; m = token.exec(text)) {
    if (m[5] !== undefined) {
      problems.push(`a stray "<" at ${m.index}`)
      break
    }
    if (m[4] !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(m[4])) problems.push(`an unescaped "&" in text at ${m.index}`)
      continue
    }
    const closing = m[0].startsWith('</')
    if (closing) {
      if (stack.pop() !== m[1]) problems.push(`</${m[1]}> closes nothing open at ${m.index}`)
    } else if (m[3] !== '/') stack.push(m[1]!)
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(', ')}`)
  return problems
}

describe('latest.svg', () => {
  it('renders the committed results as well-formed SVG with a bar per transport and payload', () => {
    const rows = JSON.parse(readFileSync(new URL('../results/latest.json', import.meta.url), 'utf8')) as Row[]
    const svg = benchSvg(rows, undefined, 'a <test> & "title"')
    expect(wellFormed(svg)).toEqual([])
    expect(svg).toContain('<title>a &lt;test&gt; &amp; &quot;title&quot;</title>')
    for (const r of rows) expect(svg).toMatch(new RegExp(`>${r.name.replace(/[+]/g, '\\+')}( \\(peer\\))?</text>`))
    const bars = svg.match(/<rect class="bar" /g) ?? []
    const measured = rows.filter((r) => r.msgsPerSec !== null).length + rows.filter((r) => r.rttP50Us !== null).length
    expect(bars.length).toBe(measured)
  })

  it('the checker itself refuses what is not well-formed', () => {
    expect(wellFormed('<svg><g></svg>')).not.toEqual([])
    expect(wellFormed('<svg>a & b</svg>')).not.toEqual([])
    expect(wellFormed('<svg x=1></svg>')).not.toEqual([])
  })
})
