/**
 * pel bench executor: one block executed in-process (no node, no RPC). Reports the
 * sequential executor's throughput; the parallel executor joins this benchmark with
 * Block-STM (same block, same run, roots compared).
 */
import { toHex } from '../protocol/hex.js';
import { executeBlockSequential } from '../execution/sequential.js';
import { WorldState } from '../state/world.js';
import { benchAccounts, benchContext, benchGenesisState, transferBlock } from './workload.js';
import { median, num, output, parseBenchArgs, round } from './util.js';

const HELP = `pel bench executor [--txs N] [--accounts A] [--runs R] [--workload transfer] [--json]
  Builds one block of N transfers over A accounts and executes it R times; prints tx/s (median).`;

export async function runExecutorBenchCli(args: string[]): Promise<number> {
  const f = parseBenchArgs(args, { txs: { type: 'string' }, accounts: { type: 'string' }, runs: { type: 'string' }, workload: { type: 'string' } });
  if (f.help) {
    console.log(HELP);
    return 0;
  }
  const txs = num(f.txs, 10_000, 'txs');
  const accountsN = num(f.accounts, 10_000, 'accounts');
  const runs = num(f.runs, 5, 'runs');
  const workload = (f.workload as string | undefined) ?? 'transfer';
  if (workload !== 'transfer') throw new Error(`--workload ${workload} is not available yet (transfer)`);
  const accounts = benchAccounts(accountsN);
  const block = transferBlock(accounts, txs);
  const world = WorldState.fromEntries(benchGenesisState(accounts));
  const ctx = benchContext();
  const times: number[] = [];
  let root = '';
  let included = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const res = executeBlockSequential(ctx, block, world);
    const t1 = performance.now();
    times.push(t1 - t0);
    const rootNow = toHex(world.prepare(res.writeSet).root);
    if (root && root !== rootNow) throw new Error('sequential execution is not deterministic across runs');
    root = rootNow;
    included = res.outcomes.filter((o) => o.kind === 'included').length;
  }
  const ms = median(times);
  output(
    {
      bench: 'executor', workload, txs, accounts: accountsN, runs, included,
      sequentialMs: round(ms, 2), sequentialTps: round(txs / (ms / 1000), 0), sequentialUsPerTx: round((ms * 1000) / txs, 2),
      runsMs: times.map((t) => round(t, 2)), stateRoot: root,
    },
    f.json === true,
  );
  return 0;
}
