import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ledgerDir } from '@ipc/core/mechanism'
import { native } from '@ipc/native'
import { afterAll, describe, expect, it } from 'vitest'
import { hold, ipc, ls, stop } from './run.js'

const token = `cli${process.pid}x${Math.random().toString(36).slice(2, 8)}`
const dir = mkdtempSync(join(tmpdir(), `ipc-${token}-`))
const SYSV_PROJ_ID = 0x49 // @ipc/mq's ftok project id (sysv/keyfile.ts)

/** One listener of each mechanism that can leave something behind, and how to see its object. */
function objects(tag: string) {
  const mqName = `/${token}${tag}`
  const key = join(dir, `${tag}.key`)
  return [
    {
      address: `unix:${join(dir, `${tag}.sock`)}`,
      mechanism: 'unix',
      kind: 'socket file',
      name: join(dir, `${tag}.sock`),
      exists: () => existsSync(join(dir, `${tag}.sock`)),
    },
    {
      address: `fifo:${join(dir, `${tag}.fifo`)}`,
      mechanism: 'fifo',
      kind: 'fifo',
      name: join(dir, `${tag}.fifo`),
      exists: () => existsSync(join(dir, `${tag}.fifo`)) || existsSync(join(dir, `${tag}.fifo.d`)),
    },
    { address: `mq:${mqName}`, mechanism: 'mq', kind: 'server queue', name: mqName, exists: () => posixQueueExists(mqName) },
    { address: `mq+sysv:${key}`, mechanism: 'mq+sysv', kind: 'key file', name: key, exists: () => existsSync(key) },
    {
      address: `shm:/${token}${tag}`,
      mechanism: 'shm',
      kind: 'rendezvous file',
      name: `/dev/shm/ipc-shm.${token}${tag}`,
      exists: () => existsSync(`/dev/shm/ipc-shm.${token}${tag}`),
    },
    {
      address: `sem:/${token}${tag}`,
      mechanism: 'sem',
      kind: 'rendezvous file',
      name: `/dev/shm/ipc-sem.${token}${tag}`,
      exists: () => existsSync(`/dev/shm/ipc-sem.${token}${tag}`),
    },
  ]
}

function posixQueueExists(name: string): boolean {
  try {
    native.closeFd(native.mqOpen(name, native.mqConstants.O_RDONLY | native.mqConstants.O_NONBLOCK, 0, 0, 0))
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

function sysvQueueExists(key: number): boolean {
  try {
    native.msgGet(key, 0)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/** Ledger entries that name one of this test's objects. */
function ledgerEntries(): string[] {
  const folder = ledgerDir()
  if (!existsSync(folder)) return []
  return readdirSync(folder).filter((n) => {
    try {
      return readFileSync(join(folder, n), 'utf8').includes(token)
    } catch {
      return false
    }
  })
}

afterAll(async () => {
  await ipc(['clean', token, '--semaphores'])
  rmSync(dir, { recursive: true, force: true })
})

describe('ipc ls and ipc clean against real objects', () => {
  it('lists a live listener of each mechanism as alive with its pid; clean leaves it; a closed one leaves nothing', async () => {
    const live = objects('live')
    const holder = await hold(live.map((o) => o.address))
    try {
      const items = await ls(token)
      for (const o of live) {
        const item = items.find((i) => i.name === o.name)
        expect(item, `${o.mechanism} ${o.name} listed`).toMatchObject({ mechanism: o.mechanism, kind: o.kind, alive: true, pid: holder.pid })
      }
      const cleaned = await ipc(['clean', token, '--json'])
      expect(cleaned.code).toBe(0)
      expect(JSON.parse(cleaned.stdout)).toEqual([])
      for (const o of live) expect(o.exists(), `${o.name} still there`).toBe(true)
    } finally {
      await stop(holder, 'SIGTERM')
    }
    expect(await ls(token)).toEqual([])
    for (const o of live) expect(o.exists(), `${o.name} removed by close()`).toBe(false)
    expect(ledgerEntries()).toEqual([])
  })

  it('finds what a SIGKILLed listener of each mechanism left; clean --dry-run removes nothing; clean removes exactly the dead', async () => {
    const dead = objects('dead')
    const live = objects('alive').filter((o) => o.mechanism === 'unix' || o.mechanism === 'mq')
    const crashed = await hold(dead.map((o) => o.address))
    const survivor = await hold(live.map((o) => o.address))
    try {
      const sysvKey = native.ftokKey(dead.find((o) => o.mechanism === 'mq+sysv')!.name, SYSV_PROJ_ID)
      await stop(crashed, 'SIGKILL')
      for (const o of dead) expect(o.exists(), `${o.name} left by the crash`).toBe(true)
      expect(sysvQueueExists(sysvKey)).toBe(true)

      const items = await ls(token)
      for (const o of dead)
        expect(
          items.find((i) => i.name === o.name),
          o.name,
        ).toMatchObject({ mechanism: o.mechanism, kind: o.kind, alive: false })
      for (const o of live)
        expect(
          items.find((i) => i.name === o.name),
          o.name,
        ).toMatchObject({ alive: true, pid: survivor.pid })

      const dry = await ipc(['clean', token, '--dry-run', '--json'])
      expect(dry.code).toBe(0)
      const planned = JSON.parse(dry.stdout) as Array<{ outcome: string; item: { name: string } }>
      expect(planned.map((r) => r.item.name).sort()).toEqual(dead.map((o) => o.name).sort())
      expect(new Set(planned.map((r) => r.outcome))).toEqual(new Set(['would remove']))
      for (const o of dead) expect(o.exists(), `${o.name} kept by --dry-run`).toBe(true)

      const done = await ipc(['clean', token])
      expect(done.code, done.stderr).toBe(0)
      for (const o of dead) expect(done.stdout).toContain(`removed: ${o.mechanism} ${o.kind} ${o.name}`)
      for (const o of dead) expect(o.exists(), `${o.name} removed`).toBe(false)
      expect(sysvQueueExists(sysvKey)).toBe(false)
      for (const o of live) expect(o.exists(), `${o.name} (alive) kept`).toBe(true)
      expect((await ls(token)).map((i) => i.name).sort()).toEqual(live.map((o) => o.name).sort())
    } finally {
      await stop(survivor, 'SIGTERM')
    }
    expect(ledgerEntries()).toEqual([])
  })

  it('POSIX named semaphores: listed with who has them open; removed only with --semaphores, and only when open nowhere', async () => {
    const name = `/${token}sem`
    const file = `/dev/shm/sem.${name.slice(1)}`
    const holder = await hold([`posix-sem:${name}`])
    let items: Array<Record<string, unknown>>
    try {
      items = await ls(token, '--mechanism', 'sem-posix')
      expect(items).toMatchObject([{ mechanism: 'sem-posix', kind: 'semaphore', name, alive: true, pid: holder.pid }])
      expect(JSON.parse((await ipc(['clean', token, '--semaphores', '--json'])).stdout)).toEqual([]) // open: not a candidate
      expect(existsSync(file)).toBe(true)
    } finally {
      await stop(holder, 'SIGKILL')
    }
    items = await ls(token, '--mechanism', 'sem-posix')
    expect(items).toMatchObject([{ name, alive: false, note: 'open nowhere' }])
    expect(JSON.parse((await ipc(['clean', token, '--json'])).stdout)).toEqual([]) // not without --semaphores
    expect(existsSync(file)).toBe(true)
    const done = await ipc(['clean', token, '--semaphores'])
    expect(done.stdout).toContain(`removed: sem-posix semaphore ${name}`)
    expect(existsSync(file)).toBe(false)
  })

  it("a new listener of a crashed one's path takes it over: one ledger entry, alive, with the new pid", async () => {
    const address = `unix:${join(dir, 'again.sock')}`
    const first = await hold([address])
    await stop(first, 'SIGKILL')
    expect(await ls(token, '--mechanism', 'unix')).toMatchObject([{ alive: false }])
    const second = await hold([address])
    try {
      expect(ledgerEntries()).toHaveLength(1)
      expect(await ls(token, '--mechanism', 'unix')).toMatchObject([{ name: join(dir, 'again.sock'), alive: true, pid: second.pid }])
    } finally {
      await stop(second, 'SIGTERM')
    }
    expect(ledgerEntries()).toEqual([])
  })

  it('an entry whose file is gone (its folder removed after a crash) is dropped by the next listener anywhere', async () => {
    const gone = mkdtempSync(join(dir, 'gone-'))
    const first = await hold([`unix:${join(gone, 'x.sock')}`])
    await stop(first, 'SIGKILL')
    expect(ledgerEntries()).toHaveLength(1)
    rmSync(gone, { recursive: true, force: true })
    const other = await hold([`fifo:${join(dir, 'elsewhere')}`])
    try {
      expect(ledgerEntries().map((e) => readFileSync(join(ledgerDir(), e), 'utf8'))).toEqual([expect.stringContaining('"scheme":"fifo"')])
    } finally {
      await stop(other, 'SIGTERM')
    }
    expect(ledgerEntries()).toEqual([])
  })

  it('a ledger folder that is not owner-only is never used (the listener works, nothing is written there)', async () => {
    const open = mkdtempSync(join(tmpdir(), 'ipc-ledger-open-'))
    chmodSync(open, 0o755)
    const holder = await hold([`unix:${join(dir, 'unnoted.sock')}`], { IPC_LEDGER_DIR: open })
    try {
      expect(existsSync(join(dir, 'unnoted.sock'))).toBe(true)
      expect(readdirSync(open)).toEqual([])
    } finally {
      await stop(holder, 'SIGTERM')
      rmSync(open, { recursive: true, force: true })
    }
  })

  it('prints a table for people, and nothing-found plainly', async () => {
    const none = await ipc(['ls', `${token}-nothing`])
    expect(none).toMatchObject({ code: 0, stdout: 'nothing of the SDK here\n' })
    const holder = await hold([`unix:${join(dir, 'table.sock')}`])
    try {
      const shown = await ipc(['ls', token, '--mechanism', 'unix'])
      const [header, row] = shown.stdout.trimEnd().split('\n')
      expect(header.split(/\s+/)).toEqual(['MECHANISM', 'KIND', 'OWNER', 'PID', 'AGE', 'SIZE', 'NAME'])
      expect(row).toMatch(new RegExp(`^unix\\s+socket file\\s+alive\\s+${holder.pid}\\s+\\d+s\\s+`))
      expect(row).toContain(join(dir, 'table.sock'))
    } finally {
      await stop(holder, 'SIGTERM')
    }
  })
})
