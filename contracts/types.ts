import type { Event } from '../protocol/receipt.js';
import type { Value, ValueType } from '../protocol/value.js';

/** The only door from module code to state. */
export interface StateView {
  get(key: string): Uint8Array | undefined;
  /** null deletes the key. */
  set(key: string, value: Uint8Array | null): void;
  /**
   * Add `amount` (may be negative) to the u128 counter at `key` (missing = 0). Fails the
   * call with `errorCode` if the result would leave [0, max] (max defaults to 2^128 - 1,
   * e.g. a token's max supply). Written as a delta so that concurrent additions do not
   * conflict under the parallel executor; only a bound failure forces a re-execution.
   */
  addDelta(key: string, amount: bigint, errorCode?: string, max?: bigint): void;
  emit(event: Event): void;
}

/**
 * The view a module's block-end hook runs on (docs/EXECUTION.md "Block-end phase";
 * execution/blockend.ts): the pre-block state with the block's writes applied, after the
 * block's last transaction. get / set / addDelta have the eager semantics of a transaction
 * view (a delta reads, checks its bound and writes); nothing is metered.
 */
export interface BlockEndView extends StateView {
  /**
   * Every key that starts with `prefix` and that this block wrote with a value (its
   * included transactions, then earlier hooks of this phase; a key the block deleted is left
   * out), sorted ascending by UTF-16 code unit (= byte order: state keys are printable
   * ASCII). Keys the block did not write are not listed: a hook lists what the block queued.
   */
  keysWithPrefix(prefix: string): readonly string[];
  /**
   * Record `event` in the receipt of the block's included transaction `txHash`, after that
   * transaction's own events (in emission order). Block-end events have no receipt of their
   * own: every one is attributed to a transaction of the block. Plain `emit` is refused.
   */
  emitTo(txHash: Uint8Array, event: Event): void;
}

/** The block a block-end phase runs for. */
export interface BlockEndContext {
  readonly height: bigint;
  /** The protocol treasury in force for this block (as CallContext.treasury). */
  readonly treasury: Uint8Array;
}

export interface CallContext {
  readonly chainId: number;
  readonly height: bigint;
  readonly timestamp: bigint;
  readonly proposer: Uint8Array;
  readonly sender: Uint8Array;
  readonly txHash: Uint8Array;
  /** The protocol treasury in force for this block (fee parameters at the block's start). */
  readonly treasury: Uint8Array;
}

export interface CallSpec {
  /** Argument names and types, in order; checked before `run`. */
  readonly args: readonly (readonly [name: string, type: ValueType])[];
  readonly summary: string;
  run(view: StateView, ctx: CallContext, args: readonly Value[]): void;
}

/** Read-only state access for views (committed state). */
export interface StateReaderView {
  get(key: string): Uint8Array | undefined;
}

/** A view's parameter types, as they appear in JSON-RPC params. */
export type ViewParamType = 'address' | 'id' | 'u64' | 'u128' | 'string';

/**
 * A read-only query served over JSON-RPC as `<module>_<view>` (e.g. token_getBalance).
 * Params arrive parsed: address / id -> Uint8Array(20), u64 / u128 -> bigint, string.
 * Returns plain JSON (amounts as decimal strings, bytes as 0x-hex) or null when absent.
 */
export interface ViewSpec {
  readonly params: readonly (readonly [name: string, type: ViewParamType])[];
  readonly summary: string;
  run(state: StateReaderView, args: readonly (Uint8Array | bigint | string)[], ctx: { height: bigint }): unknown;
}

export interface Module {
  readonly name: string;
  readonly calls: Readonly<Record<string, CallSpec>>;
  readonly views?: Readonly<Record<string, ViewSpec>>;
  /**
   * The module's block-end hook (like Cosmos' EndBlock): run once per block after the last
   * transaction, in both executors, in ascending module name order, on one BlockEndView.
   * Its writes join the block's write set (and so the state root). It must be a function of
   * what it reads (no iteration-order or clock dependence) and throws only on a corrupt
   * state, which the executor treats as fatal.
   */
  readonly blockEnd?: (view: BlockEndView, ctx: BlockEndContext) => void;
}

/** A call that fails inside execution: included, pays its fee, status failed, `code` in the receipt. */
export class ExecutionFailure extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ExecutionFailure';
    this.code = code;
  }
}

/** Fails the call with INVALID_AMOUNT when `amount` is zero (amounts are unsigned). */
export function requirePositive(amount: bigint, what = 'amount'): void {
  if (amount === 0n) throw new ExecutionFailure('INVALID_AMOUNT', `${what} must be at least 1`);
}
