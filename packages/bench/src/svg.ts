/**
 * `latest.svg`: the bench as a picture — for each transport and payload, messages per second
 * (log scale) and the round-trip p50 (log scale), ours beside the peers, with the C floor of each
 * of our mechanisms as a tick on its bar. Plain SVG 1.1, no script, every text escaped.
 */
import { type Name, PAYLOADS, type Row, isOurs } from './common.js'
import { type Floor, MECHANISM } from './floor.js'

const COLORS: Record<number, string> = { 64: '#1f77b4', 1024: '#ff7f0e', 65536: '#2ca02c' }
const ROW_H = 12
const GAP = 8
const LEFT = 120
const PANEL_W = 360
const TOP = 60

/** Escapes text for XML content and attribute values. */
export function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')
}

function payloadLabel(bytes: number): string {
  return bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`
}

/** A log-scale axis from `min` to `max` mapped onto `[0, width]`. */
function logScale(min: number, max: number, width: number): (v: number) => number {
  const lo = Math.log10(min)
  const hi = Math.log10(max)
  return (v) => (Math.max(0, Math.log10(Math.max(v, min)) - lo) / (hi - lo)) * width
}

function decades(min: number, max: number): number[] {
  const out: number[] = []
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) out.push(10 ** e)
  return out
}

function compact(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(v >= 1e7 ? 0 : 1)} M`
  if (v >= 1e3) return `${(v / 1e3).toFixed(v >= 1e4 ? 0 : 1)} k`
  return v.toFixed(v >= 10 ? 0 : 1)
}

/** Renders the rows (and the floor, when there is one) as an SVG document. */
export function benchSvg(rows: Row[], floor: Floor | undefined, title: string): string {
  const names: Name[] = []
  for (const r of rows) if (!names.includes(r.name)) names.push(r.name)
  const rates = rows.map((r) => r.msgsPerSec).filter((v): v is number => v !== null && v > 0)
  const rtts = rows.map((r) => r.rttP50Us).filter((v): v is number => v !== null && v > 0)
  const rateMin = 10 ** Math.floor(Math.log10(Math.min(...rates, 1000)))
  const rateMax = 10 ** Math.ceil(Math.log10(Math.max(...rates, 10)))
  const rttMin = 10 ** Math.floor(Math.log10(Math.min(...rtts, 10)))
  const rttMax = 10 ** Math.ceil(Math.log10(Math.max(...rtts, 100)))
  const xRate = logScale(rateMin, rateMax, PANEL_W)
  const xRtt = logScale(rttMin, rttMax, PANEL_W)
  const group = PAYLOADS.length * ROW_H + GAP
  const height = TOP + names.length * group + 50
  const width = LEFT + 2 * PANEL_W + 80
  const rttLeft = LEFT + PANEL_W + 60
  const out: string[] = []
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`)
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="10">`,
  )
  out.push(`<title>${xmlEscape(title)}</title>`)
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`)
  out.push(`<text x="${LEFT}" y="16" font-size="13" font-weight="bold">${xmlEscape(title)}</text>`)
  out.push(`<text x="${LEFT}" y="${TOP - 14}" font-weight="bold">messages/s (log scale; higher is better; | = C floor)</text>`)
  out.push(`<text x="${rttLeft}" y="${TOP - 14}" font-weight="bold">round trip p50, µs (log scale; lower is better)</text>`)
  // legend
  PAYLOADS.forEach((p, k) => {
    const x = LEFT + 300 + k * 80
    out.push(`<rect x="${x}" y="26" width="10" height="10" fill="${COLORS[p]}"/><text x="${x + 14}" y="35">${xmlEscape(payloadLabel(p))}</text>`)
  })
  // grid lines
  const bottom = TOP + names.length * group
  for (const d of decades(rateMin, rateMax)) {
    const x = LEFT + xRate(d)
    out.push(`<line x1="${x.toFixed(1)}" y1="${TOP - 6}" x2="${x.toFixed(1)}" y2="${bottom}" stroke="#dddddd"/>`)
    out.push(`<text x="${x.toFixed(1)}" y="${bottom + 14}" text-anchor="middle">${xmlEscape(compact(d))}</text>`)
  }
  for (const d of decades(rttMin, rttMax)) {
    const x = rttLeft + xRtt(d)
    out.push(`<line x1="${x.toFixed(1)}" y1="${TOP - 6}" x2="${x.toFixed(1)}" y2="${bottom}" stroke="#dddddd"/>`)
    out.push(`<text x="${x.toFixed(1)}" y="${bottom + 14}" text-anchor="middle">${xmlEscape(compact(d))}</text>`)
  }
  names.forEach((name, n) => {
    const y0 = TOP + n * group
    const ours = isOurs(name)
    out.push(
      `<text x="${LEFT - 6}" y="${y0 + (PAYLOADS.length * ROW_H) / 2 + 4}" text-anchor="end"${ours ? ' font-weight="bold"' : ''}>${xmlEscape(ours ? name : `${name} (peer)`)}</text>`,
    )
    const f = ours ? floor?.rows.get(MECHANISM[name]) : undefined
    PAYLOADS.forEach((p, k) => {
      const r = rows.find((x) => x.name === name && x.payloadBytes === p)
      const y = y0 + k * ROW_H
      if (r?.msgsPerSec) {
        const w = xRate(r.msgsPerSec)
        out.push(
          `<rect class="bar" x="${LEFT}" y="${y}" width="${w.toFixed(1)}" height="${ROW_H - 2}" fill="${COLORS[p]}"${ours ? '' : ' fill-opacity="0.5"'}><title>${xmlEscape(`${name} ${payloadLabel(p)}: ${Math.round(r.msgsPerSec).toLocaleString('en-US')} msgs/s`)}</title></rect>`,
        )
        out.push(`<text x="${(LEFT + w + 3).toFixed(1)}" y="${y + ROW_H - 3}" font-size="8">${xmlEscape(compact(r.msgsPerSec))}</text>`)
      }
      const fl = f?.msgsPerSec[p]
      if (fl) {
        const x = LEFT + xRate(fl)
        out.push(
          `<line x1="${x.toFixed(1)}" y1="${y - 1}" x2="${x.toFixed(1)}" y2="${y + ROW_H - 1}" stroke="#000000" stroke-width="2"><title>${xmlEscape(`C floor (${MECHANISM[name as keyof typeof MECHANISM]}): ${Math.round(fl).toLocaleString('en-US')} msgs/s`)}</title></line>`,
        )
      }
      if (r?.rttP50Us) {
        const w = xRtt(r.rttP50Us)
        out.push(
          `<rect class="bar" x="${rttLeft}" y="${y}" width="${w.toFixed(1)}" height="${ROW_H - 2}" fill="${COLORS[p]}"${ours ? '' : ' fill-opacity="0.5"'}><title>${xmlEscape(`${name} ${payloadLabel(p)}: ${r.rttP50Us.toFixed(1)} µs`)}</title></rect>`,
        )
        out.push(`<text x="${(rttLeft + w + 3).toFixed(1)}" y="${y + ROW_H - 3}" font-size="8">${xmlEscape(r.rttP50Us.toFixed(0))}</text>`)
      }
    })
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
