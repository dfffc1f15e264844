/**
 * Block-STM must produce exactly the sequential result: same outcomes (receipts, events,
 * discard codes and messages), same write set byte for byte and in the same order, same gas,
 * same state root. Property tests over generated blocks, then a stress test that repeats
 * fixed highly contended blocks, since timing bugs only show under some interleavings.
 *
 * The executors run with minParallelTxs 1 (small blocks really go parallel) and the
 * contention guard and incarnation limit effectively off, so a block is never silently
 * answered by the sequential fallback; every fallback is counted and bounded. One more
 * executor keeps the default guards, so the abort-and-fall-back path and the blocks after
 * it are covered too.
 *
 * Reproduce a failure with PEL_FC_SEED=<seed printed by fast-check>; PEL_FC_SCALE=<k>
 * multiplies the number of runs (e.g. 10 for a longer hunt).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeU128 } from '../../../../protocol/codec.js';
import type { SignedTx } from '../../../../protocol/tx.js';
import { v } from '../../../../protocol/value.js';
import { balanceKey } from '../../../../contracts/coin/state.js';
import { moduleSet } from '../../../../contracts/registry.js';
import { mockCounter } from '../../../../contracts/testing/mock.js';
import { benchAccounts, benchGenesisState, rng, transferBlock } from '../../../../bench/workload.js';
import { signTxFast } from '../../../../bench/sign.js';
import { executeBlockSequential } from '../../../../execution/sequential.js';
import type * as ExecutorModule from '../../../../execution/parallel/executor.js';
import type { BlockExecution, ExecutionStats } from '../../../../execution/types.js';
import type { DiskWorldState } from '../../../../state/disk-world.js';
import { scratchState, type ScratchState } from '../../../../bench/scratch-state.js';
import { assertDistFresh } from './dist.js';
import {
  CTX,
  diffExecutions,
  encodeProgram,
  FUND,
  key,
  mockBlockArb,
  mockGenesis,
  mockTxs,
  NonceTracker,
  signCall,
  syntheticBlockArb,
  syntheticGenesis,
  syntheticTxs,
  transferBlockArb,
  transferGenesis,
  transferTxs,
  TREASURY,
  type Envelope,
  type MockOp,
  type MockTxSpec,
} from './gen.js';

// The executor starts its workers from `./worker.js` next to its own module, i.e. the
// compiled dist/ tree (`npx tsc -p .` first); the reference and generators use the sources.
// PEL_PARALLEL_EXECUTOR=<path to a compiled executor.js> runs the suite against another build
// (e.g. a deliberately broken copy, to check that these tests catch the break).
const EXECUTOR_JS = process.env.PEL_PARALLEL_EXECUTOR;
if (EXECUTOR_JS === undefined) assertDistFresh();
const { ParallelExecutor } = (await import(EXECUTOR_JS ?? ('../../../../dist/execution/parallel/executor.js' as string))) as typeof ExecutorModule;
type ParallelExecutor = ExecutorModule.ParallelExecutor;

const MODULES = moduleSet('builtin+testing');
const WORKER_COUNTS = [1, 2, 3, 4] as const;
const SCALE = Number(process.env.PEL_FC_SCALE ?? '1');
const runs = (n: number): number => Math.max(1, Math.round(n * SCALE));
const seed = (fixed: number): number => (process.env.PEL_FC_SEED ? Number(process.env.PEL_FC_SEED) : fixed);

const executors = new Map<number, ParallelExecutor>();
let guarded: ParallelExecutor;

// ---- fallback accounting -----------------------------------------------------------------

interface Tally {
  blocks: number;
  txs: number;
  /** Txs whose result came from the parallel run (not re-executed by a suffix or full fallback). */
  parallelTxs: number;
  /** Over blocks that ran in parallel: incarnations beyond the first per tx, validations, dependency waits. */
  reexecutions: number;
  validations: number;
  waits: number;
  fallbacks: Map<string, number>;
}
const tallies = new Map<string, Tally>();

function tally(labels: string | readonly string[], stats: ExecutionStats): void {
  for (const label of typeof labels === 'string' ? [labels] : labels) tallyOne(label, stats);
}

function tallyOne(label: string, stats: ExecutionStats): void {
  let t = tallies.get(label);
  if (!t) tallies.set(label, (t = { blocks: 0, txs: 0, parallelTxs: 0, reexecutions: 0, validations: 0, waits: 0, fallbacks: new Map() }));
  const f = stats.fallback;
  const kind = f === null ? 'none' : f.startsWith('suffix-from-') ? (f === 'suffix-from-0' ? 'suffix-from-0' : 'suffix-from-N') : f;
  t.blocks++;
  t.txs += stats.txs;
  if (f === null) t.parallelTxs += stats.txs;
  else if (f.startsWith('suffix-from-')) t.parallelTxs += Number(f.slice('suffix-from-'.length));
  t.fallbacks.set(kind, (t.fallbacks.get(kind) ?? 0) + 1);
  if (f === null || f.startsWith('suffix-from-')) {
    t.reexecutions += stats.incarnations - stats.txs;
    t.validations += stats.validations;
    t.waits += stats.dependencyWaits;
  }
  // A worker error is a bug in the executor, even though the fallback hides it from the result.
  if (f !== null && f.startsWith('worker-error')) throw new Error(`parallel executor worker error: ${f}`);
}

function tallyLine(label: string): string {
  const t = tallies.get(label);
  if (!t) return `${label}: no blocks`;
  const fb = [...t.fallbacks].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}=${n}`).join(' ');
  return `${label}: ${t.blocks} blocks, ${t.txs} txs, ${((100 * t.parallelTxs) / Math.max(1, t.txs)).toFixed(1)}% of txs from the parallel run; re-executions ${t.reexecutions}, validations ${t.validations}, dependency waits ${t.waits}; fallback: ${fb}`;
}

/**
 * The parallel path (null or a suffix re-execution) must have run for at least `minBlockPct`
 * of the blocks, and at least `minTxPct` of all txs must have their results from the parallel
 * run (not re-executed by a suffix or a full fallback).
 */
function expectMostlyParallel(label: string, minBlockPct: number, minTxPct = 0): void {
  const t = tallies.get(label);
  if (!t) return; // no block of this kind was generated
  const parallel = (t.fallbacks.get('none') ?? 0) + (t.fallbacks.get('suffix-from-N') ?? 0) + (t.fallbacks.get('suffix-from-0') ?? 0);
  expect((100 * parallel) / t.blocks, tallyLine(label)).toBeGreaterThanOrEqual(minBlockPct);
  expect((100 * t.parallelTxs) / Math.max(1, t.txs), tallyLine(label)).toBeGreaterThanOrEqual(minTxPct);
}

// ---- running a block both ways -------------------------------------------------------------

async function runBoth(label: string | readonly string[], ex: ParallelExecutor, world: DiskWorldState, txs: readonly SignedTx[], seq: BlockExecution): Promise<BlockExecution> {
  const par = await ex.execute(CTX, txs, world);
  tally(label, par.stats);
  const d = diffExecutions(seq, par, world);
  if (d !== null) throw new Error(`[${ex.workerCount} workers, ${txs.length} txs] ${d}`);
  return par;
}

/**
 * A state store (real LMDB, a temp dir) holding `genesis`, as a node's: the workers read it
 * from the store. Closed and removed after `use`.
 */
async function withState<T>(genesis: Map<string, Uint8Array>, use: (s: ScratchState) => Promise<T>): Promise<T> {
  const s = await scratchState(genesis);
  try {
    return await use(s);
  } finally {
    await s.close();
  }
}

/** Sequential once, then every worker count against the same state. */
async function checkBlock(label: string | readonly string[], genesis: Map<string, Uint8Array>, txs: readonly SignedTx[], workers: readonly number[] = WORKER_COUNTS): Promise<void> {
  await withState(genesis, async ({ world }) => {
    const seq = executeBlockSequential(CTX, txs, world, MODULES);
    for (const w of workers) await runBoth(label, executors.get(w)!, world, txs, seq);
  });
}

beforeAll(async () => {
  const relaxed = { minParallelTxs: 1, modules: 'builtin+testing' as const, adaptive: false, contentionPct: 1e9, incarnationLimit: 1_000 };
  const created = await Promise.all(WORKER_COUNTS.map((workers) => ParallelExecutor.create({ ...relaxed, workers })));
  for (const ex of created) executors.set(ex.workerCount, ex);
  // Default incarnation limit and contention guard; adaptive choice off, else on two cores it
  // mostly picks the sequential path and the guards never run.
  guarded = await ParallelExecutor.create({ workers: 2, minParallelTxs: 1, modules: 'builtin+testing', adaptive: false });
});

afterAll(async () => {
  await Promise.all([...executors.values(), guarded].filter(Boolean).map((ex) => ex.close()));
  // eslint-disable-next-line no-console
  console.log(['parallel equivalence, fallback counts:', ...[...tallies.keys()].map((l) => '  ' + tallyLine(l))].join('\n'));
});

// ---- properties ------------------------------------------------------------------------------

describe('parallel executor == sequential executor (property tests)', () => {
  it('mock programs over 4 keys (heavy contention)', async () => {
    await fc.assert(
      fc.asyncProperty(mockBlockArb({ maxKey: 3, maxTxs: 80, maxOps: 12, genesisKeys: 6 }), async (spec) => {
        await checkBlock(['mock-small', `mock-small/${spec.chaos}`], mockGenesis(spec), mockTxs(spec.txs));
      }),
      { numRuns: runs(150), seed: seed(0x5eed_0001) },
    );
    expectMostlyParallel('mock-small', 99);
    // Calm blocks cannot need an eager re-execution: all of every block must come from the parallel run.
    expectMostlyParallel('mock-small/calm', 100, 100);
  }, 300_000);

  it('mock programs over 201 keys', async () => {
    await fc.assert(
      fc.asyncProperty(mockBlockArb({ maxKey: 200, maxTxs: 80, maxOps: 12, genesisKeys: 40 }), async (spec) => {
        await checkBlock(['mock-large', `mock-large/${spec.chaos}`], mockGenesis(spec), mockTxs(spec.txs));
      }),
      { numRuns: runs(100), seed: seed(0x5eed_0002) },
    );
    expectMostlyParallel('mock-large', 99);
    expectMostlyParallel('mock-large/calm', 100, 100);
  }, 300_000);

  it('coin.transfer among 3 accounts (contended), with the proposer and the treasury as parties', async () => {
    await fc.assert(
      fc.asyncProperty(transferBlockArb({ accounts: 3, maxTxs: 80 }), async (spec) => {
        await checkBlock('transfer-3', transferGenesis(spec), transferTxs(spec.txs));
      }),
      { numRuns: runs(60), seed: seed(0x5eed_0003) },
    );
    expectMostlyParallel('transfer-3', 99, 80);
  }, 300_000);

  it('coin.transfer among 40 accounts', async () => {
    await fc.assert(
      fc.asyncProperty(transferBlockArb({ accounts: 40, maxTxs: 80 }), async (spec) => {
        await checkBlock('transfer-40', transferGenesis(spec), transferTxs(spec.txs));
      }),
      { numRuns: runs(40), seed: seed(0x5eed_0004) },
    );
    expectMostlyParallel('transfer-40', 99, 80);
  }, 300_000);

  it('synthetic.work over 2..10 accounts', async () => {
    await fc.assert(
      fc.asyncProperty(syntheticBlockArb, async (spec) => {
        await checkBlock('synthetic', syntheticGenesis(spec), syntheticTxs(spec.txs));
      }),
      { numRuns: runs(50), seed: seed(0x5eed_0005) },
    );
    expectMostlyParallel('synthetic', 99, 80);
  }, 300_000);

  it('a chain of mock blocks: workers read each committed block from the store', async () => {
    const blockArb = mockBlockArb({ maxKey: 5, maxTxs: 40, maxOps: 8, genesisKeys: 6 });
    await fc.assert(
      fc.asyncProperty(blockArb, fc.array(blockArb.map((b) => b.txs), { minLength: 1, maxLength: 3 }), async (first, more) => {
        await withState(mockGenesis(first), async (state) => {
          const nonces = new NonceTracker();
          for (const specTxs of [first.txs, ...more]) {
            const txs = specTxs.filter((t) => t.sender < first.senders).map((t) => signCall(key(t.sender), nonces.take(t.sender, t.env), t.env, 'mock', 'run', [v.bytes(encodeProgram(t.program))]));
            const seq = executeBlockSequential(CTX, txs, state.world, MODULES);
            for (const w of WORKER_COUNTS) await runBoth('mock-chain', executors.get(w)!, state.world, txs, seq);
            await state.commit(seq.writeSet);
          }
        });
      }),
      { numRuns: runs(25), seed: seed(0x5eed_0006) },
    );
    expectMostlyParallel('mock-chain', 95);
  }, 300_000);

  it('default contention guards: falling back and the blocks after a fallback stay exact', async () => {
    await fc.assert(
      fc.asyncProperty(mockBlockArb({ maxKey: 3, maxTxs: 150, maxOps: 10, genesisKeys: 6 }), async (spec) => {
        await withState(mockGenesis(spec), async ({ world }) => {
          const txs = mockTxs(spec.txs);
          const seq = executeBlockSequential(CTX, txs, world, MODULES);
          await runBoth('mock-guarded', guarded, world, txs, seq);
        });
      }),
      { numRuns: runs(40), seed: seed(0x5eed_0007) },
    );
  }, 300_000);
});

// ---- stress: fixed contended blocks, many interleavings ------------------------------------------

interface FixedBlock {
  readonly name: string;
  readonly genesis: () => Map<string, Uint8Array>;
  readonly txs: readonly SignedTx[];
}

const RICH: Envelope = { nonce: 'next', gasLimit: 50_000, gasPrice: 1 };

/** 200 mock txs over keys 0 and 1: reads feed writes, deltas on two counters, a bound failure late in the block. */
function mockTwoKeys(): FixedBlock {
  const r = rng(7);
  const nonces = new NonceTracker();
  const specs: MockTxSpec[] = [];
  for (let i = 0; i < 200; i++) {
    const ops: MockOp[] = [];
    const len = 1 + (r() % 6);
    for (let j = 0; j < len; j++) {
      const k = r() % 2;
      switch (r() % 7) {
        case 0:
          ops.push({ op: 'read', k });
          break;
        case 1:
          ops.push({ op: 'write', k });
          break;
        case 2:
          ops.push({ op: 'writeIfOdd', k });
          break;
        case 3:
          ops.push({ op: 'delta', k, neg: r() % 3 === 0, amount: r() % 100 });
          break;
        case 4:
          ops.push({ op: 'readCounter', k });
          break;
        case 5:
          ops.push({ op: 'emit' });
          break;
        default:
          // A failure before any delta is exact in the parallel run; after one it forces a re-run.
          if (r() % 4 === 0) ops.unshift({ op: 'failIfOdd' });
          else ops.push({ op: 'delete', k });
      }
    }
    // Tx 170 certainly underflows counter 1: the rest of the block is re-run eagerly.
    if (i === 170) ops.push({ op: 'delta', k: 1, neg: true, amount: 0xffffffff });
    specs.push({ sender: i % 6, env: RICH, program: ops });
  }
  const txs = specs.map((t) => signCall(key(t.sender), nonces.take(t.sender, t.env), t.env, 'mock', 'run', [v.bytes(encodeProgram(t.program))]));
  return {
    name: '200 mock txs over 2 keys',
    genesis: () => {
      const m = benchGenesisState(Array.from({ length: 6 }, (_, i) => key(i)), FUND);
      m.set(mockCounter(0), encodeU128(300n));
      m.set(mockCounter(1), encodeU128(10_000n));
      return m;
    },
    txs,
  };
}

/** 300 transfers among 3 accounts (bench workload). */
function transfersThreeAccounts(): FixedBlock {
  const accounts = benchAccounts(3);
  return { name: '300 transfers among 3 accounts', genesis: () => benchGenesisState(accounts, FUND), txs: transferBlock(accounts, 300, 99) };
}

/**
 * Every tx credits the fee sinks (fees) and a shared counter (mock delta) or the proposer and
 * the treasury directly; a few txs read the sinks: the proposer spends its fee income (its
 * first tx cannot afford the fee yet), and mock txs read the credited counter.
 */
function feeSinkBlock(): FixedBlock {
  const nonces = new NonceTracker();
  const txs: SignedTx[] = [];
  const proposer = 1_000_000;
  for (let i = 0; i < 160; i++) {
    const s = i % 8;
    if (i === 10 || i === 120) {
      // The proposer sends: the first time its balance (0 at genesis plus fee credits) is
      // below the max fee -> discarded; later it can pay. Reads resolve every delta below it.
      txs.push(signCall(key(proposer), nonces.take(proposer, RICH), RICH, 'coin', 'transfer', [v.address(TREASURY), v.u128(1_000n)]));
    } else if (i === 80 || i === 150) {
      txs.push(signCall(key(s), nonces.take(s, RICH), RICH, 'mock', 'run', [v.bytes(encodeProgram([{ op: 'readCounter', k: 0 }, { op: 'write', k: 0 }]))]));
    } else if (i % 3 === 0) {
      txs.push(signCall(key(s), nonces.take(s, RICH), RICH, 'coin', 'transfer', [v.address(i % 2 === 0 ? CTX.proposer : TREASURY), v.u128(BigInt(1 + i))]));
    } else {
      txs.push(signCall(key(s), nonces.take(s, RICH), RICH, 'mock', 'run', [v.bytes(encodeProgram([{ op: 'delta', k: 0, neg: false, amount: 1 + i }]))]));
    }
  }
  return {
    name: 'fee-sink credits with readers',
    genesis: () => {
      const m = benchGenesisState(Array.from({ length: 8 }, (_, i) => key(i)), FUND);
      m.set(balanceKey(TREASURY), encodeU128(5n));
      return m;
    },
    txs,
  };
}

describe('parallel executor stress: fixed contended blocks, repeated', () => {
  const REPEATS = runs(30);
  const blocks = [mockTwoKeys, transfersThreeAccounts, feeSinkBlock];
  for (const make of blocks) {
    for (const workers of [2, 4] as const) {
      it(`${make.name || 'block'} on ${workers} workers x ${REPEATS}`, async () => {
        const b = make();
        const label = `stress: ${b.name} (${workers}w)`;
        await withState(b.genesis(), async ({ world }) => {
          const seq = executeBlockSequential(CTX, b.txs, world, MODULES);
          for (let r = 0; r < REPEATS; r++) {
            try {
              await runBoth(label, executors.get(workers)!, world, b.txs, seq);
            } catch (e) {
              throw new Error(`repeat ${r}: ${(e as Error).message}`);
            }
          }
        });
        expectMostlyParallel(label, 90, 80);
      }, 300_000);
    }
  }
});

// ---- executor lifecycle -----------------------------------------------------------------------------

describe('parallel executor lifecycle', () => {
  it('a block above the initial capacity (1200 txs) grows the shared buffers; blocks after it stay exact', async () => {
    const accounts = benchAccounts(60);
    const big = transferBlock(accounts, 1_200, 3);
    const small = mockTwoKeys();
    await withState(benchGenesisState(accounts, FUND), async ({ world }) => {
      await withState(small.genesis(), async ({ world: smallWorld }) => {
        const seq = executeBlockSequential(CTX, big, world, MODULES);
        const smallSeq = executeBlockSequential(CTX, small.txs, smallWorld, MODULES);
        for (const w of [2, 4]) {
          await runBoth('lifecycle: 1200-tx block', executors.get(w)!, world, big, seq);
          for (let r = 0; r < 3; r++) await runBoth('lifecycle: after growth', executors.get(w)!, smallWorld, small.txs, smallSeq);
        }
      });
    });
    expectMostlyParallel('lifecycle: 1200-tx block', 100, 80);
  }, 120_000);

  it('the key table persists across a chain of blocks and is cleared when half full; every block stays exact', async () => {
    // 1,000-transfer blocks over 4,000 accounts: each block touches ~3,000 keys, the initial
    // table holds 12,288, so ids are reused for a few blocks, then the table starts over.
    const ex = await ParallelExecutor.create({ workers: 2, minParallelTxs: 1, modules: 'builtin+testing', adaptive: false, contentionPct: 1e9, incarnationLimit: 1_000 });
    const accounts = benchAccounts(4_000);
    const state = await scratchState(benchGenesisState(accounts, FUND));
    const world = state.world;
    try {
      const nonces = new Array<bigint>(accounts.length).fill(0n);
      const seen: { generation: number; keys: number }[] = [];
      for (let b = 0; b < 10; b++) {
        const next = rng(100 + b);
        const txs: SignedTx[] = [];
        for (let i = 0; i < 1_000; i++) {
          const s = next() % accounts.length;
          const args = [v.address(accounts[next() % accounts.length]!.address), v.u128(1n + BigInt(next() % 100))];
          txs.push(signTxFast({ chainId: CTX.chainId, senderPublicKey: accounts[s]!.publicKey, nonce: nonces[s]!++, gasLimit: 50_000n, gasPrice: 1n, expiry: CTX.height + 100n, module: 'coin', call: 'transfer', args }, accounts[s]!));
        }
        const seq = executeBlockSequential(CTX, txs, world, MODULES);
        await runBoth('key table chain', ex, world, txs, seq);
        seen.push(ex.keyTable);
        await state.commit(seq.writeSet);
      }
      // Reused: the second block's keys did not double the table. Cleared: a new generation.
      expect(seen[1]!.generation).toBe(seen[0]!.generation);
      expect(seen[1]!.keys).toBeLessThan(2 * seen[0]!.keys);
      expect(seen[seen.length - 1]!.generation).toBeGreaterThan(seen[0]!.generation);
    } finally {
      await ex.close();
      await state.close();
    }
  }, 120_000);

  it('a block whose copy into shared memory fails is rejected, and the workers are free for the next block', async () => {
    const ex = await ParallelExecutor.create({ workers: 2, minParallelTxs: 1, modules: 'builtin+testing', adaptive: false });
    // Enough accounts that the contention guard (abort rates depend on thread timing) cannot
    // send the second block to the sequential path on a loaded machine.
    const accounts = benchAccounts(400);
    const state = await scratchState(benchGenesisState(accounts, FUND));
    const world = state.world;
    try {
      const block = transferBlock(accounts, 300, 11);
      // tx 250 has no hash: the copy loop throws after the block was posted to the workers.
      const broken = block.map((t, i) => (i === 250 ? ({ ...t, hash: undefined } as unknown as SignedTx) : t));
      await expect(ex.execute(CTX, broken, world)).rejects.toThrow();
      const seq = executeBlockSequential(CTX, block, world, MODULES);
      const par = await ex.execute(CTX, block, world);
      expect(diffExecutions(seq, par, world)).toBeNull();
      expect(par.stats.fallback).toBeNull();
    } finally {
      await ex.close();
      await state.close();
    }
  }, 60_000);

  it('overlapping execute calls on one executor never return a wrong result (exact, or rejected)', async () => {
    // The node serialises block production, but nothing in BlockExecutor forbids overlap, and
    // the sequential executor handles it: the parallel one must not silently mix two blocks.
    const ex = await ParallelExecutor.create({ workers: 2, minParallelTxs: 1, modules: 'builtin+testing', adaptive: false, contentionPct: 1e9, incarnationLimit: 1_000 });
    const accounts = benchAccounts(7);
    const state = await scratchState(benchGenesisState(accounts, FUND));
    const world = state.world;
    try {
      const blocks = [transferBlock(accounts.slice(0, 3), 100, 6), transferBlock(accounts, 120, 7)];
      const seqs = blocks.map((b) => executeBlockSequential(CTX, b, world, MODULES));
      const settled = await Promise.allSettled(blocks.map((b) => ex.execute(CTX, b, world)));
      const wrong: string[] = [];
      settled.forEach((r, i) => {
        if (r.status === 'rejected') return; // refusing the overlapping call is acceptable
        const d = diffExecutions(seqs[i]!, r.value, world);
        if (d !== null) wrong.push(`block ${i} (${blocks[i]!.length} txs, started ${i === 0 ? 'first' : 'while block 0 was running'}): ${d}`);
      });
      if (wrong.length > 0) throw new Error(wrong.join('\n'));
    } finally {
      await ex.close();
      await state.close();
    }
  }, 60_000);
});
