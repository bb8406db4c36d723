/**
 * `@ipc/core` — what every ipc transport shares: the {@link Transport} and {@link Listener}
 * contracts, the {@link Link} contract a mechanism implements, codecs, framing, batching and
 * backpressure, errors, and the address registry behind {@link connect} / {@link listen}.
 *
 * Import a mechanism package (`@ipc/socket`, `@ipc/pipe`, …) to register its address scheme(s).
 *
 * @packageDocumentation
 */
export { type Address, parseAddress, parseSize, parseBoolean } from './address.js'
export { type Codec, type CodecOption, type MsgpackCodecOptions, type SharedEncoding, msgpack, json, raw, resolveCodec } from './codec.js'
export { IpcError, type IpcErrorCode, type IpcErrorOptions, isIpcError, fromErrno } from './errors.js'
export { CONTROL_BIT, FrameDecoder, FRAME_HEADER_BYTES, GOODBYE, MAX_FRAME, writeFrameHeader } from './framing.js'
export type { CloseReason, Link, LinkEnd, LinkEvents, PeerInfo } from './link.js'
export { type Listener, type ListenerControl, type ListenerSource, createListener } from './listener.js'
export { checkMsgpack } from './msgpack-guard.js'
export { Outbox, cutIntoUnits } from './outbox.js'
export { type ConnectOptions, type ListenOptions, type SchemeHandler, connect, listen, registerScheme, registeredSchemes } from './registry.js'
export { type Procedures, type RpcClient, type RpcReply, type RpcRequest, client, serve } from './rpc.js'
export type { StandardSchemaV1 } from './schema.js'
export { type ExitWatcher, type OpenExitWatcher, type ProcessWatch, classifyProcessEnd, processAlive, processBound } from './process-end.js'
export { type StreamLinkOptions, classifyStreamEnd, streamLink } from './stream-link.js'
export {
  type CloseInfo,
  type ReceiveOptions,
  type SendOptions,
  type Transport,
  type TransportOptions,
  type TransportStats,
  createTransport,
  resolveTransportOptions,
} from './transport.js'
export { type WaitOptions, withWait } from './waits.js'
