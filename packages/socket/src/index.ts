/**
 * `@ipc/socket` — Unix domain sockets (`unix:/path`, `unix:@abstract`) and TCP (`tcp://host:port`)
 * behind the ipc `Transport`. Importing this package registers the `unix` and `tcp` schemes
 * with `@ipc/core`'s `connect()` / `listen()`.
 *
 * - Unix sockets report the peer's `{ pid, uid, gid }` (SO_PEERCRED) as `transport.peer`, and a
 *   listener rejects other uids before reading a byte (`allow`, default: this process's uid).
 * - Socket files are created owner-only (0600) whatever the umask; a stale file left by a crashed
 *   server is reclaimed, a live one gives `ERR_IPC_ADDRESS_IN_USE`.
 * - TCP listens on 127.0.0.1 unless the address names a host, with TCP_NODELAY.
 * - The listen backlog defaults to 511, as `net.Server` (`?backlog=N`). A Unix `connect()` that
 *   finds the backlog full (`EAGAIN`) retries with backoff (~1 ms doubling to ~64 ms, jittered)
 *   until the listener accepts, within its `timeout` (`ERR_IPC_TIMEOUT`) and `signal`
 *   (`ERR_IPC_ABORTED`); without a `timeout`, retrying gives up after 10 s. Nothing listening is
 *   `ERR_IPC_NO_LISTENER` at once. `NODE_DEBUG=ipc` logs retried connects and dropped connections.
 *
 * @packageDocumentation
 */
import { type Address, type ConnectOptions, type Listener, type Transport, connect as coreConnect, listen as coreListen } from '@ipc/core'
import { registerScheme } from '@ipc/core/mechanism'
import { TCP_OPTIONS, type TcpListenOptions, UNIX_OPTIONS, type UnixListenOptions } from './options.js'
import { connectTcp, listenTcp } from './tcp.js'
import { connectUnix, listenUnix } from './unix.js'

export type { TcpListenOptions, UnixListenOptions } from './options.js'

let samples = 0
registerScheme('unix', {
  connect: (a: Address, o: ConnectOptions) => connectUnix(a, o),
  listen: (a: Address, o: UnixListenOptions) => listenUnix(a, o),
  options: UNIX_OPTIONS,
  sampleAddresses: (dir: string) => [`unix:${dir}/swap.sock`, `unix:@ipc-sample-${process.pid}-${++samples}`],
})
registerScheme('tcp', {
  connect: (a: Address, o: ConnectOptions) => connectTcp(a, o),
  listen: (a: Address, o: TcpListenOptions) => listenTcp(a, o),
  options: TCP_OPTIONS,
  sampleAddresses: () => ['tcp://127.0.0.1:0'],
})

/**
 * Connects to a `unix:` or `tcp:` address (the same as `@ipc/core`'s `connect`). `options.timeout`
 * bounds the whole connect, retries of a full backlog included; `options.signal` cancels it.
 */
export function connect<Out = unknown, In = unknown>(address: string, options?: ConnectOptions<In>): Promise<Transport<Out, In>> {
  return coreConnect<Out, In>(address, options)
}

/** Listens at a `unix:` or `tcp:` address (the same as `@ipc/core`'s `listen`). */
export function listen<Out = unknown, In = unknown>(address: string, options?: UnixListenOptions<In> | TcpListenOptions<In>): Promise<Listener<Out, In>> {
  return coreListen<Out, In>(address, options)
}
export { leftovers } from './leftovers.js'
