import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { queueBytes, readLimits } from '@ipc/mq'
import { afterAll, describe, expect, it } from 'vitest'
import { IPC, ipc } from './run.js'

const dir = mkdtempSync(join(tmpdir(), 'ipc-cli-commands-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** `ipc listen …` in the background, once it says it listens. */
async function listening(args: string[]): Promise<{ child: ChildProcess; out: () => string; err: () => string }> {
  const child = spawn(process.execPath, [IPC, 'listen', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr!.setEncoding('utf8')
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: string) => {
      err += d
      if (err.includes('# listening at')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`ipc listen exited (${code}): ${err}`)))
  })
  return { child, out: () => out, err: () => err }
}

describe('ipc send and ipc listen', () => {
  it('round trip: what send gives comes out of listen and back, bytes and bigints included; listen ends after --count and removes its socket', async () => {
    const sock = join(dir, 'echo.sock')
    const server = await listening([`unix:${sock}`, '--echo', '--count', '3'])
    const exited = once(server.child, 'exit')
    const messages = ['{"a":1,"b":[true,null,"x"]}', '{"$bytes":"AAEC/w=="}', '{"n":{"$bigint":"12345678901234567890"}}']
    const sent = await ipc(['send', `unix:${sock}`, ...messages, '--count', '3'])
    expect(sent.code, sent.stderr).toBe(0)
    expect(sent.stdout.trimEnd().split('\n')).toEqual(messages)
    const [code] = await exited
    expect(code).toBe(0)
    expect(server.out().trimEnd().split('\n')).toEqual(messages)
    expect(server.err()).toMatch(/# connection 1 \(pid \d+, uid \d+\)/)
    expect(existsSync(sock)).toBe(false)
  })

  it('send reads one message per line of standard input; listen sends each line of its input to the connection', async () => {
    const sock = join(dir, 'lines.sock')
    const server = await listening([`unix:${sock}`, '--codec', 'json'])
    const exited = once(server.child, 'exit')
    const client = spawn(process.execPath, [IPC, 'send', `unix:${sock}`, '--codec', 'json', '--count', '1'], { stdio: ['pipe', 'pipe', 'inherit'] })
    let replies = ''
    client.stdout!.setEncoding('utf8').on('data', (d: string) => (replies += d))
    client.stdin!.write('{"line":1}\n\n{"line":2}\n')
    // both lines arrived at the listener: now it answers through its standard input
    while (server.out().trimEnd().split('\n').length < 2) await once(server.child.stdout!, 'data')
    server.child.stdin!.write('{"answer":"yes"}\n')
    const [clientCode] = await once(client, 'exit')
    client.stdin!.end()
    expect(clientCode).toBe(0)
    expect(replies).toBe('{"answer":"yes"}\n')
    expect(server.out()).toBe('{"line":1}\n{"line":2}\n')
    server.child.kill('SIGTERM')
    expect((await exited)[0]).toBe(0)
  })

  it('ipc listen ends cleanly on SIGINT: listener closed, socket file removed', async () => {
    const sock = join(dir, 'int.sock')
    const server = await listening([`unix:${sock}`])
    expect(existsSync(sock)).toBe(true)
    const exited = once(server.child, 'exit')
    server.child.kill('SIGINT')
    expect((await exited)[0]).toBe(0)
    expect(existsSync(sock)).toBe(false)
  })

  it('bad input gets a coded error and a non-zero exit, and sends nothing', async () => {
    const sock = join(dir, 'bad.sock')
    const server = await listening([`unix:${sock}`])
    try {
      const bad = await ipc(['send', `unix:${sock}`, '{"fine":1}', '{not json'])
      expect(bad.code).toBe(1)
      expect(bad.stderr).toContain('ERR_IPC_INVALID_ARGUMENT')
      expect(server.out()).toBe('') // the good message before the bad one was not sent either
    } finally {
      server.child.kill('SIGTERM')
      await once(server.child, 'exit')
    }
    const nobody = await ipc(['send', `unix:${join(dir, 'nobody.sock')}`, '1', '--timeout', '200'])
    expect(nobody.code).toBe(1)
    expect(nobody.stderr).toContain('ERR_IPC_NO_LISTENER')
    const scheme = await ipc(['send', 'nosuch://x', '1'])
    expect(scheme.code).toBe(1)
    expect(scheme.stderr).toMatch(/ERR_IPC_(INVALID_ADDRESS|UNSUPPORTED)/)
    for (const args of [['frobnicate'], ['send'], ['send', 'unix:/x', '--count', 'many'], ['ls', '--bogus']]) {
      const r = await ipc(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr, args.join(' ')).toContain('usage: ipc')
    }
  })
})

describe('ipc doctor', () => {
  it('reports every limit that matters, read now, with what it allows and how to raise it', async () => {
    const r = await ipc(['doctor', '--json'])
    expect(r.code).toBe(0)
    const rows = JSON.parse(r.stdout) as Array<{ limit: string; value: string; means: string; raise: string }>
    expect(rows.map((x) => x.limit)).toEqual([
      'RLIMIT_MSGQUEUE',
      'fs.mqueue.msg_max',
      'fs.mqueue.msgsize_max',
      'fs.mqueue.queues_max',
      'kernel.msgmnb',
      'kernel.msgmni',
      'kernel.sem',
      '/dev/shm size',
      'fs.pipe-max-size',
      'fs.pipe-user-pages-soft',
      'RLIMIT_SIGPENDING',
      'RLIMIT_NOFILE',
    ])
    for (const row of rows) {
      expect(row.means.length, row.limit).toBeGreaterThan(10)
      expect(row.raise, row.limit).toMatch(/ulimit|sysctl|mount/)
    }
    const l = readLimits() // the child inherited this process's limits
    const mq = rows[0]
    if (l.bytesPerUser !== Infinity) {
      expect(mq.value).toBe(`${l.bytesPerUser.toLocaleString('en-US')} bytes`)
      expect(mq.means).toContain(`about ${Math.floor(l.bytesPerUser / queueBytes({ maxmsg: l.msgMax, msgsize: l.msgsizeMax }))} queues`)
    }
    expect(rows[1].value).toBe(readFileSync('/proc/sys/fs/mqueue/msg_max', 'utf8').trim())
    expect(rows[9].value).toContain(Number(readFileSync('/proc/sys/fs/pipe-user-pages-soft', 'utf8')).toLocaleString('en-US'))
    const text = await ipc(['doctor'])
    expect(text.stdout).toContain('RLIMIT_MSGQUEUE = ')
    expect(text.stdout).toContain('raise: ulimit -q')
  })
})

describe('ipc bench', () => {
  const run = (command: string, env: NodeJS.ProcessEnv): Promise<string> =>
    new Promise((resolve, reject) =>
      execFile('sh', ['-c', command], { env, maxBuffer: 1 << 24, timeout: 120_000 }, (err, stdout, stderr) => (err ? reject(err) : resolve(stdout + stderr))),
    )
  const { CI: _ci, ...inherited } = process.env
  const env = { ...inherited, TERM: 'xterm' } // not CI: the bench would not draw

  it('on a terminal: a status line redrawn in place (cells done, time, what runs now) above which finished lines go', async () => {
    const shown = await run(`script -qfec "${process.execPath} ${IPC} bench unix --quick" /dev/null`, env)
    // every redraw starts with carriage return + erase-line; a finished line does too, so it replaces the status line
    const frames = shown.split('\r\x1b[K')
    expect(frames.length).toBeGreaterThan(5)
    expect(frames.some((f) => /^▶ 0\/3 cells · 0:\d\d · now unix 64 B/.test(f))).toBe(true)
    expect(frames.some((f) => /^▶ 1\/3 cells · 0:\d\d · about 0:\d\d left · now unix 1 KiB/.test(f))).toBe(true)
    expect(frames.some((f) => /^\[1\/3\] unix 64 B: rtt p50/.test(f))).toBe(true)
    expect(shown).toContain('| unix | 64 KiB |')
  })

  it('elsewhere: plain lines, no escape codes; an unknown name is refused', async () => {
    const plain = await run(`${process.execPath} ${IPC} bench unix --quick 2>&1 | cat`, env)
    expect(plain).not.toContain('\x1b[')
    expect(plain).toMatch(/^\[3\/3\] unix 64 KiB: rtt p50/m)
    expect(plain).toMatch(/^progress: 3\/3 cells in \d+ s$/m)
    const unknown = await ipc(['bench', 'nosuch'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown argument nosuch')
  })
})
