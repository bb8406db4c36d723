import { describeConformance } from '@ipc/core/testing'
import { semNames, semTarget } from './targets.js'

describeConformance(semTarget(semNames('kit')))
