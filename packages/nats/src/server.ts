/**
 * A private nats-server for tests, demos and the benchmark: a random loopback port (config
 * `port: -1` and a ports file), never the default one; it can be killed and restarted on the same
 * port, and it reads its own monitoring figures.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The nats-server binary, or a clear failure with the command that installs it. */
export function serverBinary(): string {
  const configured = process.env.IPC_NATS_SERVER
  if (configured) return configured
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/local/sbin', '/usr/bin'])) {
    const candidate = join(dir, 'nats-server')
    if (existsSync(candidate)) return candidate
  }
  throw new Error('nats-server not found on PATH: run `apt-get install -y nats-server` (as root), or set IPC_NATS_SERVER=/path/to/nats-server')
}

/** How {@link Broker.start} configures the server. */
export interface BrokerOptions {
  /** The server's max_payload in bytes. */
  maxPayload?: number
  /** Extra config lines. */
  config?: string
  /** `true`: the server does not keep this process alive (a demo's or benchmark's server; `stop()` it, or it is killed when this process exits). */
  detached?: boolean
}

/** A nats-server child process of this process. */
export class Broker {
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()
  port = 0
  monitorPort = 0
  /** The server's own subscriptions (system account), before any client. */
  baseline = 0

  private constructor(
    private readonly dir: string,
    private readonly options: BrokerOptions,
  ) {}

  /** Starts a server on a random port. */
  static async start(options: BrokerOptions = {}): Promise<Broker> {
    const broker = new Broker(mkdtempSync(join(tmpdir(), 'ipc-nats-')), options)
    await broker.launch(-1, -1)
    broker.baseline = await broker.subscriptions()
    return broker
  }

  /** `true` while the server process runs. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
  }

  /** `nats://127.0.0.1:<port>`. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`
  }

  private async launch(port: number, monitor: number): Promise<void> {
    const conf = join(this.dir, 'server.conf')
    writeFileSync(
      conf,
      [
        `port: ${port}`,
        'host: 127.0.0.1',
        `http: "127.0.0.1:${monitor}"`,
        `ports_file_dir: "${this.dir}"`,
        this.options.maxPayload ? `max_payload: ${this.options.maxPayload}` : '',
        this.options.config ?? '',
      ].join('\n'),
    )
    for (const f of readdirSync(this.dir)) if (f.endsWith('.ports')) rmSync(join(this.dir, f))
    const child = spawn(serverBinary(), ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
    if (this.options.detached) child.unref()
    let log = ''
    child.stderr!.on('data', (d) => (log += d))
    this.child = child
    if (this.options.detached) {
      const kill = (): void => void child.kill('SIGKILL')
      process.once('exit', kill)
      child.once('exit', () => process.off('exit', kill))
      ;(child.stderr as unknown as { unref?: () => void }).unref?.()
    }
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()))
    // the server writes its ports file once it listens
    const started = Date.now()
    for (;;) {
      const file = readdirSync(this.dir).find((f) => f.endsWith('.ports'))
      if (file) {
        const ports = JSON.parse(readFileSync(join(this.dir, file), 'utf8')) as { nats: string[]; monitoring?: string[] }
        this.port = Number(new URL(ports.nats[0]!).port)
        this.monitorPort = Number(new URL(ports.monitoring![0]!).port)
        return
      }
      if (child.exitCode !== null || Date.now() - started > 10_000) throw new Error(`nats-server did not start: ${log}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  }

  /** The server's monitoring figures. */
  async varz(): Promise<{ slow_consumers: number; connections: number; subscriptions: number }> {
    return (await fetch(`http://127.0.0.1:${this.monitorPort}/varz`)).json() as never
  }

  /** Subscriptions of clients on the server now (the server's own not counted). */
  async clientSubscriptions(): Promise<number> {
    return (await this.subscriptions()) - this.baseline
  }

  /** Subscriptions on the server now, its own included. */
  async subscriptions(): Promise<number> {
    const subsz = (await (await fetch(`http://127.0.0.1:${this.monitorPort}/subsz`)).json()) as { num_subscriptions: number }
    return subsz.num_subscriptions
  }

  /** Kills the server (SIGKILL). */
  async kill(): Promise<void> {
    this.child?.ref() // a detached server: this process waits for its exit now
    this.child?.kill('SIGKILL')
    await this.exited
  }

  /** Starts it again on the same ports. */
  async restart(): Promise<void> {
    await this.launch(this.port, this.monitorPort)
  }

  async stop(): Promise<void> {
    await this.kill()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Installs nats-server where it can (root with apt-get); otherwise leaves the failure to serverBinary(). */
export function ensureServer(): void {
  try {
    serverBinary()
    return
  } catch {}
  if (process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0) {
    const install = (): number | null => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'nats-server'], { stdio: 'inherit' }).status
    if (install() !== 0) {
      spawnSync('apt-get', ['update'], { stdio: 'inherit' })
      install()
    }
  }
}
