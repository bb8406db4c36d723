/**
 * `@ipc/shm/handshake`: the connection machinery of `shm:` for sibling mechanism packages whose
 * segments differ (`@ipc/sem`'s `sem:`): rendezvous, sealed memfd, hello, doorbells and checks,
 * parametrised by a {@link SegmentFlavour}. Not for applications.
 *
 * @packageDocumentation
 */
export { connectSegment } from './connect.js'
export { FLAVOUR_WORDS, type SegmentFlavour, type SegmentLinkContext, type SegmentPlan } from './flavour.js'
export { listenSegment } from './listen.js'
export { RENDEZVOUS_DIR, rendezvousPath } from './rendezvous.js'
export { rendezvousLeftovers } from './leftovers.js'
export { HEADER_BYTES, MIN_CAPACITY, State, Word, encodeHello, offerWords, ringControl, segmentSize } from './wire.js'
