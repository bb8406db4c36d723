import type { Listener } from '@ipc/core'
import {
  type Address,
  IpcError,
  type ListenerControl,
  createListener,
  createTransport,
  debug,
  processBound,
  resolveTransportOptions,
} from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { claimError } from './events.js'
import { MarkParts, markControls, ownMark, ownWindowLog2, sendControls, watchPeer } from './handshake.js'
import { SignalLink } from './link.js'
import { SIGRTMIN, signalName } from './names.js'
import { type SignalListenOptions, signalSet } from './options.js'
import { Router } from './router.js'
import { DEFAULT_DATA_OFFSET, FROM_LISTENER, Kind, Refusal, helloArg, parseHelloArg, parseHigh } from './wire.js'

/** A hello under way: its window and thread, then its mark. */
interface Pending {
  window: number
  tid: number | undefined
  parts: MarkParts
  timer: NodeJS.Timeout
}

/**
 * `signal:` listen (this process; `signal:<own pid>` too): the process's one reader of the hello
 * signal (an exclusive claim: `ERR_IPC_ADDRESS_IN_USE` for a second listener, in any thread).
 * Each client's HELLO, thread and mark arrive on it from the client's pid; the listener watches
 * the mark, answers ACK, its own thread and mark on the control signal, and offers the connection.
 */
export async function listenSignal<Out, In>(address: Address, options: SignalListenOptions<In>): Promise<Listener<Out, In>> {
  const label = `listen ${address.text}`
  if (address.target !== '' && address.target !== String(process.pid)) {
    throw new IpcError('ERR_IPC_INVALID_ADDRESS', `${label}: a process listens at its own pid only: signal: (or signal:${process.pid})`)
  }
  const { data, control, hello } = signalSet(options.sig)
  const pending = new Map<number, Pending>()
  let onHello: (records: Int32Array) => void = () => {}
  let claim: InstanceType<typeof native.SignalReceiver>
  try {
    claim = new native.SignalReceiver([hello], (buf) => onHello(new Int32Array(buf.buffer, buf.byteOffset, buf.length >> 2)), true)
  } catch (err) {
    throw claimError(err, hello)
  }
  claim.unref() // the listener keeps nothing alive by itself but its accepted connections
  let router: Router
  try {
    router = Router.use(data, control) // so the signals are claimed (and visible in SigCgt) while it listens
  } catch (err) {
    claim.close()
    throw err
  }
  const transportOptions = resolveTransportOptions(options)
  const handshakeTimeout = options.handshakeTimeout ?? 10_000
  const windowLog2 = ownWindowLog2()
  const query = data === SIGRTMIN + DEFAULT_DATA_OFFSET ? '' : `?sig=${signalName(data)}`

  const control$: ListenerControl<Out, In> = createListener<Out, In>(
    {
      address: `signal:${process.pid}${query}`,
      async close() {
        onHello = () => {}
        for (const p of pending.values()) clearTimeout(p.timer)
        pending.clear()
        claim.close()
        router.release()
      },
    },
    options.backlog,
  )

  /** Answers on the control signal, directed at the client's thread. */
  const answer = (pid: number, tid: number, conn: number, items: [number, number][]): Promise<void> =>
    sendControls({ pid, tid }, control, FROM_LISTENER, conn, items, performance.now() + handshakeTimeout)

  const accept = async (pid: number, conn: number, p: Pending & { tid: number }, mark: NonNullable<ReturnType<MarkParts['ref']>>): Promise<void> => {
    const what = `hello of pid ${pid}`
    if (control$.isClosed || router.has(pid, conn, 0)) {
      await answer(pid, p.tid, conn, [[Kind.REFUSE, control$.isClosed ? Refusal.CLOSING : Refusal.IN_USE]]).catch(() => {})
      return
    }
    let bound: ReturnType<typeof processBound> | undefined
    let linked = false
    try {
      bound = processBound(pid, (q, onExit) => new native.PidWatcher(q, onExit))
      let link: SignalLink | undefined
      let gone = false
      const watch = watchPeer(mark, () => (link ? link.peerGone() : (gone = true)), what)
      if (watch === undefined || gone) throw new Error('its end is gone')
      const b = bound
      link = new SignalLink({
        router: Router.use(data, control),
        pid,
        tid: p.tid,
        conn,
        side: FROM_LISTENER,
        window: p.window,
        ownWindow: 1 << windowLog2,
        classifyEnd: () => b.classifyEnd!(undefined),
        release: () => {
          watch.close()
          b.release?.()
        },
      })
      router.attach(pid, conn, 0, link)
      linked = true // the link owns the watches now
      await answer(pid, p.tid, conn, [[Kind.ACK, helloArg(windowLog2)], [Kind.TID, router.tid], ...markControls(ownMark())])
      control$.offer(createTransport<Out, In>(link, transportOptions))
    } catch (err) {
      control$.reject(`${what}: ${(err as Error)?.message ?? String(err)}`)
      if (!linked) bound?.release?.()
    }
  }

  onHello = (records) => {
    for (let at = 0; at < records.length; at += 6) {
      const pid = records[at + 2]!
      const { side, conn, kind } = parseHigh(records[at + 5]! >>> 0)
      const low = records[at + 4]! >>> 0
      if (side !== 0) continue // hellos come from clients only
      const key = Router.key(pid, conn, 0)
      if (kind === Kind.HELLO) {
        const window = parseHelloArg(low)
        if (window === undefined) {
          control$.reject(`a hello of pid ${pid} of another version`)
          continue
        }
        const old = pending.get(key)
        if (old) clearTimeout(old.timer)
        const timer = setTimeout(() => {
          pending.delete(key)
          control$.reject(`the hello of pid ${pid} (conn ${conn}) was not finished within ${handshakeTimeout} ms`)
        }, handshakeTimeout)
        timer.unref()
        pending.set(key, { window, tid: undefined, parts: new MarkParts(), timer })
        continue
      }
      const p = pending.get(key)
      if (p !== undefined && kind === Kind.TID) p.tid = low
      else if (p === undefined || !p.parts.take(kind, low)) {
        debug('signal: hello-signal kind %d from pid %d (conn %d) outside a hello dropped', kind, pid, conn)
        continue
      }
      const mark = p.parts.ref(pid)
      if (mark === undefined || p.tid === undefined) continue
      clearTimeout(p.timer)
      pending.delete(key)
      void accept(pid, conn, p as Pending & { tid: number }, mark)
    }
  }

  return control$.listener
}
