// The tests' nats-server: the package's own (src/server.ts).
export { Broker, type BrokerOptions, ensureServer, serverBinary } from '../src/server.js'
