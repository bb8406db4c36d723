import { defineConfig } from 'vitest/config'

// One file at a time: POSIX queues count against a small per-user limit (RLIMIT_MSGQUEUE, about
// nine default-sized queues), which parallel files would exhaust.
export default defineConfig({
  test: { pool: 'forks', include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 30_000, fileParallelism: false },
})
