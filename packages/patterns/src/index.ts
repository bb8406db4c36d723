/**
 * `@ipc/patterns` — the shapes applications build on the ipc `Transport`, over every mechanism,
 * on `@ipc/core`'s application API only. This release: RPC v2 ({@link serve}, {@link client}) —
 * deadlines that travel with the call and reach the handler, cancellation, validation with any
 * Standard Schema validator, remote failures as {@link RpcError}, notifications, metadata, and
 * bounded concurrency.
 *
 * @packageDocumentation
 */
export {
  type ArgOf,
  type CallContext,
  type CallOptions,
  type HandlerOf,
  type Procedure,
  type Procedures,
  type ResultOf,
  type RpcClient,
  type ServeOptions,
  type StreamItem,
  type StreamOptions,
  client,
  serve,
} from './rpc.js'
export { RpcError, type RpcStatus, isRpcError } from './rpc-error.js'
