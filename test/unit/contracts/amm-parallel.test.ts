/**
 * The amm under Block-STM: random chains of blocks of instant swaps, multi-hop swaps, batch
 * deposits, liquidity changes, LP transfers, stakes, unstakes and reward claims over 1 to 3
 * hot pools, run by the parallel executor with 1 to 4 workers and by the sequential one, give
 * the same outcomes, receipts (events included), write sets and state roots, with the batches
 * settled by both executors' block-end phase. After each block every invariant is checked: conservation of every asset, pool
 * accounts >= reserves, escrows and reward accounts solvent, and x*y of a pool never lower
 * after any swap or batch than before it. A block of batch deposits alone runs without a
 * single re-execution: deposits do not conflict.
 *
 * Replayable: PEL_FC_SEED / PEL_FC_RUNS. The workers load dist/ (`npm run build` first).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { decodeU64 } from '../../../protocol/codec.js';
import { concatBytes, toHexRaw } from '../../../protocol/hex.js';
import { devKeyPair, type KeyPair } from '../../../protocol/keys.js';
import type { Event } from '../../../protocol/receipt.js';
import type { SignedTx } from '../../../protocol/tx.js';
import { v, type Value } from '../../../protocol/value.js';
import { nonceKey } from '../../../contracts/coin/state.js';
import { FEE_ADMIN_KEY } from '../../../contracts/fee/params.js';
import { deriveId } from '../../../contracts/ids.js';
import { compareAssets, getReserves, lpTokenId, NATIVE, poolId } from '../../../contracts/amm/state.js';
import { builtinModules } from '../../../contracts/registry.js';
import { benchContext } from '../../../bench/workload.js';
import { executeBlockSequential } from '../../../execution/sequential.js';
import type * as ExecutorModule from '../../../execution/parallel/executor.js';
import type { BlockExecution } from '../../../execution/types.js';
import { scratchState } from '../../../bench/scratch-state.js';
import { buildCall } from '../../../sdk/tx.js';
import { assertDistFresh } from '../execution/parallel/dist.js';
import { diffExecutions } from '../execution/parallel/gen.js';
import { addToken, AmmChain, checkAmmInvariants, settlementEvents } from './amm-helpers.js';

const SENDERS = 8;
const ADMIN = SENDERS - 1;
const keys: KeyPair[] = Array.from({ length: SENDERS }, (_, i) => devKeyPair(i));
const TA = deriveId('token', new Uint8Array(32).fill(0x31));
const TB = deriveId('token', new Uint8Array(32).fill(0x32));
const TC = deriveId('token', new Uint8Array(32).fill(0x33));
const TOKENS = [TA, TB, TC];
const sorted = (x: Uint8Array, y: Uint8Array): [Uint8Array, Uint8Array] => (compareAssets(x, y) < 0 ? [x, y] : [y, x]);
/** The chain of pools NATIVE - TA - TB - TC (tiers 30, 5, 100): paths run along it. */
const CHAIN_ASSETS = [NATIVE, TA, TB, TC];
const FEES = [30n, 5n, 100n];
const POOLS = FEES.map((f, i) => poolId(...sorted(CHAIN_ASSETS[i]!, CHAIN_ASSETS[i + 1]!), f));
const GAS = 1_000_000n;
const SEED = process.env.PEL_FC_SEED ? Number(process.env.PEL_FC_SEED) : 0xa33_0001;
const RUNS = Number(process.env.PEL_FC_RUNS ?? 40);

interface Base {
  readonly state: Map<string, Uint8Array>;
  readonly programmes: readonly Uint8Array[];
  readonly height: bigint;
  readonly coinSupply: bigint;
}

/** Three pools with liquidity from every sender, a fee switch at 1/6, a programme per pool with stakers. */
function buildBase(): Base {
  const m = new Map<string, Uint8Array>();
  for (const t of TOKENS) addToken(m, t, keys.map((k) => [k.address, 10n ** 15n] as const));
  m.set(FEE_ADMIN_KEY, keys[ADMIN]!.address);
  const c = new AmmChain(keys, m);
  c.block(POOLS.map((_, i) => c.tx(keys[0]!, 'amm', 'create_pool', [v.address(CHAIN_ASSETS[i]!), v.address(CHAIN_ASSETS[i + 1]!), v.u64(FEES[i]!)], GAS)));
  c.block(keys.flatMap((k, j) => POOLS.map((p) => c.tx(k, 'amm', 'add_liquidity', [v.address(p), v.u128(10n ** 9n + BigInt(j) * 7_777n), v.u128(3n * 10n ** 9n), v.u128(0n), v.u128(0n), v.u64(10n ** 6n)], GAS))));
  c.ok(keys[ADMIN]!, 'amm', 'set_params', [v.u64(1_667n), v.u128(10n ** 6n)]);
  const start = c.height + 1n;
  const creates = POOLS.map((p, i) => c.tx(keys[1]!, 'amm', 'create_programme', [v.address(p), v.address(i === 0 ? NATIVE : TC), v.u128(1_000_003n), v.u64(start), v.u64(start + 40n)], GAS));
  c.block(creates);
  const programmes = creates.map((t) => deriveId('amm-programme', t.hash));
  c.block(keys.slice(0, 5).flatMap((k, j) => programmes.map((p) => c.tx(k, 'amm', 'stake', [v.address(p), v.u128(10_000n * BigInt(j + 1))], GAS))));
  return { state: c.state, programmes, height: c.height, coinSupply: c.coinSupply };
}

type Op =
  | { t: 'swap'; pool: number; side: 0 | 1; amount: bigint; tight: boolean }
  | { t: 'path'; from: number; hops: number; reverse: boolean; amount: bigint }
  | { t: 'batch'; pool: number; side: 0 | 1; amount: bigint; minPerMille: bigint }
  | { t: 'add'; pool: number; a0: bigint; a1: bigint; tight: boolean }
  | { t: 'remove'; pool: number; shares: bigint }
  | { t: 'lp'; pool: number; to: number; amount: bigint }
  | { t: 'stake' | 'unstake'; prog: number; amount: bigint }
  | { t: 'claim'; prog: number }
  | { t: 'params'; bps: bigint };

const idx = fc.integer({ min: 0, max: 2 });
const side = fc.constantFrom(0 as const, 1 as const);
const amount = fc.oneof({ arbitrary: fc.bigInt({ min: 1n, max: 10_000n }), weight: 4 }, { arbitrary: fc.bigInt({ min: 10_000n, max: 10n ** 8n }), weight: 3 }, { arbitrary: fc.constant(0n), weight: 1 }, { arbitrary: fc.bigInt({ min: 10n ** 9n, max: 10n ** 10n }), weight: 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('swap' as const), pool: idx, side, amount, tight: fc.boolean() }), weight: 12 },
  { arbitrary: fc.record({ t: fc.constant('path' as const), from: idx, hops: fc.integer({ min: 1, max: 3 }), reverse: fc.boolean(), amount }), weight: 5 },
  { arbitrary: fc.record({ t: fc.constant('batch' as const), pool: idx, side, amount, minPerMille: fc.oneof(fc.constant(0n), fc.bigInt({ min: 900n, max: 1_050n })) }), weight: 12 },
  { arbitrary: fc.record({ t: fc.constant('add' as const), pool: idx, a0: amount, a1: amount, tight: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constant('remove' as const), pool: idx, shares: amount }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('lp' as const), pool: idx, to: fc.integer({ min: 0, max: SENDERS - 1 }), amount }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constantFrom('stake' as const, 'unstake' as const), prog: idx, amount: fc.bigInt({ min: 0n, max: 30_000n }) }), weight: 5 },
  { arbitrary: fc.record({ t: fc.constant('claim' as const), prog: idx }), weight: 5 },
  { arbitrary: fc.record({ t: fc.constant('params' as const), bps: fc.constantFrom(0n, 1_667n, 5_000n, 5_001n) }), weight: 1 },
);
const blockArb: fc.Arbitrary<BlockSpec> = fc.record({
  workers: fc.integer({ min: 1, max: 4 }),
  hot: fc.integer({ min: 1, max: 3 }),
  advance: fc.integer({ min: 0, max: 3 }),
  ops: fc.array(fc.record({ sender: fc.integer({ min: 0, max: SENDERS - 1 }), op: opArb }), { minLength: 1, maxLength: 40, size: 'max' }),
});

/** The pools of a path along the chain, and the asset it starts with. */
function pathOf(op: Extract<Op, { t: 'path' }>, hot: number): { pools: Uint8Array[]; assetIn: Uint8Array } {
  const first = op.from % hot;
  const last = Math.min(hot - 1, first + op.hops - 1);
  const range = Array.from({ length: last - first + 1 }, (_, i) => first + i);
  const pools = (op.reverse ? [...range].reverse() : range).map((i) => POOLS[i]!);
  return { pools, assetIn: op.reverse ? CHAIN_ASSETS[last + 1]! : CHAIN_ASSETS[first]! };
}

function sideAsset(pool: number, s: 0 | 1): Uint8Array {
  return sorted(CHAIN_ASSETS[pool]!, CHAIN_ASSETS[pool + 1]!)[s];
}

interface BlockSpec {
  readonly workers: number;
  readonly hot: number;
  readonly advance: number;
  readonly ops: readonly { readonly sender: number; readonly op: Op }[];
}

function txsOf(b: BlockSpec, nonces: bigint[], programmes: readonly Uint8Array[], height: bigint, reserves: (pool: Uint8Array) => [bigint, bigint]): SignedTx[] {
  return b.ops.map(({ sender, op }) => {
    const sign = (call: string, args: Value[]): SignedTx =>
      buildCall({ chainId: 1337, key: keys[sender]!, nonce: nonces[sender]!++, module: 'amm', call, args, expiry: 1_000_000n, gasLimit: GAS });
    const D = v.u64(height + 5n);
    switch (op.t) {
      case 'swap': {
        const p = op.pool % b.hot;
        // A tight minimum asks for more than the whole opposite reserve: MINIMUM_NOT_MET.
        return sign('swap', [v.address(POOLS[p]!), v.address(sideAsset(p, op.side)), v.u128(op.amount), v.u128(op.tight ? 10n ** 30n : 0n), D]);
      }
      case 'path': {
        const { pools, assetIn } = pathOf(op, b.hot);
        return sign('swap_path', [v.bytes(concatBytes(...pools)), v.address(assetIn), v.u128(op.amount), v.u128(0n), D]);
      }
      case 'batch': {
        const p = op.pool % b.hot;
        const [r0, r1] = reserves(POOLS[p]!);
        const value = op.side === 0 ? (op.amount * r1) / r0 : (op.amount * r0) / r1;
        return sign('swap_batch', [v.address(POOLS[p]!), v.address(sideAsset(p, op.side)), v.u128(op.amount), v.u128((value * op.minPerMille) / 1_000n), D]);
      }
      case 'add': {
        const p = op.pool % b.hot;
        return sign('add_liquidity', [v.address(POOLS[p]!), v.u128(op.a0), v.u128(op.a1), v.u128(op.tight ? op.a0 : 0n), v.u128(op.tight ? op.a1 : 0n), D]);
      }
      case 'remove':
        return sign('remove_liquidity', [v.address(POOLS[op.pool % b.hot]!), v.u128(op.shares), v.u128(0n), v.u128(0n), D]);
      case 'lp':
        return buildCall({ chainId: 1337, key: keys[sender]!, nonce: nonces[sender]!++, module: 'token', call: 'transfer', args: [v.address(lpTokenId(POOLS[op.pool % b.hot]!)), v.address(keys[op.to]!.address), v.u128(op.amount)], expiry: 1_000_000n, gasLimit: GAS });
      case 'stake':
      case 'unstake':
        return sign(op.t, [v.address(programmes[op.prog % b.hot]!), v.u128(op.amount)]);
      case 'claim':
        return sign('claim', [v.address(programmes[op.prog % b.hot]!)]);
      case 'params':
        return buildCall({ chainId: 1337, key: keys[sender % 2 === 0 ? ADMIN : sender]!, nonce: nonces[sender % 2 === 0 ? ADMIN : sender]!++, module: 'amm', call: 'set_params', args: [v.u64(op.bps), v.u128(10n ** 6n)], expiry: 1_000_000n, gasLimit: GAS });
    }
  });
}

/** x*y of each pool never falls through a swap or a batch: walk the events in order. */
function checkProducts(events: readonly Event[], last: Map<string, [bigint, bigint]>): number {
  let swaps = 0;
  for (const e of events) {
    if (e.module !== 'amm' || !['swap', 'liquidity_added', 'liquidity_removed', 'batch_cleared'].includes(e.name)) continue;
    const f = Object.fromEntries(e.fields.map((x) => [x.name, x.value.value]));
    const pool = toHexRaw(f.pool as Uint8Array);
    const after: [bigint, bigint] = [f.reserve0 as bigint, f.reserve1 as bigint];
    if (e.name === 'swap' || e.name === 'batch_cleared') {
      const before = last.get(pool)!;
      expect(after[0] * after[1], `x*y of ${pool} through ${e.name}`).toBeGreaterThanOrEqual(before[0] * before[1]);
      swaps++;
    }
    last.set(pool, after);
  }
  return swaps;
}

describe('amm: parallel executor == sequential executor', () => {
  const executors = new Map<number, ExecutorModule.ParallelExecutor>();
  let base: Base;
  const codes = new Map<string, number>();
  const fallbacks = new Map<string, number>();

  beforeAll(async () => {
    assertDistFresh();
    const { ParallelExecutor } = (await import('../../../dist/execution/parallel/executor.js' as string)) as typeof ExecutorModule;
    for (const w of [1, 2, 3, 4]) executors.set(w, await ParallelExecutor.create({ workers: w, minParallelTxs: 1, adaptive: false, contentionPct: 1e9, incarnationLimit: 1_000, modules: 'builtin' }));
    base = buildBase();
  }, 120_000);

  afterAll(async () => {
    for (const ex of executors.values()) await ex.close();
    // eslint-disable-next-line no-console
    console.log(`amm equivalence: fallbacks ${[...fallbacks].map(([k, n]) => `${k}=${n}`).join(' ')}; outcomes ${[...codes].sort().map(([k, n]) => `${k}=${n}`).join(' ')}`);
  });

  it('random chains of amm blocks over 1-3 hot pools with 1-4 workers: same outcomes, events, write sets, state roots', async () => {
    let checkedSwaps = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(blockArb, { minLength: 1, maxLength: 3 }), async (blocks) => {
        // A real LMDB state store per run (the workers read it), removed at the run's end.
        const state = await scratchState(base.state);
        const world = state.world;
        try {
          const nonces = keys.map((k) => decodeU64(world.get(nonceKey(k.address))));
          let height = base.height;
          for (const b of blocks) {
            height += BigInt(b.advance);
            const reservesOf = (p: Uint8Array): [bigint, bigint] => {
              const r = getReserves(world, p);
              return [r.reserve0, r.reserve1];
            };
            const txs = txsOf(b, nonces, base.programmes, height, reservesOf);
            const ctx = benchContext(height);
            const ex = executors.get(b.workers)!;
            const seq: BlockExecution = executeBlockSequential(ctx, txs, world, builtinModules);
            const par = await ex.execute(ctx, txs, world);
            const f = par.stats.fallback ?? 'none';
            if (f.startsWith('worker-error')) throw new Error(`parallel executor worker error: ${f}`);
            fallbacks.set(f.startsWith('suffix-from-') ? 'suffix' : f, (fallbacks.get(f.startsWith('suffix-from-') ? 'suffix' : f) ?? 0) + 1);
            const d = diffExecutions(seq, par, world);
            if (d !== null) throw new Error(d);
            const last = new Map(POOLS.map((p) => [toHexRaw(p), reservesOf(p)] as [string, [bigint, bigint]]));
            seq.outcomes.forEach((o, i) => {
              const k = `${txs[i]!.module}.${txs[i]!.call}:${o.kind === 'included' ? o.receipt.errorCode || 'ok' : o.code}`;
              codes.set(k, (codes.get(k) ?? 0) + 1);
              // The tx's own events (the settlement events its receipt may carry come after the block's txs).
              if (o.kind === 'included') checkedSwaps += checkProducts(o.receipt.events.filter((e) => e.name !== 'batch_settled' && e.name !== 'batch_cleared'), last);
            });
            // The block-end phase ran in both executors (diffExecutions compared its writes and
            // the settlement events in the receipts); check the swaps it settled.
            const end = settlementEvents(seq.outcomes.flatMap((o) => (o.kind === 'included' ? o.receipt.events : [])));
            checkedSwaps += checkProducts(end, last);
            for (const e of end.filter((x) => x.name === 'batch_settled')) {
              const code = e.fields.find((x) => x.name === 'code')!.value.value as string;
              codes.set(`settled:${code || 'filled'}`, (codes.get(`settled:${code || 'filled'}`) ?? 0) + 1);
            }
            expect(seq.writeSet.some(([k, val]) => k.startsWith('amm/batch/') && val !== null), 'settlement empties every batch').toBe(false);
            await state.commit(seq.writeSet);
            checkAmmInvariants(new Map(world.entries()), base.coinSupply, TOKENS);
            height++;
          }
        } finally {
          await state.close();
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
    for (const call of ['swap:ok', 'swap_path:ok', 'swap_batch:ok', 'add_liquidity:ok', 'remove_liquidity:ok', 'stake:ok', 'unstake:ok', 'claim:ok', 'swap:MINIMUM_NOT_MET']) {
      expect(codes.get(`amm.${call}`) ?? 0, call).toBeGreaterThan(0);
    }
    expect(codes.get('settled:filled') ?? 0).toBeGreaterThan(RUNS);
    expect(codes.get('settled:MINIMUM_NOT_MET') ?? 0).toBeGreaterThan(0);
    expect(checkedSwaps).toBeGreaterThan(RUNS * 10);
    const total = [...fallbacks.values()].reduce((x, y) => x + y, 0);
    expect((fallbacks.get('none') ?? 0) / total, 'mostly the parallel path').toBeGreaterThanOrEqual(0.7);
  }, 600_000);

  it('permuting the batch swaps of a block changes no swap\'s output, write set or state root (both executors, 1-4 workers)', async () => {
    const swapArb = fc.record({ pool: idx, side, amount: fc.bigInt({ min: 1n, max: 10n ** 8n }), minPerMille: fc.oneof(fc.constant(0n), fc.bigInt({ min: 950n, max: 1_020n })) });
    let settledSwaps = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(swapArb, { minLength: 2, maxLength: SENDERS, size: 'max' }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.nat(), async (swaps, hot, w1, w2, shuffleSeed) => {
        const state = await scratchState(base.state);
        const world = state.world;
        const height = base.height + 1n;
        const nonces = keys.map((k) => decodeU64(world.get(nonceKey(k.address))));
        // One swap per sender (each at its own nonce), so any order of the txs is valid.
        const txs = txsOf({ workers: 1, hot, advance: 0, ops: swaps.map((op, i) => ({ sender: i, op: { t: 'batch' as const, ...op } })) }, nonces, base.programmes, height, (p) => {
          const r = getReserves(world, p);
          return [r.reserve0, r.reserve1];
        });
        const perm = txs.map((t, i) => ({ t, k: (shuffleSeed * 2_654_435_761 + i * 40_503) % 1_000_003 })).sort((x, y) => x.k - y.k).map((x) => x.t);
        const ctx = benchContext(height);
        const outputs = (ex: BlockExecution): Map<string, string> => {
          const m = new Map<string, string>();
          for (const e of settlementEvents(ex.outcomes.flatMap((o) => (o.kind === 'included' ? o.receipt.events : [])))) {
            const f = Object.fromEntries(e.fields.map((x) => [x.name, x.value.value]));
            m.set(e.name === 'batch_settled' ? toHexRaw(f.tx_hash as Uint8Array) : `cleared/${toHexRaw(f.pool as Uint8Array)}`, JSON.stringify(e, (_, x) => (typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? toHexRaw(x) : x)));
          }
          return m;
        };
        const a = executeBlockSequential(ctx, txs, world, builtinModules);
        const b = executeBlockSequential(ctx, perm, world, builtinModules);
        const pa = await executors.get(w1)!.execute(ctx, txs, world);
        const pb = await executors.get(w2)!.execute(ctx, perm, world);
        expect(diffExecutions(a, pa, world)).toBeNull();
        expect(diffExecutions(b, pb, world)).toBeNull();
        expect(a.outcomes.every((o) => o.kind === 'included' && o.receipt.status === 'success')).toBe(true);
        expect(outputs(b)).toEqual(outputs(a));
        expect(b.writeSet).toEqual(a.writeSet);
        expect(toHexRaw(world.prepare(b.writeSet).root)).toBe(toHexRaw(world.prepare(a.writeSet).root));
        settledSwaps += outputs(a).size;
        await state.close();
      }),
      { numRuns: Math.max(10, RUNS >> 1), seed: SEED + 1 },
    );
    expect(settledSwaps).toBeGreaterThan(RUNS);
  }, 300_000);

  it('a block of batch deposits on one pool runs without a single re-execution', async () => {
    const state = await scratchState(base.state);
    onTestFinished(() => state.close());
    const world = state.world;
    const txs = keys.map((k, i) =>
      buildCall({ chainId: 1337, key: k, nonce: decodeU64(world.get(nonceKey(k.address))), module: 'amm', call: 'swap_batch', args: [v.address(POOLS[0]!), v.address(i % 2 === 0 ? NATIVE : TA), v.u128(1_000n + BigInt(i)), v.u128(0n), v.u64(base.height)], expiry: 1_000_000n, gasLimit: GAS }),
    );
    const ctx = benchContext(base.height);
    const ex = executors.get(4)!;
    const par = await ex.execute(ctx, txs, world);
    expect(diffExecutions(executeBlockSequential(ctx, txs, world, builtinModules), par, world)).toBeNull();
    expect(par.outcomes.every((o) => o.kind === 'included' && o.receipt.status === 'success')).toBe(true);
    expect(par.stats.fallback).toBeNull();
    expect(par.stats.incarnations).toBe(txs.length);
  });
});
