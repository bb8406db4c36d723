import { describeConformance } from '@ipc/core/testing'
import { afterAll } from 'vitest'
import { Broker } from './broker.js'
import { natsTarget } from './targets.js'

const broker = await Broker.start()
afterAll(() => broker.stop())

describeConformance(natsTarget(broker))
