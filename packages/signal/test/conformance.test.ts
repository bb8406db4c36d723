import { describeConformance } from '@ipc/core/testing'
import { signalTarget } from './targets.js'

describeConformance(signalTarget())
