/**
 * How the node's last blocks were executed (debug_blockExecution, the explorer's Block-STM
 * panel): the executor's stats per block, kept in memory for the most recent blocks only.
 * Bounded twice, like the chain's block cache: at most MAX_BLOCKS blocks and at most MAX_TXS
 * txs in them together (per-tx counters are 8 bytes a tx), the newest block always kept.
 * Nothing is persisted: after a restart only blocks committed since are known.
 */
import type { ExecutionStats } from '../execution/types.js';

export const EXEC_LOG_MAX_BLOCKS = 256;
export const EXEC_LOG_MAX_TXS = 1_000_000;

export interface BlockExecutionRecord {
  readonly height: bigint;
  readonly hash: Uint8Array;
  readonly stats: ExecutionStats;
  /** Chain-side timings: execution as the chain measured it, and the state-root computation. */
  readonly executeMs: number;
  readonly rootMs: number;
  /** Txs the executor discarded (left out of the block). */
  readonly discarded: number;
}

export class ExecutionLog {
  private readonly byHeight = new Map<bigint, BlockExecutionRecord>();
  private txs = 0;

  constructor(
    private readonly maxBlocks = EXEC_LOG_MAX_BLOCKS,
    private readonly maxTxs = EXEC_LOG_MAX_TXS,
  ) {}

  record(r: BlockExecutionRecord): void {
    const old = this.byHeight.get(r.height);
    if (old) {
      this.byHeight.delete(r.height);
      this.txs -= old.stats.txs;
    }
    this.byHeight.set(r.height, r);
    this.txs += r.stats.txs;
    while (this.byHeight.size > 1 && (this.byHeight.size > this.maxBlocks || this.txs > this.maxTxs)) {
      const [h, first] = this.byHeight.entries().next().value!;
      this.byHeight.delete(h);
      this.txs -= first.stats.txs;
    }
  }

  get(height: bigint): BlockExecutionRecord | undefined {
    return this.byHeight.get(height);
  }

  /** Oldest and newest heights held, or null when empty. */
  range(): { oldest: bigint; newest: bigint } | null {
    if (this.byHeight.size === 0) return null;
    let oldest = -1n;
    let newest = -1n;
    for (const h of this.byHeight.keys()) {
      if (oldest < 0n || h < oldest) oldest = h;
      if (h > newest) newest = h;
    }
    return { oldest, newest };
  }
}
