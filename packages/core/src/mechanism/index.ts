/**
 * `@ipc/core/mechanism` — the kit every mechanism package is built from: the {@link Link}
 * contract and the engine that turns a link into a `Transport` ({@link createTransport}), the
 * listener ({@link createListener}), the stream link for fd-based mechanisms ({@link streamLink}),
 * option parsers, liveness marks, and the small helpers each mechanism would otherwise write again.
 * Applications never need this entry; see `docs/adding-a-mechanism.md`.
 *
 * @packageDocumentation
 */
export type { Address } from '../address.js'
export { parseSize } from '../address.js'
export { debug, quietly } from '../debug.js'
export { IpcError, fromErrno } from '../errors.js'
export { CONTROL_BIT, FRAME_HEADER_BYTES, GOODBYE, MAX_FRAME, encodeFrame, writeFrameHeader } from '../framing.js'
export type { CloseReason, Link, LinkEnd, LinkEvents, PeerInfo } from '../link.js'
export { DEFAULT_BACKLOG, type ListenerControl, type ListenerSource, createListener } from '../listener.js'
export { type OptionParser, type OptionParsers, count, duration, flag, oneOf, parseOptions, size } from '../options.js'
export {
  EXIT_EOF_GRACE_MS,
  type ExitWatcher,
  type OpenExitWatcher,
  type ProcessWatch,
  classifyProcessEnd,
  processAlive,
  processBound,
} from '../process-end.js'
export { COMMON_OPTIONS, type SchemeHandler, loadScheme, registerScheme, schemeHandler } from '../registry.js'
export { type StreamLinkOptions, classifyStreamEnd, streamLink } from '../stream-link.js'
export { DEFAULT_HIGH_WATER_MARK, DEFAULT_MAX_MESSAGE, createTransport, resolveTransportOptions } from '../transport.js'
export { type WaitOptions, Waiters, abortError, armWait, checkTimeout, refusedWait, timeoutError, withWait } from '../waits.js'
export { HeldUnits } from './held-units.js'
export { type LedgerEntry, type LedgerNote, type LedgerRecord, forgetRecord, ledgerDir, noteRendezvous, readLedger } from './ledger.js'
export { type Leftover, descriptorHolders, deviceText, flockHolders, lockKey, mappingHolders, staleEntry } from './leftovers.js'
export { HelloPump } from './hello-pump.js'
export { softLimit } from './limits.js'
export { LineSplitter, decodeLine, encodeLine } from './lines.js'
export { reportEnd } from './link-end.js'
export { type MarkNatives, type MarkSharing, markSharing } from './mark-sharing.js'
export { OWNER_ONLY_DIR_MODE, OWNER_ONLY_MODE, type Ownership, assertOwnerOnly, isOwnerOnly } from './owner.js'
export { type ProcessStreamLinkOptions, processStreamLink } from './process-link.js'
export { closeAllQuietly, closeQuietly, removeFolderQuietly, unlinkQuietly } from './quiet.js'
export { type SessionCarrier, type SessionCarrierEvents, type SessionOptions, sessionLink } from './session-link.js'
export { ANSWER_WANTED, SESSION_HEADER, UNIT, type UnitHeader, decodeUnit, encodeUnit, seqDiff } from './session-wire.js'
export {
  DEFAULT_INITIAL_DELAY,
  DEFAULT_MAX_DELAY,
  DEFAULT_MAX_RETRY_TIME,
  type RetryInfo,
  type RetryOptions,
  backoffDelay,
  retryWithBackoff,
} from '../retry.js'
export {
  MARK_REF_BYTES,
  type MarkRef,
  type MarkWatch,
  type OpenMarkWatcher,
  formatMarkRef,
  parseMarkRef,
  readMarkRef,
  watchMark,
  writeMarkRef,
} from './liveness.js'
