/** The sequential executor: the reference semantics, one transaction after another. */
import type { SignedTx } from '../protocol/tx.js';
import type { Module } from '../contracts/types.js';
import { builtinModules } from '../contracts/registry.js';
import { sortWriteSet, type StateReader } from '../state/types.js';
import { runBlockEnd } from './blockend.js';
import { executeTransaction } from './vm.js';
import type { BlockContext, BlockExecution, BlockExecutor, TxOutcome } from './types.js';

/**
 * A whole block, the reference semantics: every tx in order, then the block-end phase
 * (execution/blockend.ts). Pure function form, also used by tests and by the parallel
 * executor's fallback.
 */
export function executeBlockSequential(ctx: BlockContext, txs: readonly SignedTx[], state: StateReader, modules: ReadonlyMap<string, Module> = builtinModules): BlockExecution {
  const start = performance.now();
  const r = executeTxsSequential(ctx, txs, state, modules);
  const end = runBlockEnd(ctx, txs, r.outcomes, r.writeSet, state, modules);
  return { ...r, outcomes: end.outcomes, writeSet: end.writeSet, stats: { ...r.stats, durationMs: performance.now() - start } };
}

/**
 * The block's transactions in order, without the block-end phase: the parallel executor
 * finishes a block with this from a tx on, then runs the phase once on the whole block.
 */
export function executeTxsSequential(ctx: BlockContext, txs: readonly SignedTx[], state: StateReader, modules: ReadonlyMap<string, Module> = builtinModules): BlockExecution {
  const start = performance.now();
  const overlay = new Map<string, Uint8Array | null>();
  // overlay: undefined = not written in this block, null = deleted.
  const source = {
    get: (k: string): Uint8Array | undefined => {
      const w = overlay.get(k);
      return w === undefined ? state.get(k) : w ?? undefined;
    },
  };
  const outcomes: TxOutcome[] = [];
  let gasUsed = 0n;
  for (const tx of txs) {
    const { outcome, view } = executeTransaction(source, tx, ctx, modules, 'eager');
    outcomes.push(outcome);
    if (outcome.kind === 'included') {
      gasUsed += outcome.receipt.gasUsed;
      for (const [k, v] of view.writes) overlay.set(k, v);
    }
  }
  return {
    outcomes,
    writeSet: sortWriteSet(overlay),
    gasUsed,
    stats: { executor: 'sequential', txs: txs.length, durationMs: performance.now() - start, incarnations: txs.length, validations: 0, dependencyWaits: 0, fallback: null },
  };
}

export class SequentialExecutor implements BlockExecutor {
  readonly name = 'sequential' as const;
  constructor(private readonly modules: ReadonlyMap<string, Module> = builtinModules) {}

  async execute(ctx: BlockContext, txs: readonly SignedTx[], state: StateReader): Promise<BlockExecution> {
    return executeBlockSequential(ctx, txs, state, this.modules);
  }

  async close(): Promise<void> {}
}
