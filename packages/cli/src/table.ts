/** Plain-text tables for the terminal: columns padded to their widest cell. */

/** Formats `rows` under `header`, two spaces between columns; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

/** An age in the largest unit that fits: `42s`, `7m`, `3h`, `2d`. */
export function age(since: number | undefined, now = Date.now()): string {
  if (since === undefined) return '-'
  const s = Math.max(0, Math.round((now - since) / 1000))
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.round(s / 60)}m`
  if (s < 172800) return `${Math.round(s / 3600)}h`
  return `${Math.round(s / 86400)}d`
}

/** Bytes as `512 B`, `12 KiB`, `3.4 MiB`. */
export function bytes(n: number | undefined): string {
  if (n === undefined) return '-'
  if (n < 1024) return `${n} B`
  if (n < 1 << 20) return `${Math.round(n / 1024)} KiB`
  return `${(n / (1 << 20)).toFixed(1)} MiB`
}
