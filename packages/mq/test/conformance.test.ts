import { describeConformance } from '@ipc/core/testing'
import { mqTarget, mqueueVisible } from './targets.js'

mqueueVisible()
describeConformance(mqTarget())
