// Runs before the tests: nats-server is needed; install it where we can, fail with the command otherwise.
import { ensureServer, serverBinary } from './broker.js'

export default function setup(): void {
  ensureServer()
  serverBinary() // throws with the install command when it is still missing
}
