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
  /** Parallel executor, blocks that reached the workers: what each tx went through (debug_blockExecution). */
  readonly blockStm?: BlockStmStats;
}

/**
 * Per-tx detail of one Block-STM run, read from shared memory once the workers are done
 * (execution/parallel/stats.ts). Compact on purpose: the node keeps it for its last blocks.
 */
export interface BlockStmStats {
  /** Per tx, in block order: incarnations started in the parallel run (1 = ran once, never re-executed). */
  readonly incarnations: Int32Array;
  /** Per tx: times it read another tx's ESTIMATE and was parked until that tx re-executed. */
  readonly dependencyWaits: Int32Array;
  /**
   * Keys behind re-executions, most first (at most STM_TOP_KEYS): every key a re-executed tx
   * read from an earlier tx of the block, weighted by that tx's re-executions.
   */
  readonly conflictKeys: readonly { readonly key: string; readonly count: number }[];
  /** False when the run was stopped (fallback): the counts cover what ran before the stop. */
  readonly complete: boolean;
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
