/**
 * The amm module through the sequential executor (harness.ts's Chain, batch swaps settled at
 * each block's end on a Map-backed BlockEndView): the worked example of docs/MODULES.md with
 * exact integers, the LP token (a token-module token: transferable, stakable), multi-hop
 * swaps and both quotes, the protocol fee switch, the TWAP oracle, batch deposits (their
 * exact read and write set) and settlement, liquidity mining, every call's every error
 * (its own code, no effect beyond the sender's fee and nonce), and after each scenario the
 * conservation of every asset.
 */
import { describe, expect, it } from 'vitest';
import { decodeU128, encodeU128 } from '../../../protocol/codec.js';
import { concatBytes, toHex, toHexRaw } from '../../../protocol/hex.js';
import { devKeyPair, type KeyPair } from '../../../protocol/keys.js';
import { v, type Value } from '../../../protocol/value.js';
import { balanceKey } from '../../../contracts/coin/state.js';
import { FEE_ADMIN_KEY } from '../../../contracts/fee/params.js';
import { deriveId } from '../../../contracts/ids.js';
import { ammModule } from '../../../contracts/amm/module.js';
import { amountOut, isqrt, MINIMUM_LIQUIDITY, PRICE_SCALE } from '../../../contracts/amm/math.js';
import {
  batchEscrow, batchKey, compareAssets, DEAD_ADDRESS, DEFAULT_POOL_CREATION_FEE, lpTokenId, NATIVE, poolId, reservesKey, resultKey, rewardAccount, stakeEscrow,
  decodeReserves,
} from '../../../contracts/amm/state.js';
import { tokenModule } from '../../../contracts/token/module.js';
import { tokenSupplyKey } from '../../../contracts/token/state.js';
import type { CallContext, StateView } from '../../../contracts/types.js';
import type { Event } from '../../../protocol/receipt.js';
import { fails, type Sent } from './module-test-helpers.js';
import { addToken, AmmChain, checkAmmInvariants, TREASURY } from './amm-helpers.js';

const [alice, bob, carol, dave, admin, poor] = [0, 1, 2, 3, 4, 5].map((i) => devKeyPair(i)) as [KeyPair, KeyPair, KeyPair, KeyPair, KeyPair, KeyPair];
const TA = deriveId('token', new Uint8Array(32).fill(1));
const TB = deriveId('token', new Uint8Array(32).fill(2));
const TC = deriveId('token', new Uint8Array(32).fill(3));
const UNKNOWN = deriveId('token', new Uint8Array(32).fill(4));
const TOKENS = [TA, TB, TC];
const D = 1_000_000n; // deadline far ahead

function newChain(): AmmChain {
  const m = new Map<string, Uint8Array>();
  for (const [i, t] of TOKENS.entries()) addToken(m, t, [alice, bob, carol, dave].map((k) => [k.address, 10n ** 12n] as const), `T${i}`);
  m.set(FEE_ADMIN_KEY, admin.address);
  // A poor account: enough to reserve one call's maximum fee (2,000,000), nothing more.
  m.set(balanceKey(poor.address), encodeU128(2_000_050n));
  return new AmmChain([alice, bob, carol, dave, admin], m);
}

const a = (x: Uint8Array): Value => v.address(x);
const u = (x: bigint): Value => v.u128(x);
const u64 = (x: bigint): Value => v.u64(x);

function fieldsOf(s: Sent | Event[], name: string): Record<string, unknown>[] {
  const events = Array.isArray(s) ? s : s.receipt.events;
  return events.filter((e) => e.name === name).map((e) => Object.fromEntries(e.fields.map((f) => [f.name, f.value.value])));
}

function createPool(c: AmmChain, x: Uint8Array, y: Uint8Array, fee = 30n): Uint8Array {
  const s = c.ok(alice, 'amm', 'create_pool', [a(x), a(y), u64(fee)]);
  return fieldsOf(s, 'pool_created')[0]!.pool as Uint8Array;
}

function add(c: AmmChain, k: KeyPair, pool: Uint8Array, d0: bigint, d1: bigint, m0 = 0n, m1 = 0n): Sent {
  return c.ok(k, 'amm', 'add_liquidity', [a(pool), u(d0), u(d1), u(m0), u(m1), u64(D)]);
}

function reserves(c: AmmChain, pool: Uint8Array): [bigint, bigint] {
  const r = decodeReserves(c.state.get(reservesKey(pool))!);
  return [r.reserve0, r.reserve1];
}

describe('amm: the worked example (docs/MODULES.md)', () => {
  it('creates a pool, adds liquidity, swaps, adds at the ratio, swaps with the protocol fee on, removes', () => {
    const c = newChain();
    const treasury0 = c.bal(NATIVE, TREASURY);
    const created = c.ok(alice, 'amm', 'create_pool', [a(TA), a(NATIVE), u64(30n)]);
    const pool = poolId(NATIVE, TA, 30n);
    expect(fieldsOf(created, 'pool_created')).toEqual([{ pool, asset0: NATIVE, asset1: TA, fee_bps: 30n, lp_token: lpTokenId(pool), creator: alice.address, creation_fee: DEFAULT_POOL_CREATION_FEE }]);
    // The creation fee and the treasury's share of the gas fee (30%) reach the treasury.
    expect(c.bal(NATIVE, TREASURY) - treasury0).toBe(DEFAULT_POOL_CREATION_FEE + (created.receipt.fee * 3_000n) / 10_000n);
    // The LP token is a token of the token module, minted by the pool alone.
    const lp = lpTokenId(pool);
    expect(tokenModule.views!.getInfo!.run({ get: (k) => c.state.get(k) }, [lp], { height: c.height })).toMatchObject({ symbol: 'ALP', totalSupply: '0', mintAuthority: toHex(pool), creator: toHex(pool) });
    expect(c.view('getPoolId', [TA, NATIVE, 30n])).toEqual({ pool: toHex(pool), asset0: toHex(NATIVE), asset1: toHex(TA), feeBps: 30, lpToken: toHex(lp), exists: true });

    // 1. Alice deposits 1,000,000 coin and 4,000,000 TA: sqrt = 2,000,000 shares, 1,000 locked.
    const coin0 = c.bal(NATIVE, alice.address);
    const first = add(c, alice, pool, 1_000_000n, 4_000_000n);
    expect(fieldsOf(first, 'liquidity_added')).toEqual([{ pool, provider: alice.address, amount0: 1_000_000n, amount1: 4_000_000n, shares: 1_999_000n, reserve0: 1_000_000n, reserve1: 4_000_000n }]);
    expect(c.bal(lp, alice.address)).toBe(1_999_000n);
    expect(c.bal(lp, DEAD_ADDRESS)).toBe(MINIMUM_LIQUIDITY);
    expect(c.bal(NATIVE, alice.address)).toBe(coin0 - 1_000_000n - first.receipt.fee);
    expect(c.view('getPool', [pool])).toMatchObject({ reserve0: '1000000', reserve1: '4000000', totalShares: '2000000', protocolFeeBps: 0 });

    // 2. Bob sells 10,000 TA: floor(10,000 * 9970 * 1,000,000 / (4,000,000 * 10000 + 10,000 * 9970)) = 2,486 coin.
    const q = c.view('quoteExactIn', [toHex(pool), TA, 10_000n]);
    expect(q).toMatchObject({ amountIn: '10000', assetOut: toHex(NATIVE), amountOut: '2486' });
    const bobCoin = c.bal(NATIVE, bob.address);
    const s1 = c.ok(bob, 'amm', 'swap', [a(pool), a(TA), u(10_000n), u(2_486n), u64(D)]);
    expect(fieldsOf(s1, 'swap')).toEqual([{ pool, trader: bob.address, asset_in: TA, amount_in: 10_000n, asset_out: NATIVE, amount_out: 2_486n, protocol_fee: 0n, reserve0: 997_514n, reserve1: 4_010_000n }]);
    expect(c.bal(NATIVE, bob.address)).toBe(bobCoin + 2_486n - s1.receipt.fee);
    expect(997_514n * 4_010_000n).toBeGreaterThanOrEqual(1_000_000n * 4_000_000n);

    // 3. Carol offers 10,000 coin and up to 50,000 TA: at the ratio she deposits floor(10,000 * 4,010,000 / 997,514) = 40,199 TA.
    const carolTa = c.bal(TA, carol.address);
    const s2 = add(c, carol, pool, 10_000n, 50_000n, 10_000n, 40_000n);
    expect(fieldsOf(s2, 'liquidity_added')[0]).toMatchObject({ amount0: 10_000n, amount1: 40_199n, shares: 20_049n });
    expect(c.bal(TA, carol.address)).toBe(carolTa - 40_199n); // only what is used is debited
    expect(reserves(c, pool)).toEqual([1_007_514n, 4_050_199n]);

    // 4. The fee admin turns the protocol fee on: 1667 bps of the fee (about 1/6).
    c.ok(admin, 'amm', 'set_params', [u64(1_667n), u(DEFAULT_POOL_CREATION_FEE)]);
    const before = c.bal(NATIVE, TREASURY);
    const s3 = c.ok(bob, 'amm', 'swap', [a(pool), a(NATIVE), u(100_000n), u(0n), u64(D)]);
    // 364,703 TA out; floor(100,000 * 30 * 1667 / 10^8) = 50 coin to the treasury, 99,950 to the pool.
    expect(fieldsOf(s3, 'swap')[0]).toMatchObject({ amount_out: 364_703n, protocol_fee: 50n, reserve0: 1_107_464n, reserve1: 3_685_496n });
    expect(c.bal(NATIVE, TREASURY) - before).toBe(50n + (s3.receipt.fee * 3_000n) / 10_000n);

    // 5. Alice burns 1,000,000 shares of 2,020,049: floor(10^6 * 1,107,464 / 2,020,049) coin, floor(10^6 * 3,685,496 / 2,020,049) TA.
    const r = c.ok(alice, 'amm', 'remove_liquidity', [a(pool), u(1_000_000n), u(548_236n), u(1_824_458n), u64(D)]);
    expect(fieldsOf(r, 'liquidity_removed')).toEqual([{ pool, provider: alice.address, amount0: 548_236n, amount1: 1_824_458n, shares: 1_000_000n, reserve0: 559_228n, reserve1: 1_861_038n }]);
    expect(c.view('getPosition', [pool, alice.address])).toMatchObject({ shares: '999000', totalShares: '1020049' });
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });

  it('LP shares are ordinary tokens: transferred, then redeemed by their new holder', () => {
    const c = newChain();
    const pool = createPool(c, TA, TB);
    add(c, alice, pool, 500_000n, 500_000n);
    const lp = lpTokenId(pool);
    c.ok(alice, 'token', 'transfer', [a(lp), a(dave.address), u(100_000n)]);
    const r = c.ok(dave, 'amm', 'remove_liquidity', [a(pool), u(100_000n), u(0n), u(0n), u64(D)]);
    expect(fieldsOf(r, 'liquidity_removed')[0]).toMatchObject({ amount0: 100_000n, amount1: 100_000n });
    // Nobody holds the pool's key, so nobody can mint its LP token by hand.
    fails(c, alice, 'token', 'mint', [a(lp), a(alice.address), u(1n)], 'MINT_NOT_AUTHORIZED');
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });
});

describe('amm: pools and liquidity, every error', () => {
  it('create_pool', () => {
    const c = newChain();
    fails(c, alice, 'amm', 'create_pool', [a(TA), a(TB), u64(31n)], 'UNSUPPORTED_FEE_TIER');
    fails(c, alice, 'amm', 'create_pool', [a(TA), a(TA), u64(30n)], 'SAME_ASSET');
    fails(c, alice, 'amm', 'create_pool', [a(NATIVE), a(NATIVE), u64(5n)], 'SAME_ASSET');
    fails(c, alice, 'amm', 'create_pool', [a(TA), a(UNKNOWN), u64(30n)], 'TOKEN_NOT_FOUND');
    fails(c, poor, 'amm', 'create_pool', [a(TA), a(TB), u64(30n)], 'INSUFFICIENT_BALANCE');
    const pool = createPool(c, TB, TA, 100n);
    const [lo, hi] = compareAssets(TA, TB) < 0 ? [TA, TB] : [TB, TA];
    expect(pool).toEqual(poolId(lo, hi, 100n));
    // The same pair in either order is the same pool; another tier is another pool.
    fails(c, bob, 'amm', 'create_pool', [a(TA), a(TB), u64(100n)], 'POOL_EXISTS');
    expect(createPool(c, TA, TB, 5n)).not.toEqual(pool);
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });

  it('add_liquidity', () => {
    const c = newChain();
    const pool = createPool(c, NATIVE, TA);
    const ok = [a(pool), u(1_000n), u(1_000n), u(0n), u(0n), u64(D)];
    fails(c, alice, 'amm', 'add_liquidity', [a(UNKNOWN), ...ok.slice(1)], 'POOL_NOT_FOUND');
    fails(c, alice, 'amm', 'add_liquidity', [...ok.slice(0, 5), u64(c.height - 1n)], 'DEADLINE_EXPIRED');
    fails(c, alice, 'amm', 'add_liquidity', [a(pool), u(0n), u(1_000n), u(0n), u(0n), u64(D)], 'INVALID_AMOUNT');
    fails(c, alice, 'amm', 'add_liquidity', [a(pool), u(1_000n), u(0n), u(0n), u(0n), u64(D)], 'INVALID_AMOUNT');
    // First deposit: sqrt(1000 * 1000) = 1000 is not above the locked minimum.
    fails(c, alice, 'amm', 'add_liquidity', ok, 'INSUFFICIENT_LIQUIDITY_MINTED');
    fails(c, alice, 'amm', 'add_liquidity', [a(pool), u(5_000n), u(5_000n), u(5_001n), u(0n), u64(D)], 'MINIMUM_NOT_MET');
    fails(c, poor, 'amm', 'add_liquidity', [a(pool), u(5_000n), u(5_000n), u(0n), u(0n), u64(D)], 'INSUFFICIENT_BALANCE');
    fails(c, bob, 'amm', 'add_liquidity', [a(pool), u(5_000n), u(10n ** 13n), u(0n), u(0n), u64(D)], 'INSUFFICIENT_TOKEN_BALANCE');
    add(c, alice, pool, 1_001n, 4_004n); // sqrt = 2,002: 1,002 shares, 1,000 locked
    expect(c.bal(lpTokenId(pool), alice.address)).toBe(1_002n);
    add(c, alice, pool, 100_000n, 400_000n);
    expect(reserves(c, pool)).toEqual([101_001n, 404_004n]);
    // At 1:4, 1,000 coin fit with exactly 4,000 TA: asking for at least 4,001 fails.
    fails(c, bob, 'amm', 'add_liquidity', [a(pool), u(1_000n), u(5_000n), u(0n), u(4_001n), u64(D)], 'MINIMUM_NOT_MET');
    // 3,000 TA fit with floor(3,000 / 4) = 750 coin: asking for at least 1,000 coin fails.
    fails(c, bob, 'amm', 'add_liquidity', [a(pool), u(5_000n), u(3_000n), u(1_000n), u(0n), u64(D)], 'MINIMUM_NOT_MET');
    // A deposit worth less than one share (1 TA fits with 0 coin).
    fails(c, bob, 'amm', 'add_liquidity', [a(pool), u(1n), u(1n), u(0n), u(0n), u64(D)], 'INSUFFICIENT_LIQUIDITY_MINTED');
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });

  it('remove_liquidity', () => {
    const c = newChain();
    const pool = createPool(c, TA, TB);
    fails(c, alice, 'amm', 'remove_liquidity', [a(pool), u(1n), u(0n), u(0n), u64(D)], 'INSUFFICIENT_TOKEN_BALANCE');
    add(c, alice, pool, 2_000n, 200_000n); // sqrt = 20,000 shares
    fails(c, alice, 'amm', 'remove_liquidity', [a(UNKNOWN), u(1n), u(0n), u(0n), u64(D)], 'POOL_NOT_FOUND');
    fails(c, alice, 'amm', 'remove_liquidity', [a(pool), u(1n), u(0n), u(0n), u64(c.height - 1n)], 'DEADLINE_EXPIRED');
    fails(c, alice, 'amm', 'remove_liquidity', [a(pool), u(0n), u(0n), u(0n), u64(D)], 'INVALID_AMOUNT');
    fails(c, alice, 'amm', 'remove_liquidity', [a(pool), u(20_000n), u(0n), u(0n), u64(D)], 'INSUFFICIENT_TOKEN_BALANCE');
    // 5 of 20,000 shares redeem floor(5 * 2,000 / 20,000) = 0 of asset0.
    fails(c, alice, 'amm', 'remove_liquidity', [a(pool), u(5n), u(0n), u(0n), u64(D)], 'INSUFFICIENT_LIQUIDITY_BURNED');
    fails(c, alice, 'amm', 'remove_liquidity', [a(pool), u(10_000n), u(1_001n), u(0n), u64(D)], 'MINIMUM_NOT_MET');
    fails(c, alice, 'amm', 'remove_liquidity', [a(pool), u(10_000n), u(0n), u(100_001n), u64(D)], 'MINIMUM_NOT_MET');
    c.ok(alice, 'amm', 'remove_liquidity', [a(pool), u(19_000n), u(0n), u(0n), u64(D)]);
    // The locked minimum keeps both reserves above zero for ever.
    const [r0, r1] = reserves(c, pool);
    expect(r0 > 0n && r1 > 0n).toBe(true);
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });
});

describe('amm: swaps', () => {
  it('swap: every error, and the product of the reserves never decreases', () => {
    const c = newChain();
    const pool = createPool(c, NATIVE, TA);
    fails(c, bob, 'amm', 'swap', [a(pool), a(TA), u(1_000n), u(0n), u64(D)], 'INSUFFICIENT_LIQUIDITY');
    add(c, alice, pool, 1_000_000n, 4_000_000n);
    fails(c, bob, 'amm', 'swap', [a(UNKNOWN), a(TA), u(1_000n), u(0n), u64(D)], 'POOL_NOT_FOUND');
    fails(c, bob, 'amm', 'swap', [a(pool), a(TB), u(1_000n), u(0n), u64(D)], 'ASSET_NOT_IN_POOL');
    fails(c, bob, 'amm', 'swap', [a(pool), a(TA), u(0n), u(0n), u64(D)], 'INVALID_AMOUNT');
    fails(c, bob, 'amm', 'swap', [a(pool), a(TA), u(1_000n), u(0n), u64(c.height - 1n)], 'DEADLINE_EXPIRED');
    fails(c, bob, 'amm', 'swap', [a(pool), a(TA), u(1_000n), u(250n), u64(D)], 'MINIMUM_NOT_MET'); // pays 249
    fails(c, bob, 'amm', 'swap', [a(pool), a(TA), u(4n), u(0n), u64(D)], 'ZERO_OUTPUT');
    fails(c, poor, 'amm', 'swap', [a(pool), a(TA), u(1_000n), u(0n), u64(D)], 'INSUFFICIENT_TOKEN_BALANCE');
    fails(c, bob, 'amm', 'swap', [a(pool), a(NATIVE), u(10n ** 16n), u(0n), u64(D)], 'INSUFFICIENT_BALANCE');
    // A deadline equal to the block's height is still in time.
    c.ok(bob, 'amm', 'swap', [a(pool), a(TA), u(1_000n), u(249n), u64(c.height)]);
    let [r0, r1] = reserves(c, pool);
    for (const [asset, amount] of [[TA, 123_457n], [NATIVE, 999n], [NATIVE, 777_777n], [TA, 5n], [TA, 3_000_000n]] as const) {
      c.ok(bob, 'amm', 'swap', [a(pool), a(asset), u(amount), u(0n), u64(D)]);
      const [n0, n1] = reserves(c, pool);
      expect(n0 * n1).toBeGreaterThanOrEqual(r0 * r1);
      [r0, r1] = [n0, n1];
    }
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });

  it('swap_path along three pools; quoteExactIn and quoteExactOut agree with it', () => {
    const c = newChain();
    const p1 = createPool(c, NATIVE, TA);
    const p2 = createPool(c, TA, TB, 5n);
    const p3 = createPool(c, TB, TC, 100n);
    add(c, alice, p1, 1_000_000n, 2_000_000n);
    add(c, alice, p2, 3_000_000n, 3_000_000n);
    add(c, alice, p3, 900_000n, 2_700_000n);
    const path = `${toHex(p1)}, ${toHex(p2)},${toHex(p3)}`;
    const q = c.view('quoteExactIn', [path, NATIVE, 50_000n]);
    expect(q.hops.map((h: { pool: string }) => h.pool)).toEqual([p1, p2, p3].map(toHex));
    expect(q.assetOut).toBe(toHex(TC));
    // Hop by hop: each with its pool's fee tier and the asset order of that pool.
    const r2 = reserves(c, p2);
    const ta2tb = compareAssets(TA, TB) < 0;
    const h1 = amountOut(50_000n, 1_000_000n, 2_000_000n, 30n);
    const h2 = amountOut(h1, ta2tb ? r2[0] : r2[1], ta2tb ? r2[1] : r2[0], 5n);
    const r3 = reserves(c, p3);
    const tb2tc = compareAssets(TB, TC) < 0;
    const h3 = amountOut(h2, tb2tc ? r3[0] : r3[1], tb2tc ? r3[1] : r3[0], 100n);
    expect(q.hops.map((h: { amountOut: string }) => h.amountOut)).toEqual([h1, h2, h3].map(String));
    const tc0 = c.bal(TC, bob.address);
    const s = c.ok(bob, 'amm', 'swap_path', [v.bytes(concatBytes(p1, p2, p3)), a(NATIVE), u(50_000n), u(h3), u64(D)]);
    expect(fieldsOf(s, 'swap').map((f) => f.amount_out)).toEqual([h1, h2, h3]);
    expect(c.bal(TC, bob.address)).toBe(tc0 + h3);
    // Exact out: the least input that buys at least 10,000 TC now; one less buys less.
    const want = 10_000n;
    const qo = c.view('quoteExactOut', [path, NATIVE, want]);
    const need = BigInt(qo.amountIn);
    expect(BigInt(qo.amountOut)).toBeGreaterThanOrEqual(want);
    expect(BigInt(c.view('quoteExactIn', [path, NATIVE, need]).amountOut)).toBe(BigInt(qo.amountOut));
    const s2 = c.ok(carol, 'amm', 'swap_path', [v.bytes(concatBytes(p1, p2, p3)), a(NATIVE), u(need), u(want), u64(D)]);
    expect(fieldsOf(s2, 'swap')[2]!.amount_out).toBe(BigInt(qo.amountOut));
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });

  it('swap_path and the quotes: every error', () => {
    const c = newChain();
    const p1 = createPool(c, NATIVE, TA);
    const p2 = createPool(c, TA, TB);
    add(c, alice, p1, 100_000n, 100_000n);
    add(c, alice, p2, 100_000n, 100_000n);
    const args = (path: Uint8Array, asset: Uint8Array = NATIVE): Value[] => [v.bytes(path), a(asset), u(1_000n), u(0n), u64(D)];
    fails(c, bob, 'amm', 'swap_path', args(new Uint8Array(0)), 'INVALID_PATH');
    fails(c, bob, 'amm', 'swap_path', args(new Uint8Array(21)), 'INVALID_PATH');
    fails(c, bob, 'amm', 'swap_path', args(concatBytes(p1, p1)), 'INVALID_PATH');
    fails(c, bob, 'amm', 'swap_path', args(concatBytes(p1, p2, p1, p2, p1)), 'PATH_TOO_LONG');
    fails(c, bob, 'amm', 'swap_path', args(concatBytes(p1, UNKNOWN)), 'POOL_NOT_FOUND');
    // The second hop must trade what the first one bought: TA in p1 buys the native coin, which p2 does not trade.
    fails(c, bob, 'amm', 'swap_path', args(concatBytes(p1, p2), TA), 'ASSET_NOT_IN_POOL');
    fails(c, bob, 'amm', 'swap_path', [v.bytes(concatBytes(p1, p2)), a(NATIVE), u(1_000n), u(10_000n), u64(D)], 'MINIMUM_NOT_MET');
    c.ok(bob, 'amm', 'swap_path', args(concatBytes(p1, p2)));
    const path = `${toHex(p1)},${toHex(p2)}`;
    expect(c.view('quoteExactIn', ['0x1234', NATIVE, 5n])).toMatchObject({ error: 'INVALID_PATH' });
    expect(c.view('quoteExactIn', [`${path},${path},${toHex(p1)}`, NATIVE, 5n])).toMatchObject({ error: 'PATH_TOO_LONG' });
    expect(c.view('quoteExactIn', [path, NATIVE, 0n])).toMatchObject({ error: 'INVALID_AMOUNT' });
    expect(c.view('quoteExactIn', [path, TB, 5n])).toMatchObject({ error: 'ASSET_NOT_IN_POOL' });
    expect(c.view('quoteExactOut', [path, NATIVE, 100_000n])).toMatchObject({ error: 'INSUFFICIENT_LIQUIDITY' });
    expect(c.view('quoteExactOut', [toHex(UNKNOWN), NATIVE, 1n])).toMatchObject({ error: 'POOL_NOT_FOUND' });
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });

  it('the protocol fee switch: off by default, set by the fee admin only, at most half the fee', () => {
    const c = newChain();
    expect(c.view('getParams', [])).toEqual({ protocolFeeBps: 0, poolCreationFee: DEFAULT_POOL_CREATION_FEE.toString(), admin: toHex(admin.address) });
    fails(c, alice, 'amm', 'set_params', [u64(1_000n), u(0n)], 'NOT_FEE_ADMIN');
    fails(c, admin, 'amm', 'set_params', [u64(5_001n), u(0n)], 'INVALID_PROTOCOL_FEE');
    const s = c.ok(admin, 'amm', 'set_params', [u64(5_000n), u(0n)]);
    expect(fieldsOf(s, 'params_changed')).toEqual([{ protocol_fee_bps: 5_000n, pool_creation_fee: 0n }]);
    // Creation now free; half of the 1% fee of each swap goes to the treasury in the input asset.
    const t0 = c.bal(NATIVE, TREASURY);
    const created = c.ok(bob, 'amm', 'create_pool', [a(TA), a(TB), u64(100n)]);
    expect(c.bal(NATIVE, TREASURY) - t0).toBe((created.receipt.fee * 3_000n) / 10_000n);
    const pool = fieldsOf(created, 'pool_created')[0]!.pool as Uint8Array;
    add(c, alice, pool, 1_000_000n, 1_000_000n);
    const ta0 = c.bal(TA, TREASURY);
    const sw = c.ok(bob, 'amm', 'swap', [a(pool), a(TA), u(200_000n), u(0n), u64(D)]);
    expect(fieldsOf(sw, 'swap')[0]!.protocol_fee).toBe(1_000n); // 200,000 * 1% / 2
    expect(c.bal(TA, TREASURY) - ta0).toBe(1_000n);
    expect(c.view('getPool', [pool]).protocolFeeBps).toBe(5_000);
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });

  it('the TWAP oracle: price × blocks with the reserves at the start of each block, exact', () => {
    const c = newChain();
    const pool = createPool(c, NATIVE, TA);
    const h0 = c.height;
    add(c, alice, pool, 1_000_000n, 4_000_000n); // reserves from h0 on
    expect(c.view('getPool', [pool])).toMatchObject({ price0CumulativeLast: '0', price1CumulativeLast: '0', lastHeight: String(h0) });
    c.height += 9n; // nine empty blocks
    const h1 = c.height;
    // Two swaps in one block: the block's first touch accrues with the reserves it started with; the second adds nothing.
    c.block([c.tx(bob, 'amm', 'swap', [a(pool), a(TA), u(10_000n), u(0n), u64(D)]), c.tx(carol, 'amm', 'swap', [a(pool), a(NATIVE), u(5_000n), u(0n), u64(D)])]);
    const p0 = (4_000_000n * PRICE_SCALE) / 1_000_000n; // 4.0 in Q64
    const p1 = (1_000_000n * PRICE_SCALE) / 4_000_000n; // 0.25 in Q64
    const g = c.view('getPool', [pool]);
    expect(g.price0CumulativeLast).toBe(String(p0 * (h1 - h0)));
    expect(g.price1CumulativeLast).toBe(String(p1 * (h1 - h0)));
    // The view also answers as of the next block: + the current price × the blocks since.
    const [r0, r1] = reserves(c, pool);
    c.height += 4n;
    const later = c.view('getPool', [pool]);
    expect(later.price0Cumulative).toBe(String(p0 * (h1 - h0) + ((r1 * PRICE_SCALE) / r0) * (c.height - h1)));
    // TWAP over [h0, h1] = 4.0 exactly.
    expect((BigInt(g.price0CumulativeLast) - 0n) / BigInt(h1 - h0)).toBe(4n * PRICE_SCALE);
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });
});

describe('amm: batch swaps', () => {
  it('swap_batch deposits read only the pool record and their own key, and write only their own key and deltas', () => {
    const c = newChain();
    const pool = createPool(c, NATIVE, TA);
    add(c, alice, pool, 1_000_000n, 4_000_000n);
    const reads: string[] = [];
    const writes: string[] = [];
    const deltas: string[] = [];
    const view: StateView = {
      get: (k) => (reads.push(k), c.state.get(k)),
      set: (k) => void writes.push(k),
      addDelta: (k) => void deltas.push(k),
      emit: () => undefined,
    };
    const txHash = new Uint8Array(32).fill(7);
    const ctx: CallContext = { chainId: 1337, height: c.height, timestamp: 0n, proposer: alice.address, sender: bob.address, txHash, treasury: TREASURY };
    ammModule.calls.swap_batch!.run(view, ctx, [a(pool), a(TA), u(1_000n), u(0n), u64(D)]);
    expect(reads.sort()).toEqual([`amm/pool/${toHexRaw(pool)}`, batchKey(pool, txHash), `token/balance/${toHexRaw(TA)}/${toHexRaw(bob.address)}`].sort());
    expect(reads).not.toContain(reservesKey(pool));
    expect(writes.sort()).toEqual([batchKey(pool, txHash), `token/balance/${toHexRaw(TA)}/${toHexRaw(bob.address)}`].sort());
    expect(deltas).toEqual([`token/balance/${toHexRaw(TA)}/${toHexRaw(batchEscrow(pool))}`]);
  });

  it('a block of batch swaps clears at one price (the worked example), pays pro rata and writes each result', () => {
    const c = newChain();
    const pool = createPool(c, NATIVE, TA);
    add(c, alice, pool, 1_000_000n, 4_000_000n);
    const q = (k: KeyPair, asset: Uint8Array, amount: bigint, min = 0n) => c.tx(k, 'amm', 'swap_batch', [a(pool), a(asset), u(amount), u(min), u64(D)]);
    const txs = [q(bob, NATIVE, 10_000n), q(carol, TA, 20_000n), q(dave, NATIVE, 30_000n), q(alice, NATIVE, 1_000n, 3_855n)];
    const coin = [bob, carol, dave].map((k) => c.bal(NATIVE, k.address));
    const ta = [bob, carol, dave].map((k) => c.bal(TA, k.address));
    const out = c.block(txs);
    expect(out.every((s) => s.receipt.status === 'success')).toBe(true);
    expect(fieldsOf(out[0]!, 'batch_queued')[0]).toMatchObject({ pool, trader: bob.address, tx_hash: txs[0]!.hash, amount_in: 10_000n });
    // Asset0 sellers outweigh: P = 9970 * (4,000,000 + 20,000) / (10^10 + 9970 * 40,000) TA per coin.
    // Alice's 1,000 coin for at least 3,855 TA (3.855 > P = 3.8542...) is refunded first, then P is recomputed without her.
    const settled = fieldsOf(c.lastSettlement, 'batch_settled');
    const byTrader = new Map(settled.map((f) => [toHexRaw(f.trader as Uint8Array), f]));
    expect(byTrader.get(toHexRaw(bob.address))).toMatchObject({ amount_out: 38_542n, code: '' });
    expect(byTrader.get(toHexRaw(dave.address))).toMatchObject({ amount_out: 115_626n, code: '' });
    expect(byTrader.get(toHexRaw(carol.address))).toMatchObject({ amount_out: 5_189n, code: '' });
    expect(byTrader.get(toHexRaw(alice.address))).toMatchObject({ amount_out: 0n, code: 'MINIMUM_NOT_MET' });
    // Events in tx hash order.
    expect(settled.map((f) => toHexRaw(f.tx_hash as Uint8Array))).toEqual(txs.map((t) => toHexRaw(t.hash)).sort());
    expect(fieldsOf(c.lastSettlement, 'batch_cleared')).toEqual([{ pool, amount0_in: 40_000n, amount1_in: 20_000n, amount0_out: 5_189n, amount1_out: 154_168n, protocol_fee0: 0n, protocol_fee1: 0n, reserve0: 1_034_811n, reserve1: 3_865_832n }]);
    expect(reserves(c, pool)).toEqual([1_034_811n, 3_865_832n]);
    expect(1_034_811n * 3_865_832n).toBeGreaterThan(1_000_000n * 4_000_000n);
    expect(c.bal(TA, bob.address)).toBe(ta[0]! + 38_542n);
    expect(c.bal(NATIVE, carol.address)).toBe(coin[1]! + 5_189n - out[1]!.receipt.fee);
    expect(c.bal(TA, dave.address)).toBe(ta[2]! + 115_626n);
    expect(c.view('getBatchResult', [toHex(txs[0]!.hash)])).toEqual({
      txHash: toHex(txs[0]!.hash), pool: toHex(pool), trader: toHex(bob.address), height: String(c.height - 1n),
      assetIn: toHex(NATIVE), amountIn: '10000', assetOut: toHex(TA), amountOut: '38542', status: 'filled', code: null,
    });
    expect(c.view('getBatchResult', [toHex(txs[3]!.hash)])).toMatchObject({ status: 'refunded', code: 'MINIMUM_NOT_MET', amountOut: '0' });
    expect(c.view('getBatchResult', [`0x${'ab'.repeat(32)}`])).toBeNull();
    expect(c.view('getBatchResult', ['0x12'])).toMatchObject({ error: 'INVALID_TX_HASH' });
    // The batch is empty again; the escrow holds nothing.
    expect([...c.state.keys()].filter((k) => k.startsWith('amm/batch/'))).toEqual([]);
    expect(c.bal(NATIVE, batchEscrow(pool))).toBe(0n);
    expect(c.bal(TA, batchEscrow(pool))).toBe(0n);
    expect(c.state.has(resultKey(txs[1]!.hash))).toBe(true);
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });

  it('settlement events land in the receipts: each batch_settled in its own tx, batch_cleared in the lowest tx hash of the pool', () => {
    const c = newChain();
    const pool = createPool(c, NATIVE, TA);
    add(c, alice, pool, 1_000_000n, 4_000_000n);
    const q = (k: KeyPair, asset: Uint8Array, amount: bigint) => c.tx(k, 'amm', 'swap_batch', [a(pool), a(asset), u(amount), u(0n), u64(D)]);
    const txs = [q(bob, NATIVE, 10_000n), q(carol, TA, 20_000n), q(dave, NATIVE, 30_000n), c.tx(alice, 'coin', 'transfer', [a(bob.address), u(1n)])];
    const out = c.block(txs);
    const lowest = txs.slice(0, 3).map((t) => toHexRaw(t.hash)).sort()[0];
    out.forEach((s, i) => {
      const names = s.receipt.events.map((e) => e.name);
      if (i === 3) return expect(names).not.toContain('batch_settled');
      // The tx's own event first, then what the block-end phase attributed to it.
      expect(names[0]).toBe('batch_queued');
      expect(fieldsOf(s, 'batch_settled').map((f) => toHexRaw(f.tx_hash as Uint8Array))).toEqual([toHexRaw(s.tx.hash)]);
      expect(names.includes('batch_cleared')).toBe(toHexRaw(s.tx.hash) === lowest);
      if (toHexRaw(s.tx.hash) === lowest) expect(names.at(-1)).toBe('batch_cleared');
    });
    // A block with no batch swap: the phase does nothing at all.
    const plain = c.block([c.tx(bob, 'coin', 'transfer', [a(carol.address), u(1n)])]);
    expect(plain[0]!.receipt.events.map((e) => e.name)).not.toContain('batch_cleared');
    expect(c.lastSettlement).toEqual([]);
  });

  it('swap_batch: every error; an empty pool refunds the whole batch', () => {
    const c = newChain();
    const pool = createPool(c, NATIVE, TA);
    fails(c, bob, 'amm', 'swap_batch', [a(UNKNOWN), a(TA), u(1_000n), u(0n), u64(D)], 'POOL_NOT_FOUND');
    fails(c, bob, 'amm', 'swap_batch', [a(pool), a(TB), u(1_000n), u(0n), u64(D)], 'ASSET_NOT_IN_POOL');
    fails(c, bob, 'amm', 'swap_batch', [a(pool), a(TA), u(1_000n), u(0n), u64(c.height - 1n)], 'DEADLINE_EXPIRED');
    fails(c, bob, 'amm', 'swap_batch', [a(pool), a(TA), u(0n), u(0n), u64(D)], 'INVALID_AMOUNT');
    fails(c, poor, 'amm', 'swap_batch', [a(pool), a(TA), u(1_000n), u(0n), u64(D)], 'INSUFFICIENT_TOKEN_BALANCE');
    fails(c, bob, 'amm', 'swap_batch', [a(pool), a(NATIVE), u(10n ** 16n), u(0n), u64(D)], 'INSUFFICIENT_BALANCE');
    const ta = c.bal(TA, bob.address);
    const s = c.ok(bob, 'amm', 'swap_batch', [a(pool), a(TA), u(1_000n), u(0n), u64(D)]);
    expect(c.bal(TA, bob.address)).toBe(ta);
    expect(c.view('getBatchResult', [toHex(s.tx.hash)])).toMatchObject({ status: 'refunded', code: 'INSUFFICIENT_LIQUIDITY' });
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });

  it('the protocol fee applies to the pool net input of a batch', () => {
    const c = newChain();
    c.ok(admin, 'amm', 'set_params', [u64(5_000n), u(DEFAULT_POOL_CREATION_FEE)]);
    const pool = createPool(c, NATIVE, TA, 100n);
    add(c, alice, pool, 1_000_000n, 1_000_000n);
    const t0 = c.bal(TA, TREASURY);
    c.block([c.tx(bob, 'amm', 'swap_batch', [a(pool), a(TA), u(100_000n), u(0n), u64(D)])]);
    const cleared = fieldsOf(c.lastSettlement, 'batch_cleared')[0]!;
    // One direction only: the net input is the whole 100,000 TA; half of 1% goes to the treasury.
    expect(cleared).toMatchObject({ amount1_in: 100_000n, protocol_fee1: 500n, protocol_fee0: 0n });
    expect(cleared.amount0_out).toBe(amountOut(100_000n, 1_000_000n, 1_000_000n, 100n));
    expect(c.bal(TA, TREASURY) - t0).toBe(500n);
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });
});

describe('amm: liquidity mining', () => {
  function setup(): { c: AmmChain; pool: Uint8Array; lp: Uint8Array; programme: Uint8Array; start: bigint } {
    const c = newChain();
    const pool = createPool(c, TA, TB);
    add(c, alice, pool, 1_000_000n, 1_000_000n); // alice 999,000 shares
    add(c, bob, pool, 300_000n, 300_000n); // bob 300,000
    const start = c.height + 2n;
    // 1,000 TC over 10 blocks: 100 per block.
    const s = c.ok(carol, 'amm', 'create_programme', [a(pool), a(TC), u(1_000n), u64(start), u64(start + 10n)]);
    const programme = deriveId('amm-programme', s.tx.hash);
    expect(fieldsOf(s, 'programme_created')).toEqual([{ programme, pool, lp_token: lpTokenId(pool), reward_asset: TC, amount: 1_000n, start, end: start + 10n, funder: carol.address }]);
    return { c, pool, lp: lpTokenId(pool), programme, start };
  }

  it('LP stakers earn per block pro rata with the exact accumulator; claims; unstakes', () => {
    const { c, lp, programme, start } = setup();
    // Alice stakes 100 LP, Bob 300 LP, both before the start.
    c.block([c.tx(alice, 'amm', 'stake', [a(programme), u(100n)]), c.tx(bob, 'amm', 'stake', [a(programme), u(300n)])]);
    expect(c.bal(lp, stakeEscrow(programme))).toBe(400n);
    expect(c.height).toBe(start);
    // Blocks start .. start+3 emit 400: Alice 100, Bob 300.
    c.height = start + 4n;
    expect(c.view('getStake', [programme, alice.address])).toEqual({ programme: toHex(programme), staker: toHex(alice.address), staked: '100', pending: '100', claimable: '0' });
    expect(c.view('getStake', [programme, bob.address])).toMatchObject({ pending: '300' });
    const cl = c.ok(alice, 'amm', 'claim', [a(programme)]);
    expect(fieldsOf(cl, 'claimed')).toEqual([{ programme, staker: alice.address, amount: 100n }]);
    // Height start+5: Alice gives Dave 200 LP and he stakes them (total 600); the first touch
    // spreads block start+4's 100 over the 400 staked before.
    const tcBefore = c.bal(TC, dave.address);
    c.block([c.tx(alice, 'token', 'transfer', [a(lp), a(dave.address), u(200n)]), c.tx(dave, 'amm', 'stake', [a(programme), u(200n)])]);
    // Until the end (start+10): 5 more blocks emit 500 over 600 staked, floor(500e18 / 600) per unit.
    c.height = start + 20n;
    const acc = c.view('getProgramme', [programme]);
    expect(acc).toMatchObject({ emitted: '1000', totalStaked: '600', rewardBalance: '900' });
    const pa = BigInt(c.view('getStake', [programme, alice.address]).pending);
    const pb = BigInt(c.view('getStake', [programme, bob.address]).pending);
    const pd = BigInt(c.view('getStake', [programme, dave.address]).pending);
    // acc (x 1e-18): 1 by start+4, + 0.25, + 0.833333333333333333.
    // Alice (claimed at 1): floor(100 x 1.083333333333333333) = 108; Bob: floor(300 x 2.083333333333333333) = 624
    // (625 with exact shares: the floor of acc keeps 1 in the pool); Dave: floor(200 x 0.833333333333333333) = 166.
    expect([pa, pb, pd]).toEqual([108n, 624n, 166n]);
    expect(pa + pb + pd).toBeLessThanOrEqual(900n);
    const u1 = c.ok(bob, 'amm', 'unstake', [a(programme), u(300n)]);
    expect(fieldsOf(u1, 'unstaked')).toEqual([{ programme, staker: bob.address, amount: 300n, settled: 624n }]);
    expect(c.view('getStake', [programme, bob.address])).toMatchObject({ staked: '0', pending: '0', claimable: '624' });
    c.ok(bob, 'amm', 'claim', [a(programme)]);
    c.ok(dave, 'amm', 'claim', [a(programme)]);
    expect(c.bal(TC, dave.address)).toBe(tcBefore + 166n);
    expect(c.view('getStake', [programme, bob.address])).toMatchObject({ staked: '0', pending: '0', claimable: '0' });
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });

  it('emission while nothing is staked goes to the next staker', () => {
    const { c, programme, start } = setup();
    c.height = start + 3n;
    // The accrual finds 300 emitted over nothing staked: undistributed, then released to Alice by her stake.
    const s1 = c.ok(alice, 'amm', 'stake', [a(programme), u(50n)]);
    expect(fieldsOf(s1, 'rewards_released')).toEqual([{ programme, amount: 300n, acc_reward_per_share: 6n * 10n ** 18n }]);
    expect(c.view('getProgramme', [programme])).toMatchObject({ undistributed: '0' });
    const s2 = c.ok(bob, 'amm', 'stake', [a(programme), u(50n)]);
    expect(fieldsOf(s2, 'staked')[0]).toMatchObject({ settled: 0n });
    // 300 released + block start+3 alone (100) + half of block start+4 (50).
    expect(c.view('getStake', [programme, alice.address]).pending).toBe('450');
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });

  it('every error', () => {
    const { c, pool, programme, start } = setup();
    c.ok(alice, 'amm', 'stake', [a(programme), u(10n)]);
    fails(c, alice, 'amm', 'claim', [a(programme)], 'NOTHING_TO_CLAIM'); // at the start: nothing emitted yet
    expect(c.height).toBe(start + 1n);
    const args = (p: Uint8Array, asset: Uint8Array, amount: bigint, s: bigint, e: bigint): Value[] => [a(p), a(asset), u(amount), u64(s), u64(e)];
    fails(c, carol, 'amm', 'create_programme', args(UNKNOWN, TC, 1n, c.height, c.height + 1n), 'POOL_NOT_FOUND');
    fails(c, carol, 'amm', 'create_programme', args(pool, UNKNOWN, 1n, c.height, c.height + 1n), 'TOKEN_NOT_FOUND');
    fails(c, carol, 'amm', 'create_programme', args(pool, TC, 0n, c.height, c.height + 1n), 'INVALID_AMOUNT');
    fails(c, carol, 'amm', 'create_programme', args(pool, TC, 1n, c.height - 1n, c.height + 1n), 'INVALID_SCHEDULE');
    fails(c, carol, 'amm', 'create_programme', args(pool, TC, 1n, c.height + 5n, c.height + 5n), 'INVALID_SCHEDULE');
    fails(c, poor, 'amm', 'create_programme', args(pool, NATIVE, 10n ** 9n, c.height, c.height + 5n), 'INSUFFICIENT_BALANCE');
    fails(c, alice, 'amm', 'stake', [a(UNKNOWN), u(1n)], 'PROGRAMME_NOT_FOUND');
    fails(c, alice, 'amm', 'stake', [a(programme), u(0n)], 'INVALID_AMOUNT');
    fails(c, dave, 'amm', 'stake', [a(programme), u(1n)], 'INSUFFICIENT_TOKEN_BALANCE');
    fails(c, alice, 'amm', 'unstake', [a(UNKNOWN), u(1n)], 'PROGRAMME_NOT_FOUND');
    fails(c, alice, 'amm', 'unstake', [a(programme), u(0n)], 'INVALID_AMOUNT');
    fails(c, alice, 'amm', 'unstake', [a(programme), u(11n)], 'INSUFFICIENT_STAKE');
    fails(c, bob, 'amm', 'unstake', [a(programme), u(1n)], 'INSUFFICIENT_STAKE');
    fails(c, alice, 'amm', 'claim', [a(UNKNOWN)], 'PROGRAMME_NOT_FOUND');
    c.ok(alice, 'amm', 'claim', [a(programme)]);
    expect(c.view('getStake', [UNKNOWN, alice.address])).toBeNull();
    expect(c.view('getProgramme', [UNKNOWN])).toBeNull();
    expect(rewardAccount(programme)).not.toEqual(stakeEscrow(programme));
    checkAmmInvariants(c.state, c.coinSupply, TOKENS);
  });
});

describe('amm: views of missing things', () => {
  it('return null or an error object', () => {
    const c = newChain();
    expect(c.view('getPool', [UNKNOWN])).toBeNull();
    expect(c.view('getPosition', [UNKNOWN, alice.address])).toBeNull();
    expect(c.view('getPoolId', [TA, TA, 30n])).toMatchObject({ error: 'SAME_ASSET' });
    expect(c.view('getPoolId', [TA, TB, 7n])).toMatchObject({ error: 'UNSUPPORTED_FEE_TIER' });
    expect(c.view('getPoolId', [TA, TB, 30n])).toMatchObject({ exists: false });
    expect(isqrt(10n ** 30n)).toBe(10n ** 15n);
    expect(decodeU128(c.state.get(tokenSupplyKey(TA)))).toBe(4n * 10n ** 12n);
  });
});
