/**
 * Receipts and events.
 * receipt = u8 status (1 success, 0 failed) | name errorCode ("" on success) | u64 gasUsed
 *           | u128 fee | u16 eventCount | event*
 * event   = name module | name name | u16 fieldCount | (name fieldName | Value)*
 */
import { Reader, Writer } from './codec.js';
import { ProtocolError } from './errors.js';
import { fromH32, sha256ConcatH32, type H32 } from './hash.js';
import { readValue, valueToJson, writeValue, type JsonValue, type Value } from './value.js';

export interface EventField {
  readonly name: string;
  readonly value: Value;
}

export interface Event {
  readonly module: string;
  readonly name: string;
  readonly fields: readonly EventField[];
}

export type TxStatus = 'success' | 'failed';

export interface Receipt {
  readonly status: TxStatus;
  /** Stable error code of a failed call ("" on success), e.g. INSUFFICIENT_BALANCE, OUT_OF_GAS. */
  readonly errorCode: string;
  readonly gasUsed: bigint;
  readonly fee: bigint;
  readonly events: readonly Event[];
}

export function writeEvent(w: Writer, e: Event): void {
  w.name(e.module).name(e.name).u16(e.fields.length);
  for (const f of e.fields) {
    w.name(f.name);
    writeValue(w, f.value);
  }
}

export function readEvent(r: Reader): Event {
  const module = r.name('event module');
  const name = r.name('event name');
  const n = r.u16('event field count');
  const fields: EventField[] = [];
  for (let i = 0; i < n; i++) fields.push({ name: r.name('event field name'), value: readValue(r) });
  return { module, name, fields };
}

export function writeReceipt(w: Writer, rc: Receipt): void {
  w.u8(rc.status === 'success' ? 1 : 0).name(rc.errorCode).u64(rc.gasUsed).u128(rc.fee).u16(rc.events.length);
  for (const e of rc.events) writeEvent(w, e);
}

export function readReceipt(r: Reader): Receipt {
  const s = r.u8('status');
  if (s > 1) throw new ProtocolError('DECODE_ERROR', `receipt status must be 0 or 1, got ${s}`);
  const errorCode = r.name('errorCode');
  const gasUsed = r.u64('gasUsed');
  const fee = r.u128('fee');
  const n = r.u16('eventCount');
  const events: Event[] = [];
  for (let i = 0; i < n; i++) events.push(readEvent(r));
  return { status: s === 1 ? 'success' : 'failed', errorCode, gasUsed, fee, events };
}

export function encodeReceipt(rc: Receipt): Uint8Array {
  const w = new Writer(64);
  writeReceipt(w, rc);
  return w.finish();
}

export function decodeReceipt(b: Uint8Array): Receipt {
  const r = new Reader(b, 'receipt');
  const rc = readReceipt(r);
  r.end();
  return rc;
}

const RECEIPT_LEAF = new Uint8Array([2]);
/** The item hashed into the receipts root: SHA-256(0x02 || txHash || receipt). */
export function receiptHash(txHash: Uint8Array, encodedReceipt: Uint8Array): Uint8Array {
  return fromH32(receiptHashH32(txHash, encodedReceipt));
}

/** receiptHash as an H32, for merkleRootH32 (no Uint8Array digest per receipt). */
export function receiptHashH32(txHash: Uint8Array, encodedReceipt: Uint8Array): H32 {
  return sha256ConcatH32(RECEIPT_LEAF, txHash, encodedReceipt);
}

export interface EventJson {
  module: string;
  name: string;
  fields: Record<string, JsonValue>;
}

export function eventToJson(e: Event): EventJson {
  const fields: Record<string, JsonValue> = {};
  for (const f of e.fields) fields[f.name] = valueToJson(f.value);
  return { module: e.module, name: e.name, fields };
}
