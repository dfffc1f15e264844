/**
 * Event queries (events_query, events_subscribe; docs/EVENTS.md). Events live in receipts
 * only, so a query scans committed blocks in order: there is no index. Each call scans a
 * bounded amount (EVENTS_SCAN_BLOCKS blocks, EVENTS_SCAN_TXS receipts) and returns at most
 * `limit` events plus a cursor to go on from; a page may hold fewer than `limit` events (or
 * none) and still have a cursor: the range is not finished until the cursor is null.
 */
import { toHex } from '../protocol/hex.js';
import type { Event } from '../protocol/receipt.js';
import { valueToJson } from '../protocol/value.js';
import { eventToJson, type EventJson } from '../protocol/receipt.js';
import type { CommittedBlock } from '../consensus/chain.js';
import type { PelNode } from './node.js';
import { invalidParams } from './rpc/errors.js';

export const EVENTS_DEFAULT_LIMIT = 100;
export const EVENTS_MAX_LIMIT = 1000;
/** Blocks and receipts one events_query call reads at most before it answers with a cursor. */
export const EVENTS_SCAN_BLOCKS = 2_000;
export const EVENTS_SCAN_TXS = 50_000;

export interface EventFilter {
  module?: string | undefined;
  name?: string | undefined;
  /** With `value`: that field must equal it; alone: the event must have that field. */
  field?: string | undefined;
  /** Without `field`: any field equal to it. */
  value?: string | undefined;
}

export interface EventQuery extends EventFilter {
  fromHeight?: number | undefined;
  toHeight?: number | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface EventHit extends EventJson {
  blockHeight: number;
  blockHash: string;
  txHash: string;
  txIndex: number;
  eventIndex: number;
}

/** A field value as text, the way the filter's `value` is compared: hex in lower case, numbers in decimal. */
function fieldText(v: Event['fields'][number]['value']): string {
  const j = valueToJson(v).value;
  return typeof j === 'string' ? (v.type === 'address' || v.type === 'bytes' ? j.toLowerCase() : j) : String(j);
}

/** A compiled filter: true when an event matches. */
export function eventMatcher(f: EventFilter): (e: Event) => boolean {
  const value = f.value === undefined ? undefined : /^0x[0-9a-fA-F]*$/.test(f.value) ? f.value.toLowerCase() : f.value;
  return (e) => {
    if (f.module !== undefined && e.module !== f.module) return false;
    if (f.name !== undefined && e.name !== f.name) return false;
    if (f.field === undefined && value === undefined) return true;
    for (const fl of e.fields) {
      if (f.field !== undefined && fl.name !== f.field) continue;
      if (value === undefined || fieldText(fl.value) === value) return true;
    }
    return false;
  };
}

function hit(b: CommittedBlock, txIndex: number, eventIndex: number, e: Event): EventHit {
  return { blockHeight: Number(b.block.header.height), blockHash: toHex(b.block.hash), txHash: toHex(b.block.txs[txIndex]!.hash), txIndex, eventIndex, ...eventToJson(e) };
}

/** The events of one block that match (events_subscribe). */
export function blockEvents(b: CommittedBlock, match: (e: Event) => boolean): EventHit[] {
  const out: EventHit[] = [];
  for (let i = 0; i < b.block.txs.length; i++) {
    const r = b.receipts.at(i);
    if (!r) continue;
    r.events.forEach((e, k) => {
      if (match(e)) out.push(hit(b, i, k, e));
    });
  }
  return out;
}

/** Cursor: "<height>.<txIndex>.<eventIndex>" of the next event to look at. Opaque to clients. */
const CURSOR = /^(0|[1-9][0-9]{0,15})\.(0|[1-9][0-9]{0,6})\.(0|[1-9][0-9]{0,6})$/;

function parseCursor(c: string): { height: number; tx: number; event: number } {
  const m = CURSOR.exec(c);
  if (!m || !Number.isSafeInteger(Number(m[1]))) throw invalidParams('filter.cursor is not a cursor from a previous events_query answer; leave it out to start from fromHeight', { reason: 'BAD_CURSOR' });
  return { height: Number(m[1]), tx: Number(m[2]), event: Number(m[3]) };
}

export async function queryEvents(node: PelNode, q: EventQuery): Promise<{ events: EventHit[]; cursor: string | null; fromHeight: number; toHeight: number; scannedTo: number | null }> {
  const head = Number(node.chain.height);
  const limit = q.limit ?? EVENTS_DEFAULT_LIMIT;
  const toHeight = Math.min(q.toHeight ?? head, head);
  const fromHeight = q.fromHeight ?? 0;
  if (q.toHeight !== undefined && fromHeight > q.toHeight) throw invalidParams(`filter.fromHeight (${fromHeight}) is above filter.toHeight (${q.toHeight})`, { reason: 'BAD_RANGE' });
  let pos = { height: fromHeight, tx: 0, event: 0 };
  if (q.cursor !== undefined) {
    pos = parseCursor(q.cursor);
    if (pos.height < fromHeight) throw invalidParams('filter.cursor lies before filter.fromHeight: send the same filter with the cursor', { reason: 'BAD_CURSOR' });
  }
  const match = eventMatcher(q);
  const events: EventHit[] = [];
  let blocks = 0;
  let txs = 0;
  let scannedTo: number | null = null;
  for (let h = pos.height; h <= toHeight; h++) {
    if (blocks >= EVENTS_SCAN_BLOCKS || txs >= EVENTS_SCAN_TXS) {
      return { events, cursor: `${h}.0.0`, fromHeight, toHeight, scannedTo };
    }
    const b = await node.chain.getBlock(BigInt(h));
    if (!b) break;
    blocks++;
    const n = b.block.txs.length;
    for (let i = h === pos.height ? pos.tx : 0; i < n; i++) {
      txs++;
      const r = b.receipts.at(i);
      if (!r) continue;
      const evs = r.events;
      for (let k = h === pos.height && i === pos.tx ? pos.event : 0; k < evs.length; k++) {
        if (!match(evs[k]!)) continue;
        if (events.length === limit) return { events, cursor: `${h}.${i}.${k}`, fromHeight, toHeight, scannedTo };
        events.push(hit(b, i, k, evs[k]!));
      }
    }
    scannedTo = h;
  }
  return { events, cursor: null, fromHeight, toHeight, scannedTo };
}
