/**
 * `@ipc/pipe` — anonymous pipes between a parent and the child it spawns, behind the ipc
 * {@link Transport}. Real `pipe2()` pipes (one per direction), not the socketpair that Node's
 * `stdio: 'pipe'` gives, passed to the child beside its stdio, which stays free for you.
 *
 * - Parent: `const { child, transport } = spawn(command, args, options)`.
 * - Child: `const transport = fromParent(options)`.
 *
 * Each side watches the other process through a pidfd, so an exit, even by SIGKILL, closes the
 * transport with `'peer-exited'` at once.
 *
 * @packageDocumentation
 */
export { PIPE_ENV, type PipeChild, type PipeSpawnOptions, fromParent, spawn } from './spawn.js'
