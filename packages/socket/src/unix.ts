import { promises as fs } from 'node:fs'
import { type Server, type Socket, connect as netConnect, createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { type Address, type ConnectOptions, IpcError, type Listener, type Transport } from '@ipc/core'
import { type ListenerControl, createListener, fromErrno, noteRendezvous, resolveTransportOptions } from '@ipc/core/mechanism'
import { connectSocket } from './connect.js'
import { offerConnection, peerOf, socketTransport, watchServer } from './connection.js'
import { debug, reportDropped } from './debug.js'
import { type UnixListenOptions, parseAllow, parseBacklog, parseMode } from './options.js'

/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_PATH_BYTES = 107

interface UnixTarget {
  /** The path for net (abstract names start with a NUL byte). */
  netPath: string
  /** The filesystem path, for path sockets. */
  file?: string
}

function unixTarget(address: Address): UnixTarget {
  const t = decodeURIComponent(address.target)
  if (t.startsWith('@')) {
    const name = t.slice(1)
    if (name.length === 0 || Buffer.byteLength(name) > MAX_PATH_BYTES - 1) {
      throw new IpcError('ERR_IPC_INVALID_ADDRESS', `abstract socket name must be 1–${MAX_PATH_BYTES - 1} bytes: "${address.text}"`)
    }
    return { netPath: `\0${name}` }
  }
  if (t.length === 0 || t.startsWith('//')) throw new IpcError('ERR_IPC_INVALID_ADDRESS', `unix: needs a path or @name: "${address.text}"`)
  const file = resolve(t)
  if (Buffer.byteLength(file) > MAX_PATH_BYTES) {
    throw new IpcError('ERR_IPC_INVALID_ADDRESS', `socket path is longer than ${MAX_PATH_BYTES} bytes: ${file}`)
  }
  return { netPath: file, file }
}

/** `unix:` connect. */
export function connectUnix<Out, In>(address: Address, options: ConnectOptions<In>): Promise<Transport<Out, In>> {
  const { netPath } = unixTarget(address)
  return connectSocket<Out, In>({ path: netPath }, address.text, options)
}

function listenOn(server: Server, path: string, backlog: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const onError = (err: Error): void => reject(err)
    server.once('error', onError)
    server.listen({ path, backlog }, () => {
      server.off('error', onError)
      resolvePromise()
    })
  })
}

/**
 * Probes a socket file: `'live'` when something listens (it accepts, or its backlog is full:
 * EAGAIN), `'stale'` on ECONNREFUSED, `'gone'` on ENOENT.
 */
export function probe(path: string): Promise<'live' | 'stale' | 'gone'> {
  return new Promise((resolvePromise, reject) => {
    const s: Socket = netConnect({ path })
    s.once('connect', () => {
      s.destroy()
      resolvePromise('live')
    })
    s.once('error', (err: NodeJS.ErrnoException) => {
      s.destroy()
      if (err.code === 'EAGAIN') resolvePromise('live')
      else if (err.code === 'ECONNREFUSED') resolvePromise('stale')
      else if (err.code === 'ENOENT') resolvePromise('gone')
      else reject(err)
    })
  })
}

/**
 * Puts the bound socket at `file` without ever exposing it with looser permissions: the socket is
 * bound inside a fresh 0700 folder next to `file`, chmod-ed, then hard-linked into place (link()
 * fails on an existing name, unlike rename()). A stale socket file (connect refused) is reclaimed;
 * a live one gives ERR_IPC_ADDRESS_IN_USE.
 */
async function bindPathSocket(server: Server, file: string, mode: number, backlog: number, label: string): Promise<{ ino: bigint; bound: string }> {
  let staging: string
  try {
    staging = await fs.mkdtemp(join(dirname(file), '.ipc-'))
  } catch (err) {
    throw fromErrno(err, `listen ${label}: cannot create a staging folder beside the socket`)
  }
  const temp = join(staging, 's')
  try {
    if (Buffer.byteLength(temp) > MAX_PATH_BYTES) {
      throw new IpcError('ERR_IPC_INVALID_ADDRESS', `listen ${label}: the socket's folder path is too long to bind safely (${temp})`)
    }
    await listenOn(server, temp, backlog)
    await fs.chmod(temp, mode)
    for (let attempt = 0; ; attempt++) {
      try {
        await fs.link(temp, file)
        break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw fromErrno(err, `listen ${label}`)
      }
      const existing = await fs.lstat(file).catch(() => undefined)
      if (existing === undefined) continue
      if (!existing.isSocket()) {
        throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `listen ${label}: ${file} exists and is not a socket`)
      }
      const state = await probe(file)
      if (state === 'live') throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `listen ${label}: a live server is listening at ${file}`)
      if (state === 'stale') await fs.unlink(file).catch((err) => debug('removing the stale socket %s failed: %s', file, err.message))
    }
    const st = await fs.stat(file, { bigint: true })
    return { ino: st.ino, bound: temp }
  } catch (err) {
    server.close()
    throw err
  } finally {
    await fs.rm(staging, { recursive: true, force: true })
  }
}

/** `unix:` listen; `backlog` (default 511) bounds both the kernel's queue and the listener's. */
export async function listenUnix<Out, In>(address: Address, options: UnixListenOptions<In>): Promise<Listener<Out, In>> {
  const target = unixTarget(address)
  const transportOptions = resolveTransportOptions(options)
  const allow = parseAllow(options.allow)
  const mode = parseMode(options.mode)
  const backlog = parseBacklog(options.backlog)
  const server = createServer({ pauseOnConnect: true })
  let inode: bigint | undefined
  let bound: string | undefined
  if (target.file !== undefined) ({ ino: inode, bound } = await bindPathSocket(server, target.file, mode, backlog, address.text))
  else {
    try {
      await listenOn(server, target.netPath, backlog)
    } catch (err) {
      throw fromErrno(err, `listen ${address.text}`)
    }
  }
  const note = target.file !== undefined ? noteRendezvous('unix', address.text, target.file, { bound, onDisk: true }) : undefined
  const control = createListener<Out, In>(
    {
      address: address.text,
      async close() {
        // server.close() stops listening at once; its callback would wait for accepted connections too
        server.close()
        note?.remove()
        if (target.file !== undefined) {
          // remove the socket file only if it is still ours
          const st = await fs.stat(target.file, { bigint: true }).catch(() => undefined)
          if (st !== undefined && st.ino === inode) await fs.unlink(target.file).catch((err) => debug('removing %s failed: %s', target.file, err.message))
        }
      },
    },
    backlog,
  )
  server.on('connection', (socket: Socket) => {
    const peer = peerOf(socket)
    if (peer === undefined || (allow !== 'any' && !allow.includes(peer.uid!))) {
      socket.destroy()
      reportDropped(control, address.text, peer === undefined ? 'no peer credentials (the client is gone)' : `uid ${peer.uid} (pid ${peer.pid}) is not allowed`)
      return
    }
    offerConnection(control, socketTransport<Out, In>(socket, peer, transportOptions), address.text, backlog)
  })
  watchServer(server, control as ListenerControl<unknown, unknown>, address.text)
  return control.listener
}
