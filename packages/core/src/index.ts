/**
 * `@ipc/core` — the application API of the ipc SDK: {@link connect} / {@link listen} by address
 * string, the {@link Transport} and {@link Listener} contracts, codecs, errors, and typed RPC.
 *
 * The package that serves an address's scheme (`@ipc/socket` for `unix:`, `@ipc/fifo` for
 * `fifo:`, …) is imported on first use when it is installed; importing it yourself works too.
 * Mechanism authors build on `@ipc/core/mechanism`; `@ipc/core/testing` is the conformance kit.
 *
 * @packageDocumentation
 */
export { type Address, parseAddress } from './address.js'
export { type Codec, type CodecOption, type MsgpackCodecOptions, type SharedEncoding, msgpack, json, raw } from './codec.js'
export { IPC_CHANNELS, type IpcCloseMessage, type IpcConnectMessage, type IpcErrorMessage, type IpcListenMessage } from './diagnostics.js'
export { IpcError, type IpcErrorCode, type IpcErrorOptions, isIpcError } from './errors.js'
export type { CloseReason, PeerInfo } from './link.js'
export type { Listener, ListenerStats } from './listener.js'
export { memoryPair } from './memory-link.js'
export { type ConnectOptions, type ListenOptions, SCHEME_PACKAGES, connect, listen, registeredSchemes } from './registry.js'
export { type Procedures, type RpcClient, type RpcReply, type RpcRequest, client, serve } from './rpc.js'
export type { StandardSchemaV1 } from './schema.js'
export type { CloseInfo, ReceiveOptions, SendOptions, Transport, TransportOptions, TransportStats } from './transport.js'
export type { WaitOptions } from './waits.js'
