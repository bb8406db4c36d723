import { describeConformance } from '@ipc/core/testing'
import { shmNames, shmTarget } from './targets.js'

describeConformance(shmTarget(shmNames('kit')))
