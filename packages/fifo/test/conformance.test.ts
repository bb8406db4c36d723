import { afterAll } from 'vitest'
import { describeConformance } from '@ipc/core/testing'
import { fifoFolder, fifoTarget } from './targets.js'

const folder = fifoFolder()
afterAll(() => folder.dispose())

describeConformance(fifoTarget(folder))
