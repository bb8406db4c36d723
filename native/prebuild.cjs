#!/usr/bin/env node
// Makes the prebuilt binaries with prebuildify: prebuilds/linux-<arch>/@ipc+native.glibc.node for
// this machine's arch and, when a cross compiler for the other one is on PATH (Debian's
// g++-aarch64-linux-gnu on x64), for that arch too. Node-API (NAPI_VERSION=8): one binary per
// platform serves every Node version; tagged with the C library, so node-gyp-build on musl never
// takes a glibc binary (it builds from source there).
// The sources are compiled in a copy (.prebuild/), so build/ (the development build) is untouched.
// Node's headers are taken from beside the running node when they are there (no download).
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const prebuildify = require('prebuildify')

if (process.platform !== 'linux') {
  console.error('prebuilds are made on Linux')
  process.exit(1)
}
if (fs.existsSync('/etc/alpine-release')) {
  console.error('prebuilds are made on a glibc system (musl installs build from source)')
  process.exit(1)
}

const here = __dirname
const stage = path.join(here, '.prebuild')
const only = process.argv.slice(2) // e.g. `node prebuild.cjs x64`: that arch only

const toolchains = {
  x64: 'x86_64-linux-gnu-',
  arm64: 'aarch64-linux-gnu-',
}
const onPath = (file) =>
  (process.env.PATH || '').split(':').some((dir) => {
    try {
      fs.accessSync(path.join(dir || '.', file), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })

const base = { ...process.env } // prebuildify hands node-gyp process.env (node-gyp reads npm_config_nodedir)
const prefix = path.resolve(path.dirname(process.execPath), '..')
if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) base.npm_config_nodedir = prefix

function stageSources() {
  fs.rmSync(stage, { recursive: true, force: true })
  fs.mkdirSync(stage)
  fs.cpSync(path.join(here, 'src'), path.join(stage, 'src'), { recursive: true })
  fs.copyFileSync(path.join(here, 'binding.gyp'), path.join(stage, 'binding.gyp'))
  const { name, version } = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8'))
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify({ name, version, private: true }))
}

function build(arch) {
  const cross = arch !== os.arch()
  const t = toolchains[arch]
  const cc = cross ? { CC: `${t}gcc`, CXX: `${t}g++`, LINK: `${t}g++`, AR: `${t}ar` } : {}
  for (const k of Object.keys(process.env)) delete process.env[k]
  Object.assign(process.env, base, cc)
  stageSources()
  fs.rmSync(path.join(here, 'prebuilds', `linux-${arch}`), { recursive: true, force: true })
  return new Promise((resolve, reject) => {
    prebuildify(
      {
        cwd: stage,
        out: here,
        arch,
        napi: true,
        strip: true,
        tagLibc: true,
        libc: 'glibc',
        targets: [process.versions.node],
        stripBin: cross ? `${t}strip` : 'strip',
        nodeGyp: require.resolve('node-gyp/bin/node-gyp.js'),
      },
      (err) => (err ? reject(err) : resolve()),
    )
  }).then(() => {
    const dir = path.join(here, 'prebuilds', `linux-${arch}`)
    for (const f of fs.readdirSync(dir)) console.log(`prebuilds/linux-${arch}/${f}${cross ? ' (cross-compiled)' : ''}`)
  })
}

async function main() {
  const arches = [os.arch()]
  for (const [arch, t] of Object.entries(toolchains)) {
    if (arch === os.arch()) continue
    if (onPath(`${t}g++`)) arches.push(arch)
    else if (only.length === 0) console.log(`no ${t}g++ on PATH: no prebuild for linux-${arch} (it builds from source on install)`)
  }
  if (only.length === 0) fs.rmSync(path.join(here, 'prebuilds'), { recursive: true, force: true }) // none left from an earlier run
  try {
    for (const arch of arches) if (only.length === 0 || only.includes(arch)) await build(arch)
  } finally {
    fs.rmSync(stage, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err.message || err)
  process.exit(1)
})
