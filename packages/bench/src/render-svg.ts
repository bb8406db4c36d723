/** `node dist/render-svg.js`: draws `results/latest.svg` again from `results/latest.json` (and the newest C floor results). */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import type { Row } from './common.js'
import { distFile } from './common.js'
import { readFloor } from './floor.js'
import { benchSvg } from './svg.js'

const json = distFile('../results/latest.json')
const rows = JSON.parse(readFileSync(json, 'utf8')) as Row[]
const out = distFile('../results/latest.svg')
writeFileSync(`${out}.tmp`, benchSvg(rows, readFloor(), `ipc bench: ${statSync(json).mtime.toISOString().slice(0, 10)}, ${rows.length} cells`))
renameSync(`${out}.tmp`, out)
process.stdout.write(`wrote ${out}\n`)
