// Who may talk: credentials, subject permissions, TLS, and the plain-text refusal.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, isIpcError, listen } from '@ipc/core'
import { afterAll, describe, expect, it } from 'vitest'
import '../src/index.js'
import { Broker } from './broker.js'

const dir = mkdtempSync(join(tmpdir(), 'ipc-nats-tls-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('nats: credentials and permissions', async () => {
  const broker = await Broker.start({
    config: `authorization {
      users = [
        { user: alice, password: "pw-alice", permissions: { publish: { deny: ["ipc.secret", "ipc.secret.>"] }, subscribe: { deny: ["ipc.hidden", "ipc.hidden.>"] } } }
      ]
    }`,
  })
  afterAll(() => broker.stop())
  const alice = { auth: { user: 'alice', pass: 'pw-alice' } }

  it('a wrong password, or none, is ERR_IPC_PERMISSION; the right one works', async () => {
    for (const options of [{ auth: { user: 'alice', pass: 'wrong' } }, {}]) {
      const err = await connect(`${broker.url}/orders`, options).catch((e) => e)
      expect(isIpcError(err, 'ERR_IPC_PERMISSION'), String(err)).toBe(true)
    }
    const l = await listen(`${broker.url}/orders`, alice)
    const [c, s] = await Promise.all([connect(`${broker.url}/orders`, alice), l.accept()])
    await c.send('hi')
    expect(await s.receive()).toBe('hi')
    await c.close()
    await l.close()
  })

  it('a token read from tokenFile= is used (and a token is never accepted in the address)', async () => {
    const tokenBroker = await Broker.start({ config: 'authorization { token: "t0k3n-for-tests" }' })
    try {
      const file = join(dir, 'token')
      writeFileSync(file, 't0k3n-for-tests\n', { mode: 0o600 })
      const l = await listen(`${tokenBroker.url}/orders?tokenFile=${file}`)
      const c = await connect(`${tokenBroker.url}/orders?tokenFile=${file}`)
      await c.close()
      await l.close()
      expect(isIpcError(await connect(`${tokenBroker.url}/orders?auth=t0k3n`).catch((e) => e), 'ERR_IPC_INVALID_ARGUMENT')).toBe(true)
      expect(isIpcError(await connect(`nats://u:p@127.0.0.1:${tokenBroker.port}/orders`).catch((e) => e), 'ERR_IPC_INVALID_ADDRESS')).toBe(true)
    } finally {
      await tokenBroker.stop()
    }
  })

  it('a subject the user may not publish (connect) or subscribe (listen) is ERR_IPC_PERMISSION', async () => {
    expect(isIpcError(await connect(`${broker.url}/secret`, { ...alice, timeout: 2000 }).catch((e) => e), 'ERR_IPC_PERMISSION')).toBe(true)
    expect(isIpcError(await listen(`${broker.url}/hidden`, alice).catch((e) => e), 'ERR_IPC_PERMISSION')).toBe(true)
  })
})

describe('nats: TLS', () => {
  it('with a test CA: connect and listen over TLS; without the CA the server is not trusted (ERR_IPC_PERMISSION)', async () => {
    const ca = join(dir, 'ca.pem')
    const caKey = join(dir, 'ca.key')
    const key = join(dir, 'server.key')
    const csr = join(dir, 'server.csr')
    const cert = join(dir, 'server.pem')
    const ext = join(dir, 'ext.cnf')
    const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' })
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '1', '-subj', '/CN=ipc test CA')
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1')
    writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
    ssl('x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '1', '-extfile', ext)
    const broker = await Broker.start({ config: `tls { cert_file: "${cert}", key_file: "${key}" }` })
    try {
      const address = `${broker.url}/secure?tls=1&ca=${ca}`
      const l = await listen(address)
      const [c, s] = await Promise.all([connect(address), l.accept()])
      await c.send({ over: 'tls' })
      expect(await s.receive()).toEqual({ over: 'tls' })
      await c.close()
      await l.close()
      const untrusted = await connect(`${broker.url}/secure?tls=1`).catch((e) => e)
      expect(isIpcError(untrusted, 'ERR_IPC_PERMISSION'), String(untrusted)).toBe(true)
    } finally {
      await broker.stop()
    }
  })

  it('a server that is not on loopback is refused in plain text unless tls=0 is written', async () => {
    const err = await connect('nats://192.0.2.1:4222/orders').catch((e) => e) // TEST-NET-1: never reached
    expect(isIpcError(err, 'ERR_IPC_PERMISSION')).toBe(true)
    expect(err.message).toMatch(/tls=0/)
    const tried = await connect('nats://192.0.2.1:4222/orders?tls=0', { timeout: 300 }).catch((e) => e)
    expect(isIpcError(tried, 'ERR_IPC_PERMISSION')).toBe(false) // it tried (and could not reach it)
    expect(isIpcError(tried)).toBe(true)
  })
})
