/**
 * The block-end settlement of batch swaps (contracts/amm/settle.ts), run directly on a
 * Map-backed BlockEndView over hand-built states: the worked example, refunds (deadline,
 * minimum, empty pool), several pools in pool id order, and with fast-check (replayable
 * seed): permuting the queued swaps of a block (which tx hash each one has, hence their
 * canonical order, and the order the keys were written) never changes any swap's result,
 * every asset is conserved, the product of the reserves never decreases, the batch and its
 * escrow end empty.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeU128, encodeU128, U128_MAX } from '../../../protocol/codec.js';
import { sha256 } from '../../../protocol/hash.js';
import { toHexRaw } from '../../../protocol/hex.js';
import { utf8 } from '../../../protocol/codec.js';
import type { Event } from '../../../protocol/receipt.js';
import { FEE_TIERS, MAX_PROTOCOL_FEE_BPS } from '../../../contracts/amm/math.js';
import { clearBatch, settleBatches } from '../../../contracts/amm/settle.js';
import {
  assetBalanceKey, BATCH_PREFIX, batchEscrow, batchKey, compareAssets, decodeBatchResult, decodeReserves, encodeBatchSwap, encodeParams,
  encodePoolInfo, encodeReserves, lpTokenId, NATIVE, PARAMS_KEY, poolId, poolKey, reservesKey, resultKey, DEFAULT_POOL_CREATION_FEE,
  type BatchSwap,
} from '../../../contracts/amm/state.js';
import { MapBlockEndView } from './amm-helpers.js';

const SEED = process.env.PEL_FC_SEED ? Number(process.env.PEL_FC_SEED) : 0xba7c_0001;
const RUNS = Number(process.env.PEL_FC_RUNS ?? 200);
const HEIGHT = 50n;
const TREASURY = new Uint8Array(20).fill(0xee);
const TA = new Uint8Array(20).fill(0x11);
const TB = new Uint8Array(20).fill(0x22);
const trader = (i: number): Uint8Array => new Uint8Array(20).fill(0x40 + i);
const hash = (i: number): Uint8Array => sha256(utf8(`tx ${i}`));

interface PoolSpec {
  readonly asset0: Uint8Array;
  readonly asset1: Uint8Array;
  readonly fee: bigint;
  readonly r0: bigint;
  readonly r1: bigint;
}

function addPool(m: Map<string, Uint8Array>, p: PoolSpec): Uint8Array {
  expect(compareAssets(p.asset0, p.asset1)).toBeLessThan(0);
  const pool = poolId(p.asset0, p.asset1, p.fee);
  m.set(poolKey(pool), encodePoolInfo({ asset0: p.asset0, asset1: p.asset1, feeBps: p.fee, lpToken: lpTokenId(pool), creator: trader(0) }));
  m.set(reservesKey(pool), encodeReserves({ reserve0: p.r0, reserve1: p.r1, price0Cumulative: 0n, price1Cumulative: 0n, lastHeight: HEIGHT - 3n }));
  credit(m, p.asset0, pool, p.r0);
  credit(m, p.asset1, pool, p.r1);
  return pool;
}

function credit(m: Map<string, Uint8Array>, asset: Uint8Array, who: Uint8Array, n: bigint): void {
  if (n === 0n) return;
  const k = assetBalanceKey(asset, who);
  m.set(k, encodeU128(decodeU128(m.get(k)) + n));
}

/** What swap_batch leaves behind: the record and the escrowed input. */
function queue(m: Map<string, Uint8Array>, p: PoolSpec, txHash: Uint8Array, s: BatchSwap): void {
  const pool = poolId(p.asset0, p.asset1, p.fee);
  m.set(batchKey(pool, txHash), encodeBatchSwap(s));
  credit(m, s.direction === 0 ? p.asset0 : p.asset1, batchEscrow(pool), s.amountIn);
}

/** Σ of every balance of each asset (coin balances for the native coin). */
function totals(m: Map<string, Uint8Array>): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const [k, val] of m) {
    const asset = k.startsWith('coin/balance/') ? 'native' : k.startsWith('token/balance/') ? k.split('/')[2]! : null;
    if (asset) out.set(asset, (out.get(asset) ?? 0n) + decodeU128(val));
  }
  return out;
}

function settle(m: Map<string, Uint8Array>): Event[] {
  const view = new MapBlockEndView(m);
  settleBatches(view, { height: HEIGHT, treasury: TREASURY });
  return view.events;
}

const fields = (e: Event): Record<string, unknown> => Object.fromEntries(e.fields.map((f) => [f.name, f.value.value]));

describe('amm settlement', () => {
  const P: PoolSpec = { asset0: NATIVE, asset1: TA, fee: 30n, r0: 1_000_000n, r1: 4_000_000n };
  const swap = (i: number, direction: 0 | 1, amountIn: bigint, minOut = 0n, deadline = HEIGHT): BatchSwap => ({ trader: trader(i), direction, amountIn, minOut, deadline, height: HEIGHT });

  it('clears the worked example at one price, refunding the swap whose minimum the price misses', () => {
    const m = new Map<string, Uint8Array>();
    const pool = addPool(m, P);
    queue(m, P, hash(1), swap(1, 0, 10_000n));
    queue(m, P, hash(2), swap(2, 1, 20_000n));
    queue(m, P, hash(3), swap(3, 0, 30_000n));
    queue(m, P, hash(4), swap(4, 0, 1_000n, 3_855n));
    const before = totals(m);
    const events = settle(m);
    const out = new Map(events.filter((e) => e.name === 'batch_settled').map((e) => [toHexRaw(fields(e).trader as Uint8Array), fields(e)]));
    expect(out.get(toHexRaw(trader(1)))).toMatchObject({ amount_out: 38_542n, code: '' });
    expect(out.get(toHexRaw(trader(2)))).toMatchObject({ amount_out: 5_189n, code: '' });
    expect(out.get(toHexRaw(trader(3)))).toMatchObject({ amount_out: 115_626n, code: '' });
    expect(out.get(toHexRaw(trader(4)))).toMatchObject({ amount_out: 0n, code: 'MINIMUM_NOT_MET' });
    expect(decodeU128(m.get(assetBalanceKey(TA, trader(1))))).toBe(38_542n);
    expect(decodeU128(m.get(assetBalanceKey(NATIVE, trader(4))))).toBe(1_000n); // refunded
    expect(decodeReserves(m.get(reservesKey(pool))!)).toMatchObject({ reserve0: 1_034_811n, reserve1: 3_865_832n, lastHeight: HEIGHT });
    expect(totals(m)).toEqual(before);
    expect([...m.keys()].filter((k) => k.startsWith(BATCH_PREFIX))).toEqual([]);
    expect(decodeBatchResult(m.get(resultKey(hash(3)))!)).toMatchObject({ amountOut: 115_626n, code: '', height: HEIGHT, direction: 0 });
  });

  it('within the fee band the two sides fill each other at A1 / A0 and the pool does not trade', () => {
    const m = new Map<string, Uint8Array>();
    const pool = addPool(m, P);
    // 10,000 coin against 40,000 TA: exactly the pool's price, well inside the 0.3% band.
    queue(m, P, hash(1), swap(1, 0, 6_000n));
    queue(m, P, hash(2), swap(2, 0, 4_000n));
    queue(m, P, hash(3), swap(3, 1, 40_000n));
    settle(m);
    expect(decodeU128(m.get(assetBalanceKey(TA, trader(1))))).toBe(24_000n);
    expect(decodeU128(m.get(assetBalanceKey(TA, trader(2))))).toBe(16_000n);
    expect(decodeU128(m.get(assetBalanceKey(NATIVE, trader(3))))).toBe(10_000n);
    expect(decodeReserves(m.get(reservesKey(pool))!)).toMatchObject({ reserve0: 1_000_000n, reserve1: 4_000_000n });
  });

  it('refunds swaps past their deadline (records left from an earlier block) and every swap of an empty pool', () => {
    const m = new Map<string, Uint8Array>();
    addPool(m, P);
    const empty: PoolSpec = { asset0: TA, asset1: TB, fee: 5n, r0: 0n, r1: 0n };
    addPool(m, empty);
    queue(m, P, hash(1), { ...swap(1, 0, 10_000n), deadline: HEIGHT - 1n, height: HEIGHT - 2n });
    queue(m, empty, hash(2), swap(2, 1, 500n));
    const events = settle(m).filter((e) => e.name === 'batch_settled').map(fields);
    expect(events.map((f) => f.code).sort()).toEqual(['DEADLINE_EXPIRED', 'INSUFFICIENT_LIQUIDITY']);
    expect(decodeU128(m.get(assetBalanceKey(NATIVE, trader(1))))).toBe(10_000n);
    expect(decodeU128(m.get(assetBalanceKey(TB, trader(2))))).toBe(500n);
  });

  it('the protocol fee: its share of the fee on the pool net input, to the treasury', () => {
    const m = new Map<string, Uint8Array>();
    m.set(PARAMS_KEY, encodeParams({ protocolFeeBps: 5_000n, poolCreationFee: DEFAULT_POOL_CREATION_FEE }));
    addPool(m, P);
    queue(m, P, hash(1), swap(1, 0, 100_000n));
    queue(m, P, hash(2), swap(2, 1, 40_000n));
    const cleared = fields(settle(m).find((e) => e.name === 'batch_cleared')!);
    const net0 = 100_000n - (cleared.amount0_out as bigint);
    expect(cleared.protocol_fee0).toBe((net0 * 30n * 5_000n) / 10n ** 8n);
    expect(decodeU128(m.get(assetBalanceKey(NATIVE, TREASURY)))).toBe(cleared.protocol_fee0);
  });

  it('settles pools in pool id order; each pool as if it were alone', () => {
    const Q: PoolSpec = { asset0: TA, asset1: TB, fee: 100n, r0: 7_000_000n, r1: 3_000_000n };
    const both = new Map<string, Uint8Array>();
    const alone = new Map<string, Uint8Array>();
    for (const m of [both, alone]) addPool(m, Q);
    addPool(both, P);
    queue(both, P, hash(1), swap(1, 0, 10_000n));
    for (const m of [both, alone]) queue(m, Q, hash(2), swap(2, 1, 99_999n));
    const ev = settle(both).filter((e) => e.name === 'batch_cleared').map((e) => toHexRaw(fields(e).pool as Uint8Array));
    expect(ev).toEqual([poolId(P.asset0, P.asset1, P.fee), poolId(Q.asset0, Q.asset1, Q.fee)].map(toHexRaw).sort());
    settle(alone);
    expect(both.get(resultKey(hash(2)))).toEqual(alone.get(resultKey(hash(2))));
  });

  const amountArb = fc.oneof({ arbitrary: fc.bigInt({ min: 1n, max: 5_000n }), weight: 3 }, { arbitrary: fc.bigInt({ min: 1n, max: 10n ** 7n }), weight: 3 }, { arbitrary: fc.bigInt({ min: 1n, max: 10n ** 20n }), weight: 1 });
  const swapArb = fc.record({
    direction: fc.constantFrom(0 as const, 1 as const),
    amountIn: amountArb,
    // min_out as a fraction (per mille) of the swap's value at the pool's price: 0 (none), below, around and above it.
    minPerMille: fc.oneof({ arbitrary: fc.constant(0n), weight: 3 }, { arbitrary: fc.bigInt({ min: 900n, max: 1_010n }), weight: 3 }, { arbitrary: fc.bigInt({ min: 0n, max: 2_000n }), weight: 1 }),
    expired: fc.oneof({ arbitrary: fc.constant(false), weight: 12 }, { arbitrary: fc.constant(true), weight: 1 }),
  });
  const caseArb = fc.record({
    r0: fc.oneof(fc.bigInt({ min: 1n, max: 1_000n }), fc.bigInt({ min: 1_000n, max: 10n ** 12n }), fc.bigInt({ min: 1n, max: 10n ** 30n })),
    r1: fc.oneof(fc.bigInt({ min: 1n, max: 1_000n }), fc.bigInt({ min: 1_000n, max: 10n ** 12n }), fc.bigInt({ min: 1n, max: 10n ** 30n })),
    fee: fc.constantFrom(...FEE_TIERS),
    protocolFeeBps: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: MAX_PROTOCOL_FEE_BPS })),
    native: fc.boolean(),
    swaps: fc.array(swapArb, { minLength: 1, maxLength: 14 }),
  });

  it('permuting the swaps of a block changes no swap result; assets conserved; x*y never decreases', () => {
    let filled = 0;
    let refundedForMinimum = 0;
    fc.assert(
      fc.property(
        caseArb.chain((c) => fc.tuple(fc.constant(c), fc.shuffledSubarray([...c.swaps.keys()], { minLength: c.swaps.length, maxLength: c.swaps.length }), fc.shuffledSubarray([...c.swaps.keys()], { minLength: c.swaps.length, maxLength: c.swaps.length }))),
        ([c, perm, writeOrder]) => {
          const p: PoolSpec = { asset0: c.native ? NATIVE : TA, asset1: TB, fee: c.fee, r0: c.r0, r1: c.r1 };
          const swaps = c.swaps.map((s, i): BatchSwap => {
            const value = s.direction === 0 ? (s.amountIn * c.r1) / c.r0 : (s.amountIn * c.r0) / c.r1;
            const minOut = (value * s.minPerMille) / 1_000n;
            return { trader: trader(i), direction: s.direction, amountIn: s.amountIn, minOut: minOut > U128_MAX ? U128_MAX : minOut, deadline: s.expired ? HEIGHT - 1n : HEIGHT + 5n, height: HEIGHT };
          });
          // Run A: swap i has tx hash i, keys written in order. Run B: swap i has hash perm[i], keys written in another order.
          const run = (hashOf: (i: number) => number, order: readonly number[]) => {
            const m = new Map<string, Uint8Array>();
            m.set(PARAMS_KEY, encodeParams({ protocolFeeBps: c.protocolFeeBps, poolCreationFee: 0n }));
            const pool = addPool(m, p);
            for (const i of order) queue(m, p, hash(hashOf(i)), swaps[i]!);
            const before = totals(m);
            const r0 = decodeReserves(m.get(reservesKey(pool))!);
            const events = settle(m);
            expect(totals(m), 'every asset conserved').toEqual(before);
            const r1 = decodeReserves(m.get(reservesKey(pool))!);
            expect(r1.reserve0 * r1.reserve1).toBeGreaterThanOrEqual(r0.reserve0 * r0.reserve1);
            expect(decodeU128(m.get(assetBalanceKey(p.asset0, pool)))).toBeGreaterThanOrEqual(r1.reserve0);
            expect(decodeU128(m.get(assetBalanceKey(p.asset1, pool)))).toBeGreaterThanOrEqual(r1.reserve1);
            expect([...m.keys()].filter((k) => k.startsWith(BATCH_PREFIX))).toEqual([]);
            expect(decodeU128(m.get(assetBalanceKey(p.asset0, batchEscrow(pool))))).toBe(0n);
            expect(decodeU128(m.get(assetBalanceKey(p.asset1, batchEscrow(pool))))).toBe(0n);
            const results = swaps.map((_, i) => decodeBatchResult(m.get(resultKey(hash(hashOf(i))))!));
            const balances = swaps.map((s) => [decodeU128(m.get(assetBalanceKey(p.asset0, s.trader))), decodeU128(m.get(assetBalanceKey(p.asset1, s.trader)))]);
            const perSwap = events.filter((e) => e.name === 'batch_settled').map(fields).sort((x, y) => compareAssets(x.trader as Uint8Array, y.trader as Uint8Array));
            const cleared = fields(events.find((e) => e.name === 'batch_cleared')!);
            return { results: results.map((r) => ({ ...r, trader: toHexRaw(r.trader) })), balances, reserves: r1, cleared, perSwap: perSwap.map((f) => ({ ...f, tx_hash: null })), treasuryHeld: [decodeU128(m.get(assetBalanceKey(p.asset0, TREASURY))), decodeU128(m.get(assetBalanceKey(p.asset1, TREASURY)))] };
          };
          const a = run((i) => i, [...swaps.keys()]);
          const b = run((i) => 1_000 + perm[i]!, writeOrder);
          expect(b).toEqual(a);
          // The pure clearing agrees with what was written.
          const pure = clearBatch(swaps, { reserve0: c.r0, reserve1: c.r1 }, c.fee, HEIGHT);
          expect(pure.results.map((r) => r.amountOut)).toEqual(a.results.map((r) => r.amountOut));
          for (const r of a.results) {
            if (r.code === '') filled++;
            if (r.code === 'MINIMUM_NOT_MET') refundedForMinimum++;
          }
          // A filled swap always gets at least its minimum; a refund gets its input back.
          a.results.forEach((r, i) => {
            if (r.code === '') expect(r.amountOut).toBeGreaterThanOrEqual(swaps[i]!.minOut);
            else expect(a.balances[i]![swaps[i]!.direction]).toBe(swaps[i]!.amountIn);
          });
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    expect(filled).toBeGreaterThan(RUNS);
    expect(refundedForMinimum).toBeGreaterThan(RUNS / 10);
  });
});
