// Native -> JS callbacks: in a live environment an exception thrown by a callback is reported as
// an uncaught exception (as a callback of Node's own would be), on the event-loop path (uv_poll)
// and the thread path (thread-safe function).
import { describe, expect, it } from 'vitest'
import { DIST, QueueDir, run } from './helpers.js'

async function uncaught(body: string): Promise<string> {
  const script = `
    const { native } = await import(${JSON.stringify(DIST)})
    process.on('uncaughtException', (e) => { console.log('uncaught ' + e.message); process.exit(0) })
    ${body}
  `
  const { code, stdout, stderr } = await run(['--input-type=module', '-e', script], 10_000)
  expect(stderr).toBe('')
  expect(code).toBe(0)
  return stdout
}

describe('callbacks', () => {
  it('an exception thrown by an FdWatcher callback is an uncaught exception', async () => {
    const out = await uncaught(`
      const [r, w] = native.pipe2(native.O_NONBLOCK)
      new native.FdWatcher(w, () => { throw new Error('from onReady') }).start(native.WRITABLE)
    `)
    expect(out).toBe('uncaught from onReady\n')
  })

  it('an exception thrown by a MarkWatcher callback is an uncaught exception', async () => {
    const out = await uncaught(`
      const mark = new native.LivenessMark()
      new native.MarkWatcher(mark.pid, mark.fd, mark.ino, () => { throw new Error('from onGone') }).ref()
      mark.release()
    `)
    expect(out).toBe('uncaught from onGone\n')
  })

  it('an exception thrown by a SysvReceiver callback is an uncaught exception', async () => {
    const queues = new QueueDir()
    try {
      const q = queues.queue()
      const out = await uncaught(`
        native.msgSend(${q}, 3, Buffer.from('x'))
        new native.SysvReceiver(${q}, 3, 64, () => { throw new Error('from onBatch') })
      `)
      expect(out).toBe('uncaught from onBatch\n')
    } finally {
      queues.remove()
    }
  })
})
