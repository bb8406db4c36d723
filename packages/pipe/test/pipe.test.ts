import { spawn as nodeSpawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { isIpcError } from '@ipc/core'
import { exitOf } from '@ipc/core/testing'
import { fromParent, spawn } from '../src/index.js'

describe('@ipc/pipe', () => {
  it('uses real pipes and leaves the child stdio free', async () => {
    const script = `
      const { fromParent } = require(${JSON.stringify(require.resolve('@ipc/pipe'))})
      const fs = require('node:fs')
      const t = fromParent()
      const [r, w] = [3, 4].map((fd) => fs.fstatSync(fd).isFIFO())
      process.stdin.once('data', async (d) => {
        process.stdout.write('stdout:' + d)
        await t.send({ fifo: r && w, fromStdin: String(d) })
        await t.close()
      })`
    const { child, transport } = spawn(process.execPath, ['-e', script], { spawn: { stdio: ['pipe', 'pipe', 'inherit'] } })
    let out = ''
    child.stdout!.on('data', (d) => (out += d))
    child.stdin!.end('hi')
    expect(await transport.receive({ timeout: 10_000 })).toEqual({ fifo: true, fromStdin: 'hi' })
    expect((await transport.closed).reason).toBe('peer')
    expect(await exitOf(child)).toBe(0)
    expect(out).toBe('stdout:hi')
    expect(transport.peer?.pid).toBe(child.pid)
  })

  it('notices an exit at once even when a grandchild keeps the pipe ends open', async () => {
    const script = `
      const { spawn } = require('node:child_process')
      const [r, w] = process.env.IPC_PIPE.split(',').map(Number)
      const g = spawn('sleep', ['30'], { stdio: ['ignore', 'ignore', 'ignore', r, w], detached: true })
      process.stdout.write(String(g.pid))
      g.unref()`
    const { child, transport } = spawn(process.execPath, ['-e', script], { spawn: { stdio: ['ignore', 'pipe', 'inherit'] } })
    let grandchild = ''
    child.stdout!.on('data', (d) => (grandchild += d))
    const exitedAt = exitOf(child).then(() => performance.now())
    const info = await transport.closed
    const closedAt = performance.now()
    expect(info.reason).toBe('peer-exited')
    expect(await exitOf(child)).toBe(0)
    // "at once": within 100 ms of the exit Node itself reports (the grandchild keeps the pipes open)
    expect(closedAt - (await exitedAt)).toBeLessThan(100)
    process.kill(Number(grandchild), 'SIGKILL')
  })

  it('a command that does not exist closes the transport instead of crashing', async () => {
    const { child, transport } = spawn('/nonexistent/command')
    const info = await transport.closed
    expect(info.reason).toBe('error')
    expect(info.error?.code).toBe('ERR_IPC_SYSTEM')
    expect((info.error?.cause as NodeJS.ErrnoException | undefined)?.code).toBe('ENOENT')
    expect(child.pid).toBeUndefined()
    const err = await transport.send({}).catch((e) => e)
    expect(isIpcError(err)).toBe(true)
  })

  it('fromParent() outside a spawned child is a coded error', () => {
    expect(() => fromParent()).toThrow(expect.objectContaining({ code: 'ERR_IPC_UNSUPPORTED' }))
  })

  it('the child sees the parent die', async () => {
    // a middle process spawns a pipe child, reports its pid, then is killed; the child must see peer-exited
    const script = `
      const { spawn } = require(${JSON.stringify(require.resolve('@ipc/pipe'))})
      const { child } = spawn(process.execPath, ['-e', \`
        const { fromParent } = require(${JSON.stringify(require.resolve('@ipc/pipe'))})
        const t = fromParent()
        t.closed.then((i) => { require('node:fs').writeSync(1, i.reason); process.exit(0) })
      \`], { spawn: { stdio: ['ignore', 'inherit', 'inherit'] } })
      setInterval(() => {}, 1000)`
    const middle = nodeSpawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    middle.stdout.on('data', (d) => (out += d))
    await new Promise((r) => setTimeout(r, 300)) // let the grandchild start; its report is what we check
    middle.kill('SIGKILL')
    await new Promise<void>((resolve) => middle.stdout.on('close', () => resolve()))
    expect(out).toBe('peer-exited')
  })
})
