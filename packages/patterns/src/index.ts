/**
 * `@ipc/patterns` — the shapes applications build on the ipc `Transport`, over every mechanism,
 * on `@ipc/core`'s application API only: RPC v2 ({@link serve}, {@link client}) — deadlines that
 * travel with the call and reach the handler, cancellation, validation with any Standard Schema
 * validator, remote failures as {@link RpcError}, streams, notifications, metadata, bounded
 * concurrency; publish/subscribe ({@link publisher}, {@link subscriber}) with NATS-style topic
 * wildcards and a policy per slow subscriber; work queues ({@link pusher}, {@link puller}) with
 * credit and redelivery.
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
export {
  type Delivery,
  type Publisher,
  type PublisherOptions,
  type PublisherStats,
  type SlowPolicy,
  type Subscriber,
  type SubscriberOptions,
  type SubscriberStats,
  publisher,
  subscriber,
} from './pubsub.js'
export { MAX_TOPIC_LENGTH } from './topics.js'
export {
  type Job,
  type Puller,
  type PullerOptions,
  type PullerStats,
  type Pusher,
  type PusherOptions,
  type PusherStats,
  puller,
  pusher,
} from './pipeline.js'
