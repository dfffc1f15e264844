import { decodeReceipt, type Receipt } from '../protocol/receipt.js';
import type { TxOutcome } from './types.js';

/**
 * An included outcome over its encoded receipt, decoded on first access (one object per tx:
 * the parallel executor builds thousands per block on the main thread, and the block-end
 * phase one per receipt it appends to). JSON gives the same fields, in the same order, as
 * the sequential executor's plain outcomes.
 */
class IncludedOutcome {
  readonly kind = 'included' as const;
  private decoded: Receipt | undefined = undefined;
  constructor(readonly encoded: Uint8Array) {}
  get receipt(): Receipt {
    return (this.decoded ??= decodeReceipt(this.encoded));
  }
  toJSON(): { kind: 'included'; receipt: Receipt; encoded: Uint8Array } {
    return { kind: this.kind, receipt: this.receipt, encoded: this.encoded };
  }
}

export function lazyIncluded(encoded: Uint8Array): TxOutcome {
  return new IncludedOutcome(encoded);
}
