import { afterAll } from 'vitest'
import { describeConformance } from '@ipc/core/testing'
import { socketFolder, socketTarget } from './targets.js'

const folder = socketFolder()
afterAll(() => folder.dispose())

describeConformance(socketTarget('unix (path)', folder.fresh, (a) => ({ path: a.slice('unix:'.length) }), folder.leftovers))

let abstract = 0
describeConformance(
  socketTarget(
    'unix (abstract)',
    () => `unix:@ipc-test-${process.pid}-${++abstract}`,
    (a) => ({ path: `\0${a.slice('unix:@'.length)}` }),
  ),
)

describeConformance(
  socketTarget(
    'tcp',
    () => 'tcp://127.0.0.1:0',
    (a) => {
      const m = /^tcp:\/\/([^:]+):(\d+)$/.exec(a)!
      return { host: m[1]!, port: Number(m[2]) }
    },
  ),
)
