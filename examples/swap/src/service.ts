/**
 * The service process. It dials the address it is given (`unix:…`, `tcp://…`, `pipe:`, …) and
 * serves the procedures there; the same code for every transport. It imports no mechanism:
 * `connect()` loads the package that serves the address's scheme.
 */
import { connect } from '@ipc/core'
import { serve } from '@ipc/patterns'
import { procedures } from './protocol.js'

const address = process.argv[2]
if (!address) throw new Error('usage: service <address>')
const transport = await connect(address)
await serve(transport, procedures)
