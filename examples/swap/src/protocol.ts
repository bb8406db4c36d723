/**
 * The service's contract: typed procedures, shared by the service and its callers. Nothing here
 * knows which transport carries the calls.
 */
import { createHash } from 'node:crypto'

export interface Order {
  sku: string
  quantity: number
  unitCents: number
}

export const procedures = {
  /** The cheapest call: for round-trip times. */
  ping: (seq: number) => seq,
  /** Prices an order. */
  quote: (order: Order) => ({ sku: order.sku, totalCents: order.quantity * order.unitCents }),
  /** Upper-cases a text. */
  shout: (text: string) => text.toUpperCase(),
  /** SHA-256 of a binary payload, hex. */
  digest: (data: Uint8Array) => createHash('sha256').update(data).digest('hex'),
}

export type Procedures = typeof procedures
