import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import type { CloseReason } from '../link.js'
import type { Listener } from '../listener.js'
import { listen } from '../registry.js'
import type { Transport, TransportOptions } from '../transport.js'
import { peerCommand, spawnEchoListener } from './peers.js'

/** Our end of a connection to a peer process, and that process. */
export interface PeerConnection {
  /** This side's transport. */
  transport: Transport<any, any>
  /** The peer process (spawned with `stdio[1]` a pipe, so its report can be read). */
  child: ChildProcess
}

/** How the kit starts peers and probes one mechanism. */
export interface ConformanceTarget {
  /** Shown in test names, e.g. `'unix'`. */
  name: string
  /**
   * Starts a peer child process playing `role` (see {@link peerCommand}) with these transport
   * options on both ends, and returns our end once connected. Spawn `process.execPath` with the
   * arguments from {@link peerCommand}, `stdio[1]` a pipe.
   */
  startPeer(role: string, options: TransportOptions<any>): Promise<PeerConnection>
  /**
   * Connects a misbehaving peer that writes exactly `bytes` (no framing) and then ends its side
   * if `end` is true; returns our end. Omit for mechanisms that cannot carry raw bytes.
   */
  injectRaw?(bytes: Uint8Array, end: boolean, options: TransportOptions<any>): Promise<{ transport: Transport<any, any>; child?: ChildProcess }>
  /** For mechanisms with listeners: a fresh address per call and how to listen there. */
  listener?: {
    fresh(): string
    listen(address: string, options: TransportOptions<any>): Promise<Listener<any, any>>
    /** Starts a peer process that connects to `address` and plays `role`. */
    spawnClient(address: string, role: string, options: TransportOptions<any>): ChildProcess
    /** Connects to `address` as a misbehaving client that writes `bytes` raw (and ends if `end`). */
    injectRaw?(address: string, bytes: Uint8Array, end: boolean): Promise<void>
    /**
     * Starts a listener at `address` in a child process (echoing, printing READY) — for the crash
     * and reclaim case. Omit where an address cannot be listened at twice (e.g. `tcp://…:0`).
     */
    spawnListener?(address: string): { child: ChildProcess; ready: Promise<void> }
    /**
     * The burst case: how many simultaneous clients (default 500) and extra address options for
     * that listener (e.g. `?maxmsg=1` where a kernel limit counts queues by size).
     */
    burst?: { clients?: number; params?: string }
  }
  /** Absolute path of the mechanism's built entry, for peers in other processes and Workers. */
  entry?: string
  /** How `closed` reports a peer killed with SIGKILL: `'peer'` (connection-based) or `'peer-exited'`. */
  killedPeerReason: Exclude<CloseReason, 'local' | 'error'>
  /** Message sizes at this mechanism's internal boundaries (PIPE_BUF, max unit, …); ±1 is added. */
  boundaries?: number[]
  /** Kernel objects and files this mechanism left behind; checked to be empty after every case. */
  leftovers?(): Promise<string[]>
  /** `false` where `transport.peer` cannot know the peer's pid (TCP); checked either way. */
  reportsPeer?: boolean
}

/** What {@link addressTarget} needs to know about a mechanism with listeners. */
export interface AddressTargetOptions {
  name: string
  /** Absolute path of the mechanism's built entry (peers import it). */
  entry: string
  /** A fresh address per call. */
  fresh(): string
  killedPeerReason: ConformanceTarget['killedPeerReason']
  /**
   * Connects a misbehaving client to `address` that writes `bytes` raw after whatever handshake the
   * mechanism needs, then ends its side if `end`. Returns the client process if it made one.
   */
  rawClient?(address: string, bytes: Uint8Array, end: boolean): Promise<ChildProcess | void>
  /** See the `burst` member of {@link ConformanceTarget.listener}. */
  burst?: { clients?: number; params?: string }
  /** `false` where `fresh()` gives addresses that cannot be listened at again (e.g. `tcp://…:0`). */
  reusable?: boolean
  boundaries?: number[]
  leftovers?(): Promise<string[]>
  /** See {@link ConformanceTarget.reportsPeer}. */
  reportsPeer?: boolean
}

/**
 * A {@link ConformanceTarget} for any mechanism with `listen()`/`connect()` addresses: peers are
 * child processes that `connect()`; this side listens and accepts.
 */
export function addressTarget(o: AddressTargetOptions): ConformanceTarget {
  const spawnClient = (address: string, role: string, options: TransportOptions<any>): ChildProcess =>
    spawn(process.execPath, peerCommand(o.entry, { connect: address }, role, options), { stdio: ['ignore', 'pipe', 'inherit'] })
  const target: ConformanceTarget = {
    name: o.name,
    entry: o.entry,
    killedPeerReason: o.killedPeerReason,
    async startPeer(role, options) {
      const server = await listen(o.fresh(), options)
      try {
        const child = spawnClient(server.address, role, options)
        return { transport: await server.accept({ timeout: 20_000 }), child }
      } finally {
        await server.close()
      }
    },
    listener: { fresh: o.fresh, listen: (address, options) => listen(address, options), spawnClient },
  }
  if (o.reusable !== false) target.listener!.spawnListener = (address) => spawnEchoListener(o.entry, address)
  if (o.rawClient) {
    const raw = o.rawClient.bind(o)
    target.injectRaw = async (bytes, end, options) => {
      const server = await listen(o.fresh(), options)
      try {
        const child = await raw(server.address, bytes, end)
        const transport = await server.accept({ timeout: 20_000 })
        return child ? { transport, child } : { transport }
      } finally {
        await server.close()
      }
    }
    target.listener!.injectRaw = async (address, bytes, end) => void (await raw(address, bytes, end))
  }
  if (o.boundaries) target.boundaries = o.boundaries
  if (o.leftovers) target.leftovers = o.leftovers.bind(o)
  if (o.reportsPeer !== undefined) target.reportsPeer = o.reportsPeer
  if (o.burst) target.listener!.burst = o.burst
  return target
}
