/**
 * pel bench executor: one block executed in-process (no node, no RPC), sequentially and
 * with Block-STM, in the same process and run; prints JSON. Roots are compared every run.
 */
import { availableParallelism } from 'node:os';
import { toHex } from '../protocol/hex.js';
import { spin } from '../contracts/testing/synthetic.js';
import { moduleSet } from '../contracts/registry.js';
import { executeBlockSequential } from '../execution/sequential.js';
import { ParallelExecutor } from '../execution/parallel/executor.js';
import type { BlockExecution } from '../execution/types.js';
import { scratchState } from './scratch-state.js';
import { benchAccounts, benchContextWithFees, benchGenesisState, buildWorkload, calibrateSpin, prepareWorkload, SWAP_MODES, WORKLOADS, type SwapMode, type WorkloadKind } from './workload.js';
import { median, num, output, parseBenchArgs, progress, round } from './util.js';

const HELP = `pel bench executor [flags] — one block, sequential vs Block-STM, JSON out
  --txs N            transactions in the block [10000]
  --accounts A       accounts the workload touches (2 = every tx conflicts) [10000]
  --workers W        worker threads [one per core]
  --workload KIND    transfer | synthetic | token | nft | dao | mixed | amm [transfer]
  --pools P          amm: pools the swaps spread over (account s trades on pool s mod P) [1]
  --swap-mode MODE   amm: instant (amm.swap) | batch (amm.swap_batch, settled at the block's end) [instant]
  --tx-cost-us U     synthetic: microseconds of deterministic CPU work per tx [20]
  --fee-sink         every tx pays a fee into the shared fee accounts (as deltas)
  --runs R           measured runs, medians reported [5]
  --no-adaptive      always run the parallel path (no learned fallback)
  --json             one line of JSON`;

export async function runExecutorBenchCli(args: string[]): Promise<number> {
  const f = parseBenchArgs(args, {
    txs: { type: 'string' }, accounts: { type: 'string' }, workers: { type: 'string' }, workload: { type: 'string' },
    'tx-cost-us': { type: 'string' }, 'fee-sink': { type: 'boolean' }, runs: { type: 'string' }, 'no-adaptive': { type: 'boolean' },
    pools: { type: 'string' }, 'swap-mode': { type: 'string' },
  });
  if (f.help) {
    console.log(HELP);
    return 0;
  }
  const txs = num(f.txs, 10_000, 'txs');
  const accountsN = num(f.accounts, 10_000, 'accounts');
  const workers = num(f.workers, availableParallelism(), 'workers');
  const runs = num(f.runs, 5, 'runs');
  const workload = ((f.workload as string | undefined) ?? 'transfer') as WorkloadKind;
  if (!WORKLOADS.includes(workload)) throw new Error(`--workload must be one of ${WORKLOADS.join(', ')}`);
  const txCostUs = num(f['tx-cost-us'], 20, 'tx-cost-us');
  const pools = num(f.pools, 1, 'pools');
  const swapMode = ((f['swap-mode'] as string | undefined) ?? 'instant') as SwapMode;
  if (!SWAP_MODES.includes(swapMode)) throw new Error(`--swap-mode must be one of ${SWAP_MODES.join(', ')}`);
  const feeSink = f['fee-sink'] === true;
  const itersPerUs = workload === 'synthetic' ? calibrateSpin(spin) : 0;
  const iters = Math.round(txCostUs * itersPerUs);

  const accounts = benchAccounts(Math.max(accountsN, 1));
  const modules = moduleSet('builtin+testing');
  const genesis = benchGenesisState(accounts);
  const setup = prepareWorkload(workload, accounts, txs, genesis, modules, pools);
  const block = buildWorkload({ workload, txs, accounts: accountsN, feeSink, iters, swapMode }, accounts, setup);
  // The genesis state in a throwaway LMDB store (a temp dir, removed below): both executors
  // read it as in a node, the workers straight from the store.
  const scratch = await scratchState(genesis);
  const world = scratch.world;
  const ctx = benchContextWithFees(feeSink, setup ? 10n : 1n);
  const ex = await ParallelExecutor.create({ workers, modules: 'builtin+testing', adaptive: f['no-adaptive'] !== true }).catch(async (e: unknown) => {
    await scratch.close();
    throw e;
  });
  try {
    const seqMs: number[] = [];
    const parMs: number[] = [];
    const parRuns: BlockExecution[] = [];
    let rootsMatch = true;
    let seqRoot = '';
    const measure = async (record: boolean): Promise<void> => {
      const t0 = performance.now();
      const s = executeBlockSequential(ctx, block, world, modules);
      const t1 = performance.now();
      const p = await ex.execute(ctx, block, world);
      const t2 = performance.now();
      const sr = toHex(world.prepare(s.writeSet).root);
      const pr = toHex(world.prepare(p.writeSet).root);
      seqRoot = sr;
      if (sr !== pr || JSON.stringify(s.outcomes, big) !== JSON.stringify(p.outcomes, big)) rootsMatch = false;
      if (!record) return;
      seqMs.push(t1 - t0);
      parMs.push(t2 - t1);
      parRuns.push(p);
    };
    // Warm-up, not measured: at least five runs. The workers' first blocks pay for the JIT,
    // their heaps growing to steady state and their page cache (on the dev machine the first
    // four 10,000-tx blocks run measurably slower); a node runs far more blocks than that.
    // In adaptive mode, also until the policy has its first estimates of both paths (at most
    // 20 runs), so the measured runs show the path it settled on, not its initial probes.
    const adaptive = f['no-adaptive'] !== true;
    let warmupRuns = 0;
    const bar = progress(`bench executor ${workload}, ${txs} txs`);
    for (; warmupRuns < 20 && (warmupRuns < 5 || (adaptive && !ex.estimates.settled)); warmupRuns++) {
      bar.update(`warm-up run ${warmupRuns + 1}`);
      await measure(false);
    }
    for (let r = 0; r < runs; r++) {
      bar.update(`run ${r + 1}/${runs}`);
      await measure(true);
    }
    bar.done();
    const sMs = median(seqMs);
    const pMs = median(parMs);
    const fallbacks: Record<string, number> = {};
    for (const p of parRuns) fallbacks[p.stats.fallback ?? 'none'] = (fallbacks[p.stats.fallback ?? 'none'] ?? 0) + 1;
    const parallelRan = parRuns.filter((p) => p.stats.fallback === null || p.stats.fallback.startsWith('suffix'));
    const pick = (g: (p: BlockExecution) => number): number => (parallelRan.length ? median(parallelRan.map(g)) : 0);
    const t = (k: string) => (p: BlockExecution): number => p.stats.timings?.[k] ?? 0;
    const parallelMs = pick(t('parallelMs'));
    const executeShare = pick(t('executeShare'));
    const validateShare = pick(t('validateShare'));
    const lastFallback = parRuns[parRuns.length - 1]?.stats.fallback ?? null;
    output(
      {
        bench: 'executor', workload, pools: workload === 'amm' ? pools : undefined, swapMode: workload === 'amm' ? swapMode : undefined, txs, accounts: accountsN, workers, feeSink, txCostUs: workload === 'synthetic' ? txCostUs : undefined, itersPerTx: workload === 'synthetic' ? iters : undefined, runs,
        sequentialMs: round(sMs, 2), parallelMs: round(pMs, 2),
        sequentialTps: round(txs / (sMs / 1000), 0), parallelTps: round(txs / (pMs / 1000), 0), speedup: round(sMs / pMs, 3),
        rootsMatch,
        fallback: lastFallback, fallbacks, parallelRuns: parallelRan.length,
        incarnationsPerTx: round(pick((p) => p.stats.incarnations) / txs, 3),
        validationsPerTx: round(pick((p) => p.stats.validations) / txs, 3),
        dependencyWaits: pick((p) => p.stats.dependencyWaits),
        timeSplitMs: parallelRan.length
          ? { scheduling: round(parallelMs * (1 - executeShare - validateShare), 2), execution: round(parallelMs * executeShare, 2), validation: round(parallelMs * validateShare, 2), prepare: round(pick(t('prepareMs')), 2), commit: round(pick(t('finaliseMs')), 2), blockEnd: round(pick(t('blockEndMs')), 2) }
          : null,
        warmupRuns,
        estimates: ex.estimates,
        sequentialRunsMs: seqMs.map((x) => round(x, 1)), parallelRunsMs: parMs.map((x) => round(x, 1)),
        stateRoot: seqRoot,
      },
      f.json === true,
    );
  } finally {
    await ex.close();
    await scratch.close();
  }
  return 0;
}

function big(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? toHex(v) : v;
}
