// The session layer's logic over an in-memory "broker" that can go down, drop, duplicate and
// reorder units (kernel and broker behaviour are tested for real in @ipc/nats).
import { describe, expect, it } from 'vitest'
import { isIpcError } from '../src/index.js'
import { type SessionCarrier, type SessionCarrierEvents, UNIT, createTransport, encodeUnit, sessionLink } from '../src/mechanism/index.js'

/** Two carriers joined by a broker that delivers on the next turn of the loop, unless told otherwise. */
class Broker {
  up = true
  drop: ((unit: Uint8Array) => boolean) | undefined
  readonly ends: MemoryCarrier[] = []
  pair(maxUnit = 4096): [MemoryCarrier, MemoryCarrier] {
    const a = new MemoryCarrier(this, maxUnit)
    const b = new MemoryCarrier(this, maxUnit)
    a.other = b
    b.other = a
    this.ends.push(a, b)
    return [a, b]
  }
  setUp(up: boolean): void {
    this.up = up
    for (const e of this.ends)
      if (up) e.events?.up()
      else e.events?.down()
  }
}

class MemoryCarrier implements SessionCarrier {
  other!: MemoryCarrier
  events: SessionCarrierEvents | undefined
  closed = false
  sent = 0
  constructor(
    private readonly broker: Broker,
    readonly maxUnit: number,
  ) {}
  get up(): boolean {
    return this.broker.up
  }
  start(events: SessionCarrierEvents): void {
    this.events = events
  }
  send(unit: Uint8Array): void {
    this.sent++
    if (!this.broker.up || this.broker.drop?.(unit)) return
    const to = this.other
    const copy = unit.slice()
    setImmediate(() => {
      if (to.closed) {
        if (!this.closed) this.events?.gone()
        return
      }
      to.events?.unit(copy)
    })
  }
  close(): void {
    this.closed = true
  }
}

const OPTIONS = { window: 64 * 1024, peerWindow: 64 * 1024, heartbeat: 200, probe: 20, resume: 1000, broker: 'memory' }

function transports(broker: Broker, options = OPTIONS, maxUnit = 4096) {
  const [ca, cb] = broker.pair(maxUnit)
  return [createTransport(sessionLink(ca, options)), createTransport(sessionLink(cb, options))] as const
}

describe('session link', () => {
  it('carries messages whole and in order, within the window (send() waits for acknowledgements)', async () => {
    const broker = new Broker()
    const [a, b] = transports(broker)
    const pad = new Uint8Array(10_000).fill(7)
    const N = 500
    const sending = (async () => {
      for (let i = 0; i < N; i++) await a.send({ i, pad })
    })()
    for (let i = 0; i < N; i++) {
      const m = (await b.receive()) as { i: number; pad: Uint8Array }
      expect(m.i).toBe(i)
      expect(Buffer.compare(m.pad, pad)).toBe(0)
    }
    await sending
    await a.close()
    expect((await b.closed).reason).toBe('peer')
  })

  it('a broker outage: senders wait, everything not acknowledged is sent again, nothing lost or doubled', async () => {
    const broker = new Broker()
    const [a, b] = transports(broker)
    const N = 3000
    const got: number[] = []
    const reading = (async () => {
      for (let k = 0; k < N; k++) got.push((await b.receive()) as number)
    })()
    for (let i = 0; i < N; i++) {
      if (i === 1000) broker.setUp(false)
      if (i === 1200) setTimeout(() => broker.setUp(true), 100)
      await a.send(i)
    }
    await reading
    expect(got).toEqual([...Array(N)].map((_, k) => k))
    await a.close()
  })

  it('units the broker drops are asked for again (NACK) and arrive in order', async () => {
    const broker = new Broker()
    let seed = 7
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    broker.drop = (unit) => unit[0] === UNIT.DATA && random() < 0.1 // a tenth of the data units vanish
    const [a, b] = transports(broker, OPTIONS, 256) // small units: many of them
    const N = 2000
    const sending = (async () => {
      for (let i = 0; i < N; i++) await a.send({ i, text: 'x'.repeat(i % 300) })
    })()
    for (let i = 0; i < N; i++) expect(((await b.receive()) as { i: number }).i).toBe(i)
    await sending
  })

  it('a broker down longer than resume ends both ends with ERR_IPC_CLOSED', async () => {
    const broker = new Broker()
    const [a, b] = transports(broker, { ...OPTIONS, resume: 150 })
    await a.send(1)
    expect(await b.receive()).toBe(1)
    broker.setUp(false)
    const pending = b.receive()
    const [ea, eb] = await Promise.all([a.closed, b.closed])
    expect(ea).toMatchObject({ reason: 'error', error: { code: 'ERR_IPC_CLOSED' } })
    expect(eb.reason).toBe('error')
    expect(isIpcError(await pending.catch((e) => e), 'ERR_IPC_CLOSED')).toBe(true)
  })

  it('a silent peer (hung) ends the link after three heartbeats; a vanished one at once', async () => {
    const broker = new Broker()
    const [ca, cb] = broker.pair()
    const a = createTransport(sessionLink(ca, OPTIONS))
    // b's carrier started but its link never ticks: stand in for a stopped process
    cb.start({ unit: () => {}, gone: () => {}, down: () => {}, up: () => {}, failed: () => {} })
    const t0 = Date.now()
    void a
    const info = await a.closed
    expect(info.reason).toBe('peer')
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3 * OPTIONS.heartbeat - 50)
    expect(Date.now() - t0).toBeLessThan(3 * OPTIONS.heartbeat + 500)
    const [x, y] = transports(broker)
    await x.send(1)
    expect(await y.receive()).toBe(1)
    const t1 = Date.now()
    ;(y as unknown as { link: { destroy(): void } }).link.destroy() // its subscription goes
    expect((await x.closed).reason).toBe('peer')
    expect(Date.now() - t1).toBeLessThan(OPTIONS.probe * 4)
  })

  it('malformed units, and acknowledgements of units never sent, end the link with ERR_IPC_DECODE', async () => {
    for (const unit of [
      new Uint8Array(3),
      encodeUnit(9, 0, 0, 0, 100),
      encodeUnit(UNIT.ACK, 1, 0, 0, 100),
      encodeUnit(UNIT.ACK, 0, 0, 5, 100),
      encodeUnit(UNIT.DATA, 0, 0, 0, 100),
    ]) {
      const broker = new Broker()
      const [ca] = broker.pair()
      const t = createTransport(sessionLink(ca, OPTIONS))
      ca.events!.unit(unit)
      const info = await t.closed
      expect(info.reason).toBe('error')
      expect(info.error?.code).toBe('ERR_IPC_DECODE')
    }
  })
})
