/**
 * The start-up warm-up (node/warmup.ts) on both executors: it runs whole blocks through a
 * scratch chain, removes its temp LevelDB, leaves the executor usable, and a warmed parallel
 * executor still gives exactly the sequential result.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executeBlockSequential, SequentialExecutor } from '../../../execution/sequential.js';
import type * as ExecutorModule from '../../../execution/parallel/executor.js';
import { warmUp } from '../../../node/warmup.js';
import { scratchState } from '../../../bench/scratch-state.js';
import { assertDistFresh } from '../execution/parallel/dist.js';
import { CTX, diffExecutions, transferBlockArb, transferGenesis, transferTxs } from '../execution/parallel/gen.js';

describe('warmUp', () => {
  let root: string;
  let parallel: ExecutorModule.ParallelExecutor;

  beforeAll(async () => {
    assertDistFresh();
    root = await mkdtemp(join(tmpdir(), 'pel-warmup-test-'));
    // The workers load dist/: import the compiled executor so both sides run the same code.
    const { ParallelExecutor } = (await import('../../../dist/execution/parallel/executor.js' as string)) as typeof ExecutorModule;
    parallel = await ParallelExecutor.create({ workers: 2, minParallelTxs: 1, adaptive: false, contentionPct: 1e9, incarnationLimit: 1_000, modules: 'builtin' });
  }, 60_000);
  afterAll(async () => {
    await parallel?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('runs whole blocks on the sequential executor, in memory', async () => {
    const r = await warmUp(new SequentialExecutor(), 300, { inMemory: true });
    expect(r).toMatchObject({ txs: 500, blocks: 1 });
  });

  it('runs whole blocks on the parallel executor over a real LevelDB and removes it', async () => {
    const r = await warmUp(parallel, 1_000, { inMemory: false, tmpRoot: root });
    expect(r).toMatchObject({ txs: 1_000, blocks: 2 });
    expect(await readdir(root)).toEqual([]);
  }, 60_000);

  it('leaves the parallel executor giving exactly the sequential result', async () => {
    await fc.assert(
      fc.asyncProperty(transferBlockArb({ accounts: 40, maxTxs: 80 }), async (spec) => {
        const txs = transferTxs(spec.txs);
        const state = await scratchState(transferGenesis(spec));
        try {
          const seq = executeBlockSequential(CTX, txs, state.world);
          const par = await parallel.execute(CTX, txs, state.world);
          expect(diffExecutions(seq, par, state.world)).toBeNull();
        } finally {
          await state.close();
        }
      }),
      { numRuns: 15, seed: 0x3a7f },
    );
  }, 120_000);
});
