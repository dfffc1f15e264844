/** Per-tx outputs in the shared arena: 1 | receipt, or 2 | name code | string message. */
import { decodeBytesList, encodeBytesList, Reader, Writer } from '../../protocol/codec.js';
import { lazyIncluded } from '../outcome.js';
import type { DiscardCode, TxOutcome } from '../types.js';

export const OUTPUT_INCLUDED = 1;

export function encodeOutcome(o: TxOutcome): Uint8Array {
  const w = new Writer(128);
  if (o.kind === 'included') {
    w.u8(1);
    w.raw(o.encoded);
  } else {
    w.u8(2).name(o.code).string(o.message);
  }
  return w.finish();
}

/** gasUsed straight from an encoded receipt: u8 status | name errorCode | u64 gasUsed. */
export function receiptGasUsed(encoded: Uint8Array): bigint {
  const o = 2 + encoded[1]!;
  return new Reader(encoded.subarray(o, o + 8), 'gasUsed').u64();
}

/** Sum of the included outcomes' gasUsed: in Numbers while exact, else in bigints. */
export function totalGasUsed(outcomes: readonly TxOutcome[]): bigint {
  let sum = 0;
  for (const o of outcomes) {
    if (o.kind !== 'included') continue;
    const e = o.encoded;
    const at = 2 + e[1]!;
    let g = 0;
    for (let k = 7; k >= 0; k--) g = g * 256 + e[at + k]!;
    sum += g;
  }
  if (Number.isSafeInteger(sum)) return BigInt(sum);
  let big = 0n;
  for (const o of outcomes) if (o.kind === 'included') big += receiptGasUsed(o.encoded);
  return big;
}

/**
 * Included outcomes keep the encoded receipt and decode it on first access: the chain
 * stores the encoding as is, so most receipts are never decoded on the main thread.
 */
export function decodeOutcome(b: Uint8Array): TxOutcome {
  if (b[0] === OUTPUT_INCLUDED) return lazyIncluded(b.subarray(1));
  const r = new Reader(b.subarray(1), 'outcome');
  const code = r.name() as DiscardCode;
  const message = r.string();
  return { kind: 'discarded', code, message };
}

/** Committed write sets travel to workers packed: u32 n | (name key | u8 present | bytes value)*. */
export function packEntries(entries: Iterable<readonly [string, Uint8Array | null]>): Uint8Array {
  const w = new Writer(1 << 16);
  const list = [...entries];
  w.u32(list.length);
  for (const [k, val] of list) {
    w.string(k);
    if (val === null) w.u8(0);
    else w.u8(1).bytes(val);
  }
  return w.finish();
}

export function unpackEntries(b: Uint8Array, apply: (key: string, value: Uint8Array | null) => void): void {
  const r = new Reader(b, 'packed entries');
  const n = r.u32();
  for (let i = 0; i < n; i++) {
    const k = r.string();
    apply(k, r.u8() === 1 ? r.bytes() : null);
  }
  r.end();
}

/** Raw txs for a verification or ingestion batch: a bytes list (protocol/codec.ts). */
export const packRawTxs = (raws: readonly Uint8Array[]): Uint8Array => encodeBytesList(raws);
/** The worker owns the (transferred) packed buffer, so the txs are views into it. */
export const unpackRawTxs = (b: Uint8Array): Uint8Array[] => decodeBytesList(b, 'packed txs', 1 << 20, true);

/** Status of one tx in a verification batch. */
export const VERIFY = { OK: 0, UNDECODABLE: 1, BAD_SIGNATURE: 2 } as const;

/**
 * An ingestion batch's result, per tx: one VERIFY code, then the tx hash (32 bytes; zero for
 * an UNDECODABLE tx).
 */
export const INGEST_STRIDE = 33;
