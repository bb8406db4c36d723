import type { Socket } from 'node:net'
import type { Link, LinkEnd, LinkEvents, PeerInfo } from './link.js'

/** What {@link streamLink} needs. */
export interface StreamLinkOptions {
  /** Where bytes come from (a connected socket, or a `net.Socket` over a pipe/FIFO read end). */
  readable: Socket
  /** Where bytes go; the same object as `readable` for a duplex socket. */
  writable: Socket
  /** The peer, where known. */
  peer?: PeerInfo
  /**
   * Decides what an end of the stream means. Called once, with the stream error if there was one
   * (`undefined` for a clean end of file). The default: EOF, EPIPE and ECONNRESET mean `'peer'`,
   * any other error `'error'`. A process-bound mechanism returns `'peer-exited'` when its peer died.
   */
  classifyEnd?: (error: Error | undefined) => LinkEnd | Promise<LinkEnd>
  /** Releases what the mechanism holds besides the streams (watchers, files). Called once. */
  release?: () => void
  /**
   * Called once at start with a function that ends the link from outside the streams (e.g. when a
   * process watch sees the peer exit but the stream's end never comes because another process
   * still holds the peer's descriptor). Data not yet read is dropped.
   */
  externalEnd?: (end: (info: LinkEnd) => void) => void
}

const PEER_GONE = new Set(['EPIPE', 'ECONNRESET', 'ECONNABORTED', 'ENOTCONN'])

/** The default end classification for byte streams. */
export function classifyStreamEnd(error: Error | undefined): LinkEnd {
  if (error === undefined || PEER_GONE.has((error as NodeJS.ErrnoException).code ?? '')) {
    return error === undefined ? { reason: 'peer' } : { reason: 'peer', error }
  }
  return { reason: 'error', error }
}

/**
 * A {@link Link} over Node byte streams (`net.Socket`, also wrapping a pipe or FIFO fd): libuv
 * does the non-blocking I/O on the event loop. Shared by every stream mechanism (sockets, pipes,
 * FIFOs), which differ only in how they open the streams and what an end means.
 */
export function streamLink(options: StreamLinkOptions): Link {
  return new StreamLink(options)
}

class StreamLink implements Link {
  readonly peer: PeerInfo | undefined
  private events: LinkEvents | undefined
  private ended = false
  private released = false
  private readonly readable: Socket
  private readonly writable: Socket

  constructor(private readonly options: StreamLinkOptions) {
    this.readable = options.readable
    this.writable = options.writable
    this.peer = options.peer
  }

  start(events: LinkEvents): void {
    this.events = events
    const { readable, writable } = this
    readable.on('data', (chunk: Buffer) => this.events?.data(chunk))
    readable.on('end', () => this.onEnd(undefined))
    readable.on('error', (err) => this.onEnd(err))
    writable.on('drain', () => this.events?.drain())
    if (writable !== readable) writable.on('error', (err) => this.onEnd(err))
    if (readable.isPaused()) readable.resume()
    this.options.externalEnd?.((info) => {
      if (this.ended || this.events === undefined) return
      this.ended = true
      const ev = this.events
      this.events = undefined
      ev.end(info)
    })
  }

  write(chunks: Uint8Array[]): boolean {
    const w = this.writable
    if (w.destroyed || w.writableEnded) return true
    if (chunks.length === 1) return w.write(chunks[0]!)
    w.cork()
    for (const chunk of chunks) w.write(chunk)
    w.uncork()
    return !w.writableNeedDrain
  }

  pause(): void {
    this.readable.pause()
  }

  resume(): void {
    this.readable.resume()
  }

  close(): Promise<void> {
    this.events = undefined
    return new Promise<void>((resolve) => {
      const w = this.writable
      if (w.destroyed || w.writableFinished) {
        this.destroy()
        resolve()
        return
      }
      w.end(() => {
        this.destroy()
        resolve()
      })
    })
  }

  destroy(): void {
    this.events = undefined
    this.readable.destroy()
    if (this.writable !== this.readable) this.writable.destroy()
    if (!this.released) {
      this.released = true
      this.options.release?.()
    }
  }

  private onEnd(error: Error | undefined): void {
    if (this.ended || this.events === undefined) return
    this.ended = true
    const classify = this.options.classifyEnd ?? classifyStreamEnd
    const report = (info: LinkEnd): void => {
      const events = this.events
      this.events = undefined
      events?.end(info)
    }
    const verdict = classify(error)
    if (verdict instanceof Promise) verdict.then(report, (err) => report({ reason: 'error', error: err }))
    else report(verdict)
  }
}
