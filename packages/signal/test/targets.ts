import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)
/** The built entry of this package, for peer processes and Workers. */
export const ENTRY = join(dirname(require.resolve('@ipc/signal/package.json')), 'dist', 'index.js')
