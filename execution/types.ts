import type { Receipt } from '../protocol/receipt.js';
import type { SignedTx } from '../protocol/tx.js';
import type { StateReader, WriteSet } from '../state/types.js';
import type { FeeParams } from '../contracts/fee/params.js';
import type { GasSchedule } from './gas.js';

/** Chain parameters in force for a block: read from state at the block's start. */
export interface ChainParams {
  readonly gas: GasSchedule;
  readonly fee: FeeParams;
}

export interface BlockContext {
  readonly chainId: number;
  readonly height: bigint;
  readonly timestamp: bigint;
  readonly proposer: Uint8Array;
  readonly params: ChainParams;
}

/**
 * Why a transaction was left out of a block. A discarded tx wrote nothing, so removing it
 * changes no other transaction's result; the proposer drops it and a validator rejects a
 * block that contains one.
 */
export type DiscardCode =
  | 'WRONG_CHAIN_ID'
  | 'TX_EXPIRED'
  | 'GAS_PRICE_TOO_LOW'
  | 'GAS_LIMIT_TOO_LOW'
  | 'GAS_LIMIT_TOO_HIGH'
  | 'NONCE_TOO_LOW'
  | 'NONCE_TOO_HIGH'
  | 'INSUFFICIENT_BALANCE_FOR_FEE';

export type TxOutcome =
  | { readonly kind: 'included'; readonly receipt: Receipt; /** Canonical encoding of the receipt (what the chain stores and hashes). */ readonly encoded: Uint8Array }
  | { readonly kind: 'discarded'; readonly code: DiscardCode; readonly message: string };

export interface ExecutionStats {
  readonly executor: string;
  readonly txs: number;
  readonly durationMs: number;
  /** Parallel executor only; 1 everywhere for the sequential one. */
  readonly incarnations: number;
  readonly validations: number;
  readonly dependencyWaits: number;
  /** Why the parallel executor ran this block (or a suffix of it) sequentially, or null. */
  readonly fallback: string | null;
  /** Executor-specific time split in ms (parallel: prepareMs, parallelMs, finaliseMs, ...). */
  readonly timings?: Readonly<Record<string, number>>;
}

export interface BlockExecution {
  /** One per input tx, in order. */
  readonly outcomes: readonly TxOutcome[];
  /** Writes of the included txs, final values, sorted by key. */
  readonly writeSet: WriteSet;
  readonly gasUsed: bigint;
  readonly stats: ExecutionStats;
}

/** Both executors implement this; the parallel one must match the sequential one byte for byte. */
export interface BlockExecutor {
  readonly name: 'sequential' | 'parallel';
  execute(ctx: BlockContext, txs: readonly SignedTx[], state: StateReader): Promise<BlockExecution>;
  close(): Promise<void>;
}
