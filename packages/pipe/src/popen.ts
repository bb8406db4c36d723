/**
 * `popen()`: a Transport over any program's stdin and stdout — `sort`, `grep`, a Python filter, a
 * long-running line-oriented tool — through two real pipes (pipe2()), with a framing for programs
 * that do not speak the SDK's: `'lines'` (one message per line; the `json` codec gives NDJSON) or
 * `'bytes'` (the messages are byte chunks as they come). Backpressure both ways; a line longer
 * than `maxMessageSize` is `ERR_IPC_MESSAGE_TOO_LARGE`; the exit status and the tail of stderr are
 * kept, and a non-zero exit closes the transport with a coded error.
 */
import { type ChildProcess, type SpawnOptions as NodeSpawnOptions, spawn as nodeSpawn } from 'node:child_process'
import { Socket } from 'node:net'
import { type CloseInfo, IpcError, type ReceiveOptions, type SendOptions, type Transport, type TransportStats, isIpcError } from '@ipc/core'
import { LineSplitter, Waiters, armWait, checkTimeout, debug, decodeLine, encodeLine, fromErrno, refusedWait } from '@ipc/core/mechanism'
import { childPipes, closeFds } from './link.js'

/** How `popen()` cuts the child's output into messages. */
export type PopenFraming = 'lines' | 'bytes'

/** Options of {@link popen}. */
export interface PopenOptions {
  /**
   * `'lines'` (default): a message is a line; `'bytes'`: a message is a chunk of bytes (`Uint8Array`) as it comes.
   * @defaultValue `'lines'`
   */
  framing?: PopenFraming
  /**
   * For `'lines'`: `'text'` (default; messages are strings) or `'json'` (each line one JSON value: NDJSON).
   * @defaultValue `'text'`
   */
  codec?: 'text' | 'json'
  /**
   * The longest line (or sent chunk) in bytes.
   * @defaultValue 1 MiB
   */
  maxMessageSize?: number
  /**
   * Bytes that may wait to be written before `send()` waits, and read before reading pauses.
   * @defaultValue 1 MiB
   */
  highWaterMark?: number
  /**
   * Bytes of the child's stderr kept (the tail).
   * @defaultValue 8 KiB
   */
  stderrTail?: number
  /**
   * Milliseconds `close()` waits for the child to exit after its stdin closed, before SIGTERM (and SIGKILL 1 s later).
   * @defaultValue `10_000`
   */
  closeTimeout?: number
  /** Passed to `child_process.spawn` (`cwd`, `env`, …); stdin and stdout are the transport's, stderr is read for the tail. */
  spawn?: Omit<NodeSpawnOptions, 'stdio'>
}

/** A Transport over a program's stdin and stdout (see {@link popen}). */
export interface PopenTransport<Out = string, In = string> extends Transport<Out, In> {
  /** The child process. */
  readonly child: ChildProcess
  /** The exit code once the child has exited (`null` while it runs or when a signal ended it). */
  readonly exitCode: number | null
  /** The last `stderrTail` bytes the child wrote to stderr, as text. */
  readonly stderr: string
  /** Closes the child's stdin after what is queued (it sees EOF) and keeps reading its output: `sort` prints only then. */
  end(): Promise<void>
}

const RESOLVED: Promise<void> = Promise.resolve()

interface PendingSend {
  bytes: Uint8Array
  resolve: () => void
  reject: (err: unknown) => void
  disarm: () => void
}

/**
 * Starts `command` with `args` and returns a transport over its stdin (what `send()` writes) and
 * stdout (what `receive()` reads).
 *
 * @example
 * ```ts
 * import { popen } from '@ipc/pipe'
 * const sort = popen('sort')
 * for (const w of ['pear', 'apple', 'fig']) await sort.send(w)
 * await sort.end()
 * for await (const line of sort) console.log(line) // apple, fig, pear
 * ```
 */
export function popen<Out = string, In = string>(command: string, args: readonly string[] = [], options: PopenOptions = {}): PopenTransport<Out, In> {
  return new Popen<Out, In>(command, args, options)
}

class Popen<Out, In> implements PopenTransport<Out, In> {
  readonly child: ChildProcess
  readonly closed: Promise<CloseInfo>
  private resolveClosed!: (info: CloseInfo) => void
  private readonly framing: PopenFraming
  private readonly json: boolean
  private readonly maxMessageSize: number
  private readonly hwm: number
  private readonly tailBytes: number
  private readonly closeTimeout: number
  private readonly stdin: Socket
  private readonly stdout: Socket
  private readonly splitter: LineSplitter
  // sending
  private readonly waiting: PendingSend[] = []
  private writeEnded = false
  private writeError: IpcError | undefined
  // receiving
  private readonly inbox: In[] = []
  private inboxBytes = 0
  private readonly sizes: number[] = []
  private readonly readers = new Waiters<In>()
  private readEnded = false
  private readFailure: IpcError | undefined
  // the child
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
  private spawnError: Error | undefined
  private tail: Buffer = Buffer.alloc(0)
  private info: CloseInfo | undefined
  private closing: Promise<void> | undefined
  private counts = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 }

  constructor(command: string, args: readonly string[], options: PopenOptions) {
    this.framing = options.framing ?? 'lines'
    if (this.framing !== 'lines' && this.framing !== 'bytes')
      throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `framing must be 'lines' or 'bytes', got ${String(this.framing)}`)
    const codec = options.codec ?? 'text'
    if (codec !== 'text' && codec !== 'json') throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `codec must be 'text' or 'json', got ${String(codec)}`)
    this.json = codec === 'json'
    this.maxMessageSize = positive('maxMessageSize', options.maxMessageSize, 1024 * 1024)
    this.hwm = positive('highWaterMark', options.highWaterMark, 1024 * 1024)
    this.tailBytes = positive('stderrTail', options.stderrTail, 8192)
    this.closeTimeout = options.closeTimeout ?? 10_000
    checkTimeout(this.closeTimeout)
    this.splitter = new LineSplitter(this.maxMessageSize)
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve))

    const { toChild, fromChild } = childPipes('popen')
    try {
      this.child = nodeSpawn(command, args, { ...options.spawn, stdio: [toChild[0], fromChild[1], 'pipe'] })
    } catch (err) {
      closeFds(...toChild, ...fromChild)
      throw fromErrno(err, `popen ${command}`)
    }
    closeFds(toChild[0], fromChild[1]) // the child has its copies; ours would hide its EOF
    this.stdin = new Socket({ fd: toChild[1], readable: false, writable: true })
    this.stdout = new Socket({ fd: fromChild[0], readable: true, writable: false })

    this.child.once('error', (err) => {
      this.spawnError = err
      this.exit ??= { code: null, signal: null }
      this.settle()
    })
    this.child.once('exit', (code, signal) => {
      this.exit = { code, signal }
      this.settle()
    })
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.tail = Buffer.concat([this.tail, chunk])
      if (this.tail.length > this.tailBytes) this.tail = this.tail.subarray(this.tail.length - this.tailBytes)
    })
    this.stdin.on('drain', () => this.pump())
    this.stdin.on('error', (err: NodeJS.ErrnoException) => {
      // EPIPE: the child closed its stdin (or exited); sends from now on fail
      this.writeError ??= new IpcError('ERR_IPC_CLOSED', `send: the program closed its input (${err.code ?? err.message})`, { cause: err })
      this.failWaiting(this.writeError)
    })
    this.stdout.on('data', (chunk: Buffer) => this.onData(chunk))
    this.stdout.once('end', () => this.onReadEnd())
    this.stdout.on('error', (err) => {
      debug('popen %s: reading its output failed: %s', command, err.message)
      this.onReadEnd()
    })
  }

  get isOpen(): boolean {
    return this.info === undefined && this.closing === undefined
  }

  get peer(): { pid: number } | undefined {
    return this.child.pid === undefined ? undefined : { pid: this.child.pid }
  }

  get exitCode(): number | null {
    return this.exit?.code ?? null
  }

  get stderr(): string {
    return this.tail.toString('utf8')
  }

  get stats(): TransportStats {
    let queuedBytes = this.stdin.writableLength
    for (const w of this.waiting) queuedBytes += w.bytes.length
    return { ...this.counts, queuedMessages: this.waiting.length, queuedBytes, bufferedMessages: this.inbox.length }
  }

  // ---- sending ----

  private encode(message: Out): Uint8Array {
    let bytes: Uint8Array
    if (this.framing === 'bytes') {
      if (!(message instanceof Uint8Array)) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', "with framing 'bytes' a message is a Uint8Array")
      bytes = Buffer.from(message) // a copy: the caller may reuse its buffer
    } else {
      let text: unknown = message
      if (this.json) {
        try {
          text = JSON.stringify(message)
        } catch (err) {
          throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `json cannot encode this message: ${(err as Error).message}`, { cause: err })
        }
        if (text === undefined) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', 'json cannot encode this message (undefined)')
      }
      bytes = encodeLine(text)
    }
    if (bytes.length > this.maxMessageSize + 1) {
      throw new IpcError('ERR_IPC_MESSAGE_TOO_LARGE', `message of ${bytes.length} bytes exceeds maxMessageSize (${this.maxMessageSize})`, {
        details: { size: bytes.length, maxMessageSize: this.maxMessageSize },
      })
    }
    return bytes
  }

  private sendError(): IpcError | undefined {
    if (this.writeError) return this.writeError
    if (this.writeEnded || !this.isOpen) return new IpcError('ERR_IPC_CLOSED', 'send: the program’s input is closed')
    return undefined
  }

  send(message: Out, options?: SendOptions): Promise<void> {
    const closed = this.sendError()
    if (closed) return Promise.reject(closed)
    let bytes: Uint8Array
    try {
      if (options?.priority !== undefined && options.priority !== 0)
        throw new IpcError('ERR_IPC_INVALID_ARGUMENT', 'this transport has no priorities (priority must be 0)')
      bytes = this.encode(message)
    } catch (err) {
      return Promise.reject(err)
    }
    if (this.waiting.length === 0 && this.stdin.writableLength < this.hwm) {
      this.write(bytes)
      return RESOLVED
    }
    const refused = refusedWait(options, 'send')
    if (refused) return Promise.reject(refused)
    return new Promise<void>((resolve, reject) => {
      const pending: PendingSend = { bytes, resolve, reject, disarm: () => {} }
      pending.disarm = armWait(options, 'send', (err) => {
        const at = this.waiting.indexOf(pending)
        if (at >= 0) this.waiting.splice(at, 1)
        reject(err)
      })
      this.waiting.push(pending)
    })
  }

  trySend(message: Out, options?: Pick<SendOptions, 'priority'>): boolean {
    if (this.sendError()) return false
    if (options?.priority !== undefined && options.priority !== 0)
      throw new IpcError('ERR_IPC_INVALID_ARGUMENT', 'this transport has no priorities (priority must be 0)')
    const bytes = this.encode(message)
    if (this.waiting.length > 0 || this.stdin.writableLength >= this.hwm) return false
    this.write(bytes)
    return true
  }

  private write(bytes: Uint8Array): void {
    this.counts.messagesOut++
    this.counts.bytesOut += bytes.length
    this.stdin.write(bytes)
  }

  private pump(): void {
    while (this.waiting.length > 0 && this.stdin.writableLength < this.hwm) {
      const w = this.waiting.shift()!
      w.disarm()
      this.write(w.bytes)
      w.resolve()
    }
    if (this.waiting.length === 0) this.drainWaiter?.()
  }

  private drainWaiter: (() => void) | undefined

  /** Resolves once everything queued has been handed to the kernel. */
  private flushed(): Promise<void> {
    if (this.waiting.length === 0 && this.stdin.writableLength === 0) return RESOLVED
    return new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.waiting.length === 0 && this.stdin.writableLength === 0) {
          this.stdin.off('drain', check)
          this.drainWaiter = undefined
          resolve()
        }
      }
      this.drainWaiter = check
      this.stdin.on('drain', check)
      this.stdin.once('close', () => resolve())
    })
  }

  private failWaiting(err: IpcError): void {
    for (const w of this.waiting.splice(0)) {
      w.disarm()
      w.reject(err)
    }
  }

  async end(): Promise<void> {
    if (this.writeEnded) return
    await this.flushed()
    this.writeEnded = true
    await new Promise<void>((resolve) => this.stdin.end(resolve))
  }

  // ---- receiving ----

  private onData(chunk: Buffer): void {
    if (this.readFailure) return
    this.counts.bytesIn += chunk.length
    try {
      if (this.framing === 'bytes') this.deliver(new Uint8Array(chunk) as unknown as In, chunk.length)
      else for (const line of this.splitter.push(chunk)) this.deliverLine(line)
    } catch (err) {
      this.readFailure = isIpcError(err) ? err : new IpcError('ERR_IPC_DECODE', (err as Error).message, { cause: err })
      this.stdout.destroy()
      this.onReadEnd()
      return
    }
    if (this.inboxBytes > this.hwm && !this.stdout.isPaused()) this.stdout.pause()
  }

  private deliverLine(line: Uint8Array): void {
    const text = decodeLine(line)
    let value: unknown = text
    if (this.json) {
      try {
        value = JSON.parse(text)
      } catch (err) {
        throw new IpcError('ERR_IPC_DECODE', `a line is not JSON: ${(err as Error).message}`, { cause: err })
      }
    }
    this.deliver(value as In, line.length + 1)
  }

  private deliver(message: In, size: number): void {
    this.counts.messagesIn++
    if (this.readers.resolveNext(message)) return
    this.inbox.push(message)
    this.sizes.push(size)
    this.inboxBytes += size
  }

  private take(): In {
    const m = this.inbox.shift()!
    this.inboxBytes -= this.sizes.shift()!
    if (this.inboxBytes <= this.hwm && this.stdout.isPaused() && !this.readEnded) this.stdout.resume()
    return m
  }

  private onReadEnd(): void {
    if (this.readEnded) return
    if (this.framing === 'lines' && this.readFailure === undefined) {
      try {
        const last = this.splitter.end() // a last line without its newline
        if (last !== undefined) this.deliverLine(last)
      } catch (err) {
        this.readFailure = isIpcError(err) ? err : new IpcError('ERR_IPC_DECODE', (err as Error).message)
      }
    }
    this.readEnded = true
    this.settle()
  }

  receive(options?: ReceiveOptions): Promise<In> {
    if (this.inbox.length > 0) return Promise.resolve(this.take())
    if (this.info !== undefined) return Promise.reject(this.receiveError())
    try {
      return this.readers.wait(options, 'receive')
    } catch (err) {
      return Promise.reject(err)
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<In> {
    return {
      next: () =>
        this.receive().then(
          (value) => ({ value, done: false }),
          (err) => {
            if (this.info !== undefined && this.info.reason !== 'error' && this.inbox.length === 0) return { value: undefined, done: true }
            throw err
          },
        ),
      return: () => Promise.resolve({ value: undefined, done: true }),
    }
  }

  private receiveError(): IpcError {
    const info = this.info!
    if (info.error) return info.error
    return new IpcError('ERR_IPC_CLOSED', info.reason === 'local' ? 'receive: the transport is closed' : 'receive: the program ended its output')
  }

  // ---- the end ----

  /** Ends the transport once the output has ended and the child has exited (or a read failed). */
  private settle(): void {
    if (this.info !== undefined) return
    if (!(this.readEnded && this.exit !== undefined) && this.readFailure === undefined && this.spawnError === undefined) return
    let info: CloseInfo
    if (this.spawnError !== undefined) {
      info = {
        reason: 'error',
        error: new IpcError(
          'ERR_IPC_SYSTEM',
          `popen: cannot start the program: ${(this.spawnError as NodeJS.ErrnoException).code ?? this.spawnError.message}`,
          { cause: this.spawnError },
        ),
      }
    } else if (this.readFailure !== undefined) {
      info = { reason: 'error', error: this.readFailure }
      this.child.kill('SIGTERM')
    } else if (this.exit!.code === 0) {
      info = { reason: this.closing ? 'local' : 'peer' }
    } else {
      const { code, signal } = this.exit!
      const stderr = this.stderr
      const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`
      info = {
        reason: this.closing && signal === 'SIGTERM' ? 'local' : 'error',
        error: new IpcError('ERR_IPC_PEER_EXITED', `the program ${how}${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`, {
          details: { exitCode: code, signal, stderr },
        }),
      }
    }
    this.info = info
    const err = info.error ?? new IpcError('ERR_IPC_CLOSED', 'receive: the program ended its output')
    this.readers.settleAll(err, false) // anyone waiting found the inbox empty
    this.failWaiting(new IpcError('ERR_IPC_CLOSED', 'send: the program has ended', { cause: info.error }))
    this.stdin.destroy()
    this.resolveClosed(info)
  }

  close(): Promise<void> {
    if (this.info !== undefined) return RESOLVED
    this.closing ??= (async () => {
      await Promise.race([this.end().catch(() => {}), new Promise((r) => setTimeout(r, this.closeTimeout).unref())])
      const exited = this.closed.then(() => 'exited' as const)
      let outcome = await Promise.race([exited, new Promise<'late'>((r) => setTimeout(r, this.closeTimeout, 'late').unref())])
      if (outcome === 'late') {
        this.child.kill('SIGTERM')
        outcome = await Promise.race([exited, new Promise<'late'>((r) => setTimeout(r, 1000, 'late').unref())])
        if (outcome === 'late') this.child.kill('SIGKILL')
      }
      this.stdout.destroy()
      await this.closed
    })()
    return this.closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) throw new IpcError('ERR_IPC_INVALID_ARGUMENT', `${name} must be a positive integer, got ${String(value)}`)
  return value
}
