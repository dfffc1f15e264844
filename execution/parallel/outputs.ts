/** Per-tx outputs in the shared arena: 1 | receipt, or 2 | name code | string message. */
import { Reader, Writer } from '../../protocol/codec.js';
import { decodeReceipt, writeReceipt } from '../../protocol/receipt.js';
import type { DiscardCode, TxOutcome } from '../types.js';

export function encodeOutcome(o: TxOutcome): Uint8Array {
  const w = new Writer(128);
  if (o.kind === 'included') {
    w.u8(1);
    writeReceipt(w, o.receipt);
  } else {
    w.u8(2).name(o.code).string(o.message);
  }
  return w.finish();
}

export function decodeOutcome(b: Uint8Array): TxOutcome {
  if (b[0] === 1) return { kind: 'included', receipt: decodeReceipt(b.subarray(1)) };
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
