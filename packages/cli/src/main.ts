#!/usr/bin/env node
/** The `ipc` command. `ipc help` lists the commands. */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { IpcError } from '@ipc/core'
import { bench } from './bench.js'
import { clean } from './clean.js'
import { doctor } from './doctor.js'
import { type Leftover, inventory } from './inventory.js'
import { listen } from './listen.js'
import { send } from './send.js'
import { age, bytes, table } from './table.js'

const USAGE = `usage: ipc <command> [options]

  ls [text] [--json] [--mechanism m]   the SDK's kernel objects and rendezvous files of this user:
                                       owner pid, alive or not, age, size (text: names containing it)
  clean [text] [--dry-run] [--semaphores] [--json]
                                       remove those whose owner is dead (never a live one);
                                       --semaphores: also POSIX named semaphores open nowhere
  doctor [--json]                      the kernel limits that matter, what they allow, how to raise them
  bench [names…] [--quick]             the benchmark of an ipc checkout (names: unix, shm, net-cork, …)
  send <address> [json…] [--codec c] [--count n] [--wait ms] [--timeout ms]
                                       send the messages (else one per line of stdin), print replies
  listen <address> [--codec c] [--echo] [--count n]
                                       print what arrives; stdin lines go to every connection
  help | --version

Messages are JSON; {"$bytes": "<base64>"}, {"$bigint": "1"} and {"$map": [[k, v]]} stand for
what JSON has no word for. --codec: msgpack (the SDK's default), json or raw.`

class Usage extends Error {}

function number(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 0) throw new Usage(`${what} must be a whole number, got ${value}`)
  return n
}

function codec(value: string | undefined): 'msgpack' | 'json' | 'raw' | undefined {
  if (value === undefined || value === 'msgpack' || value === 'json' || value === 'raw') return value
  throw new Usage(`--codec is msgpack, json or raw, got ${value}`)
}

function shown(l: Leftover): Omit<Leftover, 'remove'> {
  const { remove: _remove, ...rest } = l
  return rest
}

function lsTable(items: Leftover[]): string {
  if (items.length === 0) return 'nothing of the SDK here'
  return table(
    ['MECHANISM', 'KIND', 'OWNER', 'PID', 'AGE', 'SIZE', 'NAME'],
    items.map((l) => [
      l.mechanism,
      l.kind,
      l.alive ? 'alive' : 'dead',
      l.pid === undefined ? '-' : String(l.pid),
      age(l.since),
      bytes(l.size),
      [l.name, l.address && l.address !== l.name ? `(${l.address})` : '', l.note ? `— ${l.note}` : ''].filter(Boolean).join(' '),
    ]),
  )
}

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  const out = (text: string): boolean => process.stdout.write(`${text}\n`)
  switch (command) {
    case 'ls': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { json: { type: 'boolean' }, mechanism: { type: 'string', multiple: true } },
      })
      const items = await inventory({ match: positionals[0], mechanisms: values.mechanism })
      out(values.json ? JSON.stringify(items.map(shown), null, 2) : lsTable(items))
      return 0
    }
    case 'clean': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { 'dry-run': { type: 'boolean' }, semaphores: { type: 'boolean' }, json: { type: 'boolean' }, mechanism: { type: 'string', multiple: true } },
      })
      const results = await clean({ match: positionals[0], mechanisms: values.mechanism, dryRun: values['dry-run'], semaphores: values.semaphores })
      if (values.json)
        out(
          JSON.stringify(
            results.map((r) => ({ ...r, item: shown(r.item) })),
            null,
            2,
          ),
        )
      else if (results.length === 0) out('nothing to clean')
      else for (const r of results) out(`${r.outcome}: ${r.item.mechanism} ${r.item.kind} ${r.item.name}${r.error ? ` (${r.error})` : ''}`)
      return results.some((r) => r.outcome === 'failed') ? 1 : 0
    }
    case 'doctor': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } } })
      const rows = doctor()
      if (values.json) out(JSON.stringify(rows, null, 2))
      else for (const r of rows) out(`${r.limit} = ${r.value}\n    ${r.means}\n    raise: ${r.raise}`)
      return 0
    }
    case 'bench':
      return bench(rest)
    case 'send': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { codec: { type: 'string' }, count: { type: 'string' }, wait: { type: 'string' }, timeout: { type: 'string' } },
      })
      const [address, ...messages] = positionals
      if (address === undefined) throw new Usage('ipc send needs an address')
      await send(
        address,
        messages.length > 0 ? messages : undefined,
        {
          codec: codec(values.codec),
          count: number(values.count, '--count'),
          wait: number(values.wait, '--wait'),
          timeout: number(values.timeout, '--timeout'),
        },
        process.stdin,
        process.stdout,
      )
      return 0
    }
    case 'listen': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { codec: { type: 'string' }, count: { type: 'string' }, echo: { type: 'boolean' } },
      })
      if (positionals.length !== 1) throw new Usage('ipc listen needs one address')
      const stop = new AbortController()
      const onSignal = (): void => stop.abort()
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      await listen(
        positionals[0],
        { codec: codec(values.codec), count: number(values.count, '--count'), echo: values.echo, signal: stop.signal },
        process.stdin,
        process.stdout,
        process.stderr,
      )
      return 0
    }
    case '--version':
    case 'version': {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
      out(pkg.version)
      return 0
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(USAGE)
      return command === undefined ? 2 : 0
    default:
      throw new Usage(`unknown command ${command}`)
  }
}

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0) // the reader went away (ipc ls | head)
  throw err
})

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
    process.stdin.destroy() // a listen/send that read standard input is done with it
  },
  (err: unknown) => {
    if (err instanceof Usage || (err as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`ipc: ${(err as Error).message}\n\n${USAGE}\n`)
      process.exitCode = 2
    } else if (err instanceof IpcError) {
      process.stderr.write(`ipc: ${err.code}: ${err.message}\n`)
      process.exitCode = 1
    } else {
      process.stderr.write(`ipc: ${(err as Error)?.stack ?? err}\n`)
      process.exitCode = 1
    }
  },
)
