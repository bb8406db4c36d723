#!/usr/bin/env node
// Builds the addon with node-gyp. `node gyp.cjs install` (the npm install hook) does nothing when a
// prebuild or an earlier build loads; `node gyp.cjs build` always (re)builds, incrementally.
// Node's headers are taken from beside the running node when they are there, so no download is needed.
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const mode = process.argv[2] || 'install'
if (process.platform !== 'linux') process.exit(0) // importing a mechanism reports ERR_IPC_UNSUPPORTED

if (mode === 'install') {
  try {
    require('node-gyp-build')(__dirname)
    process.exit(0)
  } catch {
    // nothing loadable: build below
  }
}

const gyp = require.resolve('node-gyp/bin/node-gyp.js')
const extra = []
const prefix = path.resolve(path.dirname(process.execPath), '..')
if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) extra.push(`--nodedir=${prefix}`)
const configured = fs.existsSync(path.join(__dirname, 'build', 'Makefile'))
const run = (args) => execFileSync(process.execPath, [gyp, ...args, ...extra], { cwd: __dirname, stdio: ['ignore', 'ignore', 'inherit'] })
if (!configured || mode === 'install') run(['rebuild'])
else run(['build'])
