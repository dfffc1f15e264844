/**
 * Block-end phase vector (test/vectors/blockend.json): one block of batch swaps on a pool
 * (two directions, one swap refunded for its minimum), an instant swap and a transfer, with
 * the full pre-block state, the block context and the raw txs as inputs, and as expected
 * outputs every encoded receipt (the settlement events appended to the queuing txs'
 * receipts, docs/PROTOCOL.md "Execution rules and fees" step 4), the receipts root, the
 * block's write set (settlement writes included) and the state root after it. A client
 * that executes the block from these inputs must reproduce every byte. The test checks the
 * file against what the code builds now, and that both executors give exactly the file's
 * outputs. Regenerate deliberately with PEL_UPDATE_VECTORS=1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { merkleRoot } from '../../protocol/hash.js';
import { fromHex, toHex } from '../../protocol/hex.js';
import { devKeyPair } from '../../protocol/keys.js';
import { decodeReceipt, receiptHash } from '../../protocol/receipt.js';
import { decodeTx, type SignedTx } from '../../protocol/tx.js';
import { v, type Value } from '../../protocol/value.js';
import { NATIVE, poolId, compareAssets } from '../../contracts/amm/state.js';
import { builtinModules } from '../../contracts/registry.js';
import { benchContext, benchGenesisState, BENCH_TOKEN } from '../../bench/workload.js';
import { executeBlockSequential } from '../../execution/sequential.js';
import type { BlockExecution } from '../../execution/types.js';
import type * as ExecutorModule from '../../execution/parallel/executor.js';
import { WorldState } from '../../state/world.js';
import { scratchState } from '../../bench/scratch-state.js';
import { buildCall } from '../../sdk/tx.js';
import { assertDistFresh } from '../unit/execution/parallel/dist.js';

interface BlockEndVector {
  description: string;
  context: { chainId: number; height: string; timestamp: string; proposer: string; treasury: string };
  preState: [string, string][];
  txs: string[];
  receipts: string[];
  receiptsRoot: string;
  writeSet: [string, string | null][];
  stateRoot: string;
}

const keys = [0, 1, 2, 3, 4].map((i) => devKeyPair(i));
const HEIGHT = 4n;

function build(): { vector: BlockEndVector; pre: Map<string, Uint8Array>; txs: SignedTx[] } {
  const state = benchGenesisState(keys, 10n ** 12n);
  const nonces = keys.map(() => 0n);
  const tx = (k: number, module: string, call: string, args: Value[]): SignedTx =>
    buildCall({ chainId: 1337, key: keys[k]!, nonce: nonces[k]!++, module, call, args, expiry: 100n, gasLimit: 1_000_000n });
  const run = (height: bigint, txs: SignedTx[]): BlockExecution => {
    const r = executeBlockSequential(benchContext(height), txs, { get: (k) => state.get(k) }, builtinModules);
    for (const [k, val] of r.writeSet) if (val === null) state.delete(k);
    else state.set(k, val);
    return r;
  };
  const [a0, a1] = compareAssets(NATIVE, BENCH_TOKEN) < 0 ? [NATIVE, BENCH_TOKEN] : [BENCH_TOKEN, NATIVE];
  const pool = poolId(a0, a1, 30n);
  run(1n, [tx(0, 'amm', 'create_pool', [v.address(NATIVE), v.address(BENCH_TOKEN), v.u64(30n)])]);
  run(2n, [tx(0, 'amm', 'add_liquidity', [v.address(pool), v.u128(1_000_000n), v.u128(4_000_000n), v.u128(0n), v.u128(0n), v.u64(100n)])]);
  run(3n, [tx(1, 'coin', 'transfer', [v.address(keys[2]!.address), v.u128(1n)])]);
  const pre = new Map(state);
  const q = (k: number, asset: Uint8Array, amount: bigint, min: bigint): SignedTx => tx(k, 'amm', 'swap_batch', [v.address(pool), v.address(asset), v.u128(amount), v.u128(min), v.u64(HEIGHT)]);
  const txs = [
    q(1, NATIVE, 10_000n, 0n),
    q(2, BENCH_TOKEN, 20_000n, 0n),
    tx(0, 'amm', 'swap', [v.address(pool), v.address(NATIVE), v.u128(5_000n), v.u128(0n), v.u64(HEIGHT)]),
    q(3, NATIVE, 30_000n, 1n),
    q(4, NATIVE, 1_000n, 10_000n), // its minimum is above any price: refunded (MINIMUM_NOT_MET)
    tx(1, 'coin', 'transfer', [v.address(keys[3]!.address), v.u128(7n)]),
  ];
  const ctx = benchContext(HEIGHT);
  const r = executeBlockSequential(ctx, txs, { get: (k) => pre.get(k) }, builtinModules);
  const receipts = r.outcomes.map((o) => {
    if (o.kind !== 'included') throw new Error(`vector tx discarded: ${o.code}`);
    return o.encoded;
  });
  const world = WorldState.fromEntries(new Map(pre));
  const vector: BlockEndVector = {
    description: 'One block at height 4 over preState: batch swaps queued on one pool (asset0/asset1 = the two assets in byte order), an instant swap on the same pool, a transfer. Execute the txs in order, then the block-end phase; the settlement events are appended to the receipts of the txs that queued the swaps. Expect exactly these receipts, receiptsRoot, writeSet (sorted, null = deleted) and stateRoot.',
    context: { chainId: ctx.chainId, height: ctx.height.toString(), timestamp: ctx.timestamp.toString(), proposer: toHex(ctx.proposer), treasury: toHex(ctx.params.fee.treasury) },
    preState: [...pre].sort((x, y) => (x[0] < y[0] ? -1 : 1)).map(([k, val]) => [k, toHex(val)]),
    txs: txs.map((t) => toHex(t.raw)),
    receipts: receipts.map(toHex),
    receiptsRoot: toHex(merkleRoot(receipts.map((rc, i) => receiptHash(txs[i]!.hash, rc)))),
    writeSet: r.writeSet.map(([k, val]) => [k, val === null ? null : toHex(val)]),
    stateRoot: toHex(world.prepare(r.writeSet).root),
  };
  return { vector, pre, txs };
}

const fileUrl = new URL('./blockend.json', import.meta.url);

describe('block-end phase vector', () => {
  const built = build();
  if (process.env.PEL_UPDATE_VECTORS === '1') writeFileSync(fileUrl, JSON.stringify(built.vector, null, 2) + '\n');
  const file = JSON.parse(readFileSync(fileUrl, 'utf8')) as BlockEndVector;

  it('the file holds what the code builds today', () => {
    expect(file).toEqual(built.vector);
  });

  it('shows the phase: settlement events in the queuing receipts, a refund, batch records gone, results written', () => {
    const receipts = file.receipts.map((r) => decodeReceipt(fromHex(r)));
    const names = receipts.map((r) => r.events.map((e) => e.name));
    for (const i of [0, 1, 3, 4]) expect(names[i]).toContain('batch_settled');
    expect(names.flat().filter((n) => n === 'batch_cleared')).toHaveLength(1);
    expect(names[2]).toEqual(['swap']);
    const refund = receipts[4]!.events.find((e) => e.name === 'batch_settled')!;
    expect(refund.fields.find((f) => f.name === 'code')!.value.value).toBe('MINIMUM_NOT_MET');
    expect(file.writeSet.filter(([k, val]) => k.startsWith('amm/batch/') && val !== null)).toEqual([]);
    expect(file.writeSet.filter(([k]) => k.startsWith('amm/result/'))).toHaveLength(4);
  });

  it('both executors reproduce the file from its inputs alone', async () => {
    assertDistFresh();
    const pre = new Map(file.preState.map(([k, val]) => [k, fromHex(val)] as [string, Uint8Array]));
    const txs = file.txs.map((raw) => decodeTx(fromHex(raw)));
    const ctx = benchContext(BigInt(file.context.height));
    expect(toHex(ctx.params.fee.treasury)).toBe(file.context.treasury);
    // A real LMDB state store: the workers read it, so the parallel path runs for real.
    const state = await scratchState(pre);
    const world = state.world;
    const { ParallelExecutor } = (await import('../../dist/execution/parallel/executor.js' as string)) as typeof ExecutorModule;
    const par = await ParallelExecutor.create({ workers: 2, minParallelTxs: 1, adaptive: false });
    // Its sequential fallback (a block below minParallelTxs) runs the phase too, exactly once.
    const small = await ParallelExecutor.create({ workers: 1, minParallelTxs: 64, adaptive: false });
    try {
      const fallback = await small.execute(ctx, txs, world);
      expect(fallback.stats.fallback).toBe('small-block');
      const parallel = await par.execute(ctx, txs, world);
      expect(parallel.stats.fallback).toBeNull();
      for (const r of [executeBlockSequential(ctx, txs, world, builtinModules), parallel, fallback]) {
        expect(r.outcomes.map((o) => (o.kind === 'included' ? toHex(o.encoded) : o.code))).toEqual(file.receipts);
        expect(r.writeSet.map(([k, val]) => [k, val === null ? null : toHex(val)])).toEqual(file.writeSet);
        expect(toHex(world.prepare(r.writeSet).root)).toBe(file.stateRoot);
      }
    } finally {
      await par.close();
      await small.close();
      await state.close();
    }
  });
});
