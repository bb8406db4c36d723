import type { Transport } from '@ipc/core'
import { type Address, IpcError, createTransport, fromErrno, processBound, resolveTransportOptions, withWait } from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { MarkParts, markControls, ownMark, ownWindowLog2, sendControls, watchPeer } from './handshake.js'
import { SignalLink } from './link.js'
import { caughtSignals, signalName } from './names.js'
import { type SignalConnectOptions, signalSet } from './options.js'
import { type Routed, Router } from './router.js'
import { FROM_LISTENER, Kind, Refusal, helloArg, parseHelloArg } from './wire.js'

/** Attempts with another connection number when the listener says ours is in use. */
const ATTEMPTS = 4

/**
 * `signal:<pid>` connect: check that `pid` catches the three signals (a real-time signal's default
 * action would end it: nothing is sent otherwise), then HELLO, our thread and our mark on the hello
 * signal (to the process), and wait for ACK, the listener's thread and its mark (to our thread).
 */
export async function connectSignal<Out, In>(address: Address, options: SignalConnectOptions<In>): Promise<Transport<Out, In>> {
  const link = await connectLink(address, options)
  return createTransport<Out, In>(link, resolveTransportOptions(options))
}

/** The handshake of {@link connectSignal}, up to the link (the raw client of `testing.ts` writes into it directly). */
export async function connectLink(address: Address, options: SignalConnectOptions<unknown>): Promise<SignalLink> {
  const label = `connect ${address.text}`
  if (!/^[1-9]\d{0,9}$/.test(address.target)) throw new IpcError('ERR_IPC_INVALID_ADDRESS', `${label}: signal: needs the listener's pid, e.g. signal:1234`)
  const pid = Number(address.target)
  const set = signalSet(options.sig)
  const caught = caughtSignals(pid)
  if (caught === undefined) throw new IpcError('ERR_IPC_NO_LISTENER', `${label}: no process ${pid}`)
  for (const s of [set.data, set.control, set.hello]) {
    if (!caught.has(s))
      throw new IpcError('ERR_IPC_NO_LISTENER', `${label}: process ${pid} does not catch ${signalName(s)}; nothing was sent (it would have ended it)`)
  }
  let lastRefusal = ''
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const result = await attemptConnect(pid, set, options, label)
    if (typeof result !== 'string') return result
    lastRefusal = result
  }
  throw new IpcError('ERR_IPC_ADDRESS_IN_USE', `${label}: ${lastRefusal}`)
}

/** One handshake: the transport, or why it should be tried again with another connection number. */
async function attemptConnect(
  pid: number,
  { data, control, hello }: { data: number; control: number; hello: number },
  options: SignalConnectOptions<unknown>,
  label: string,
): Promise<SignalLink | string> {
  const router = Router.use(data, control)
  let pidfd: number | undefined
  let bound: ReturnType<typeof processBound> | undefined
  let conn = 0
  const early: Int32Array[] = []
  const parts = new MarkParts()
  let settle: ((r: { window: number } | { refused: number } | { gone: true }) => void) | undefined
  let window: number | undefined
  let tid: number | undefined
  const pending: Routed = {
    data(records, at) {
      // the listener's first data can be read before its ACK (the data signal has the lower number)
      const copy = new Int32Array(at.length * 6)
      for (const [k, i] of at.entries()) copy.set(records.subarray(i, i + 6), k * 6)
      early.push(copy)
    },
    control(kind, low) {
      if (kind === Kind.ACK) {
        window = parseHelloArg(low)
        if (window === undefined) settle?.({ refused: Refusal.VERSION })
      } else if (kind === Kind.REFUSE) settle?.({ refused: low })
      else if (kind === Kind.TID) tid = low
      else parts.take(kind, low)
      if (window !== undefined && tid !== undefined && parts.ref(pid) !== undefined) settle?.({ window })
    },
  }
  let attached = false
  let linked = false
  try {
    do conn = 1 + Math.floor(Math.random() * 65535)
    while (router.has(pid, conn, FROM_LISTENER))
    router.attach(pid, conn, FROM_LISTENER, pending)
    attached = true
    try {
      pidfd = native.pidfdOpen(pid)
    } catch (err) {
      throw new IpcError('ERR_IPC_NO_LISTENER', `${label}: process ${pid} is gone`, { cause: err })
    }
    bound = processBound(pid, (p, onExit) => new native.PidWatcher(p, onExit))
    const answered = new Promise<{ window: number } | { refused: number } | { gone: true }>((resolve) => {
      settle = resolve
      bound!.watch.onExit(() => resolve({ gone: true }))
    })
    const timeout = options.timeout ?? 10_000
    const mark = ownMark()
    const hellos: [number, number][] = [[Kind.HELLO, helloArg(ownWindowLog2())], [Kind.TID, router.tid], ...markControls(mark)]
    await sendControls({ pidfd }, hello, 0, conn, hellos, performance.now() + timeout)
    const answer = await withWait(answered, { signal: options.signal, timeout }, label)
    if ('gone' in answer) throw new IpcError('ERR_IPC_NO_LISTENER', `${label}: the listener (pid ${pid}) exited`)
    if ('refused' in answer) {
      if (answer.refused === Refusal.IN_USE) return `connection number ${conn} was in use ${ATTEMPTS} times`
      if (answer.refused === Refusal.CLOSING) throw new IpcError('ERR_IPC_NO_LISTENER', `${label}: the listener is closing`)
      throw new IpcError('ERR_IPC_DECODE', `${label}: the listener speaks another version of signal:`)
    }
    const b = bound
    let link: SignalLink | undefined
    let gone = false
    const watch = watchPeer(parts.ref(pid)!, () => (link ? link.peerGone() : (gone = true)), label)
    if (watch === undefined || gone) throw new IpcError('ERR_IPC_NO_LISTENER', `${label}: the listener's end is gone`)
    link = new SignalLink({
      router,
      pid,
      tid: tid!,
      conn,
      side: 0,
      window: answer.window,
      ownWindow: 1 << ownWindowLog2(),
      classifyEnd: () => b.classifyEnd!(undefined),
      release: () => {
        watch.close()
        b.release?.()
      },
    })
    router.detach(pid, conn, FROM_LISTENER, pending)
    router.attach(pid, conn, FROM_LISTENER, link)
    linked = true
    native.closeFd(pidfd)
    pidfd = undefined
    for (const records of early)
      link.data(
        records,
        Array.from({ length: records.length / 6 }, (_, k) => k * 6),
      )
    return link
  } catch (err) {
    throw fromErrno(err, label)
  } finally {
    if (pidfd !== undefined) native.closeFd(pidfd)
    if (!linked) {
      if (attached) router.detach(pid, conn, FROM_LISTENER, pending)
      router.release()
      bound?.release?.()
    }
  }
}
