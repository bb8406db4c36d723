import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { connect, isIpcError, parseAddress } from '../src/index.js'
import { parseSize } from '../src/mechanism/index.js'

describe('addresses', () => {
  it('splits path, abstract and host:port forms with options', () => {
    expect(parseAddress('unix:/run/app.sock')).toMatchObject({ scheme: 'unix', target: '/run/app.sock' })
    expect(parseAddress('unix:@app').target).toBe('@app')
    const tcp = parseAddress('tcp://127.0.0.1:7000?highWaterMark=64KiB')
    expect(tcp).toMatchObject({ scheme: 'tcp', host: '127.0.0.1', port: 7000 })
    expect(tcp.params.get('highWaterMark')).toBe('64KiB')
    expect(parseAddress('tcp://[::1]:80')).toMatchObject({ host: '::1', port: 80 })
    expect(parseAddress('MQ+SYSV:/k').scheme).toBe('mq+sysv')
  })

  it('rejects malformed addresses with ERR_IPC_INVALID_ADDRESS', () => {
    for (const bad of ['', 'no-scheme', 'tcp://h:99999', 'unix:/a\0b']) {
      expect(() => parseAddress(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ADDRESS' }))
    }
  })

  it('parses sizes with units', () => {
    expect(parseSize('4MiB', 'x')).toBe(4 * 1024 * 1024)
    expect(parseSize('64KiB', 'x')).toBe(65536)
    expect(parseSize('1.5KB', 'x')).toBe(1500)
    expect(() => parseSize('lots', 'x')).toThrow(expect.objectContaining({ code: 'ERR_IPC_INVALID_ARGUMENT' }))
  })

  it('connect to a scheme no package serves is ERR_IPC_UNSUPPORTED', async () => {
    const err = await connect('nosuch:/x').catch((e) => e)
    expect(isIpcError(err, 'ERR_IPC_UNSUPPORTED')).toBe(true)
    expect(err.message).toMatch(/no package of the SDK serves it/)
  })

  it('connect to a scheme whose package is not installed names the package to install', async () => {
    // in a program outside this workspace (where every SDK package is installed), with core by path
    const dir = mkdtempSync(join(tmpdir(), 'ipc-no-nats-'))
    try {
      const core = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href
      const script = join(dir, 'main.mjs')
      writeFileSync(
        script,
        `const { connect } = await import(${JSON.stringify(core)}); const err = await connect('nats://127.0.0.1:4222/x').catch((e) => e); console.log(JSON.stringify({ code: err.code, message: err.message, details: err.details }))`,
      )
      const { NODE_PATH: _hoisted, ...env } = process.env // pnpm points NODE_PATH at the workspace's hoisted packages
      const out = JSON.parse(execFileSync(process.execPath, [script], { cwd: dir, encoding: 'utf8', env }))
      expect(out.code).toBe('ERR_IPC_UNSUPPORTED')
      expect(out.message).toContain('npm install @ipc/nats')
      expect(out.details).toEqual({ package: '@ipc/nats' })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
