/**
 * The bench's progress on a terminal: one status line kept at the bottom and redrawn — cells done
 * of all, time so far, a guess at the time left, the cell running now — with every finished line
 * of output printed above it. Elsewhere (a pipe, a file, CI) nothing is redrawn: the lines go out
 * as they are, and a plain progress line follows each transport.
 */
import type { WriteStream } from 'node:tty'

/** `m:ss` */
function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/** `true` when `stream` is a terminal that can redraw a line (not CI, not TERM=dumb). */
export function canRedraw(stream: NodeJS.WriteStream): boolean {
  return Boolean(stream.isTTY) && !process.env.CI && process.env.TERM !== 'dumb'
}

export class Progress {
  /** Whether the status line is drawn (a terminal). */
  readonly live: boolean
  private done = 0
  private running = ''
  private readonly started = Date.now()
  private readonly ticker: NodeJS.Timeout | undefined
  private drawn = false

  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.live = canRedraw(stream)
    if (this.live) {
      this.ticker = setInterval(() => this.draw(), 1000)
      this.ticker.unref()
    }
  }

  /** A finished line of output: above the status line on a terminal. */
  line(text: string): void {
    if (!this.live) {
      this.stream.write(`${text}\n`)
      return
    }
    this.stream.write(`\r\x1b[K${text}\n`)
    this.drawn = false
    this.draw()
  }

  /** `done` cells are finished; `running` names the one under way (empty when none is). */
  cells(done: number, running: string): void {
    this.done = done
    this.running = running
    this.draw()
  }

  /** The status line's text. */
  status(): string {
    const elapsed = (Date.now() - this.started) / 1000
    const left = this.done > 0 ? (elapsed / this.done) * (this.total - this.done) : undefined
    return (
      `▶ ${this.done}/${this.total} cells · ${clock(elapsed)}` +
      (left !== undefined && this.done < this.total ? ` · about ${clock(left)} left` : '') +
      (this.running ? ` · now ${this.running}` : '')
    )
  }

  private draw(): void {
    if (!this.live) return
    const width = (this.stream as WriteStream).columns || 100
    const text = this.status()
    this.stream.write(`\r\x1b[K${text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text}`)
    this.drawn = true
  }

  /** Removes the status line (the run is over). */
  stop(): void {
    if (this.ticker) clearInterval(this.ticker)
    if (this.live && this.drawn) this.stream.write('\r\x1b[K')
    this.drawn = false
  }
}
