import { describeConformance } from '@ipc/core/testing'
import { mqTarget, mqueueVisible } from './targets.js'

// The kit's 500-client burst runs at the default queue shapes: the 500 connections of one process
// share one reply queue (see the README), so it needs two queues, not 501 (which would exceed both
// fs.mqueue.queues_max, 256 without CAP_SYS_RESOURCE, and RLIMIT_MSGQUEUE, ~9 default queues).
mqueueVisible()
describeConformance(mqTarget())
