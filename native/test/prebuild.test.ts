// Installing @ipc/native on a machine without a compiler: the package as published (`pnpm pack`,
// with the prebuild `pnpm run prebuilds` made) is installed into a project outside the workspace by
// pnpm, offline, with its install script allowed, on a PATH holding only `node` and `sh` (no cc, c++,
// g++, make or python; CC/CXX are /bin/false). The addon must load from prebuilds/ and work; the
// same tarball without prebuilds/ must fall back to node-gyp (and fail here, for want of a compiler).
// The dependencies (node-gyp-build, node-gyp, node-addon-api) are linked to the workspace's copies,
// so no registry is needed.
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FIXTURES } from './helpers.js'

const NATIVE = join(dirname(fileURLToPath(import.meta.url)), '..')
const PREBUILDS = join(NATIVE, 'prebuilds', `linux-${process.arch}`)
const require = createRequire(join(NATIVE, 'package.json'))
/** The workspace's pnpm (a project outside the workspace names it, so corepack uses the cached one). */
const PACKAGE_MANAGER = JSON.parse(readFileSync(join(NATIVE, '..', 'package.json'), 'utf8')).packageManager as string

/** How to run pnpm with `node` alone: its JS entry (npm_execpath under `pnpm run`, else the corepack shim on PATH). */
function pnpmEntry(): string {
  const execpath = process.env.npm_execpath
  if (execpath && /pnpm\.c?js$/.test(execpath)) return execpath
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir, 'pnpm')
    if (existsSync(file) && readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node')) return file
  }
  throw new Error('pnpm not found: run the tests with pnpm (pnpm test)')
}

describe('installing without a compiler', () => {
  const pnpm = pnpmEntry()
  const work = mkdtempSync(join(tmpdir(), 'ipc-native-install-'))
  const bin = join(work, 'bin')
  let tarball = ''
  let bare = ''
  let store = ''

  // Only node and sh: what a machine without build tools has.
  const env = {
    PATH: bin,
    HOME: process.env.HOME ?? work,
    TMPDIR: tmpdir(),
    CC: '/bin/false',
    CXX: '/bin/false',
    CI: 'true',
  }

  function install(name: string, pkgTarball: string) {
    const project = join(work, name)
    mkdirSync(project)
    const link = (dep: string) => `link:${realpathSync(dirname(require.resolve(`${dep}/package.json`)))}`
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({
        name: `install-${name}`,
        private: true,
        type: 'module',
        packageManager: PACKAGE_MANAGER,
        dependencies: { '@ipc/native': `file:${pkgTarball}` },
      }),
    )
    writeFileSync(
      join(project, 'pnpm-workspace.yaml'),
      ['dangerouslyAllowAllBuilds: true', 'overrides:', ...['node-gyp-build', 'node-gyp', 'node-addon-api'].map((dep) => `  ${dep}: '${link(dep)}'`), ''].join(
        '\n',
      ),
    )
    const run = spawnSync(process.execPath, [pnpm, 'install', '--offline', `--store-dir=${store}`, '--reporter=append-only'], {
      cwd: project,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    })
    return { project, status: run.status, output: `${run.stdout}${run.stderr}` }
  }

  beforeAll(() => {
    mkdirSync(bin)
    symlinkSync(process.execPath, join(bin, 'node'))
    symlinkSync('/bin/sh', join(bin, 'sh'))
    store = execFileSync(process.execPath, [pnpm, 'store', 'path'], { cwd: NATIVE, encoding: 'utf8' }).trim()
    const packed = join(work, 'packed')
    execFileSync(process.execPath, [pnpm, 'pack', `--pack-destination=${packed}`], { cwd: NATIVE, stdio: 'ignore' })
    tarball = join(packed, readdirSync(packed).find((f) => f.endsWith('.tgz'))!)
    // the same package without its prebuilds
    const unpacked = join(work, 'unpacked')
    mkdirSync(unpacked)
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked])
    rmSync(join(unpacked, 'package', 'prebuilds'), { recursive: true })
    bare = join(work, 'bare.tgz')
    execFileSync('tar', ['-czf', bare, '-C', unpacked, 'package'])
  }, 60_000)

  afterAll(() => rmSync(work, { recursive: true, force: true }))

  it('this PATH has no compiler, make or python', () => {
    for (const tool of ['cc', 'c++', 'gcc', 'g++', 'make', 'python', 'python3']) {
      const found = spawnSync('sh', ['-c', `command -v ${tool}`], { env, encoding: 'utf8' })
      expect(found.stdout, tool).toBe('')
    }
  })

  it('the tarball carries the prebuild (glibc-tagged, Node-API) beside the sources', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n')
    const built = readdirSync(PREBUILDS)
    expect(built).toEqual(['@ipc+native.glibc.node'])
    expect(files).toContain(`package/prebuilds/linux-${process.arch}/@ipc+native.glibc.node`)
    expect(files).toContain('package/dist/index.js')
    expect(files).toContain('package/binding.gyp')
    expect(files.filter((f) => f.startsWith('package/build/'))).toEqual([])
  })

  it('installs, loads the addon from prebuilds/ and works', () => {
    const { project, status, output } = install('with-prebuild', tarball)
    expect(status, output).toBe(0)
    expect(output).not.toMatch(/gyp (info|ERR!)/)
    copyFileSync(join(FIXTURES, 'installed.mjs'), join(project, 'check.mjs'))
    const check = spawnSync(process.execPath, ['check.mjs'], { cwd: project, env, encoding: 'utf8', timeout: 30_000 })
    expect(check.status, check.stderr).toBe(0)
    const result = JSON.parse(check.stdout)
    expect(result.loaded).toMatch(new RegExp(`/node_modules/@ipc/native/prebuilds/linux-${process.arch}/@ipc\\+native\\.glibc\\.node$`))
    expect(result.compiled).toBe(false)
    expect(result.echoed).toBe('through the prebuild')
    expect(result.watched).toBeGreaterThan(0)
    expect(result.node).toBe(process.version)
  }, 60_000)

  it('without a prebuild the install falls back to building from source (and fails here: no compiler)', () => {
    const { project, status, output } = install('without-prebuild', bare)
    expect(status).not.toBe(0)
    expect(output).toMatch(/node-gyp\.js rebuild/) // gyp.cjs found nothing loadable and ran node-gyp
    expect(output).toMatch(/gyp ERR! find Python/) // which stops at the first missing tool
    expect(output).toMatch(/ERR_PNPM_LIFECYCLE|ELIFECYCLE|install: Failed/)
    expect(existsSync(join(project, 'node_modules', '@ipc', 'native', 'prebuilds'))).toBe(false)
  }, 60_000)
})
