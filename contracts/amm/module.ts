/**
 * `amm`: constant-product pools over any pair of assets (native coin or tokens), LP shares
 * as tokens of the token module, exact-in swaps along up to four pools, a protocol fee
 * switch, a TWAP oracle per pool, batch swaps settled at the block's end at one price
 * (./settle.ts), and liquidity mining programmes (./mining.ts). Layout: ./state.ts;
 * arithmetic: ./math.ts; base gas: ./gas.ts; reference: docs/MODULES.md ("amm").
 *
 * Under Block-STM: instant swaps and liquidity changes on one pool conflict by nature
 * (they read-modify-write its reserves). Everything else is kept off that key: batch
 * deposits read only the immutable pool record and write their own key plus deltas; every
 * credit (pool, treasury, protocol fee, escrow, rewards) is a delta; takes from the
 * exchange's own accounts are negative deltas whose bound never fails. Calls check
 * everything they can before their first write, so a failing call rarely holds deltas.
 */
import { decodeU128 } from '../../protocol/codec.js';
import { addressHex, bytesEqual, fromHex, toHex } from '../../protocol/hex.js';
import { v } from '../../protocol/value.js';
import { defineCall, defineView, eventsOf } from '../args.js';
import { credit, debit } from '../coin/state.js';
import { FEE_ADMIN_KEY } from '../fee/params.js';
import { deriveId } from '../ids.js';
import { accAfter, pendingRewards, settle } from '../rewards.js';
import { creditToken, debitToken, encodeTokenInfo, tokenBalance, tokenInfoKey, tokenSupplyKey } from '../token/state.js';
import { ExecutionFailure, requirePositive, type CallContext, type Module, type StateView } from '../types.js';
import { amountIn as amountInFor, amountOut as amountOutFor, FEE_TIERS, MAX_PROTOCOL_FEE_BPS, MINIMUM_LIQUIDITY, optimalDeposit, protocolCut, redeemed, sharesFor } from './math.js';
import { accrue, accrued, emittedBefore } from './mining.js';
import { settleBatches } from './settle.js';
import { AMM_SPEC } from './spec.js';
import {
  accrualKey, assetBalance, assetIn, assetOut, batchEscrow, batchKey, checkedReserve, compareAssets, creditAsset, DEAD_ADDRESS,
  debitAsset, directionOf, encodeAccrual, encodeBatchSwap, encodeParams, encodePoolInfo, encodeProgramme, getAccrual, getParams,
  getPoolInfo, getProgramme, getReserves, getStake, getTotalStaked, lpTokenId, MAX_PATH, poolId, poolKey, programmeKey, requireAsset,
  requirePool, requireProgramme, resultKey, rewardAccount, stakedKey, stakeEscrow, takeAsset, touchReserves, writeReserves,
  writeStake, decodeBatchResult, PARAMS_KEY, type PoolInfo, type Reserves,
} from './state.js';

const event = eventsOf('amm');
type Reads = Pick<StateView, 'get'>;

function requireDeadline(ctx: { height: bigint }, deadline: bigint): void {
  if (ctx.height > deadline) throw new ExecutionFailure('DEADLINE_EXPIRED', `deadline ${deadline} is before this block (height ${ctx.height})`);
}

function reserveOf(r: Reserves, which: 0 | 1): bigint {
  return which === 0 ? r.reserve0 : r.reserve1;
}

function withReserves(r: Reserves, dir: 0 | 1, rIn: bigint, rOut: bigint): Reserves {
  return dir === 0 ? { ...r, reserve0: rIn, reserve1: rOut } : { ...r, reserve0: rOut, reserve1: rIn };
}

// ---- swaps: a plan of hops, computed before anything is written ------------------------------

interface Hop {
  readonly pool: Uint8Array;
  readonly info: PoolInfo;
  readonly dir: 0 | 1;
  readonly amountIn: bigint;
  readonly amountOut: bigint;
  /** Protocol fee share, in the hop's input asset. */
  readonly cut: bigint;
  readonly after: Reserves;
}

/** 1 to MAX_PATH distinct pools. */
function checkPath(pools: readonly Uint8Array[]): void {
  if (pools.length === 0) throw new ExecutionFailure('INVALID_PATH', 'the path names no pool');
  if (pools.length > MAX_PATH) throw new ExecutionFailure('PATH_TOO_LONG', `the path crosses ${pools.length} pools; at most ${MAX_PATH}`);
  const seen = new Set<string>();
  for (const p of pools) {
    const h = addressHex(p);
    if (seen.has(h)) throw new ExecutionFailure('INVALID_PATH', `pool ${h} appears twice in the path`);
    seen.add(h);
  }
}

/** The hops of an exact-in swap along `pools`, each against its reserves as of `height`. */
function planExactIn(view: Reads, pools: readonly Uint8Array[], asset: Uint8Array, amount: bigint, height: bigint, protocolFeeBps: bigint): Hop[] {
  checkPath(pools);
  const hops: Hop[] = [];
  for (const pool of pools) {
    const info = requirePool(view, pool);
    const dir = directionOf(info, pool, asset);
    const before = touchReserves(view, pool, height);
    const rIn = reserveOf(before, dir);
    const rOut = reserveOf(before, dir === 0 ? 1 : 0);
    if (rIn === 0n || rOut === 0n) throw new ExecutionFailure('INSUFFICIENT_LIQUIDITY', `pool ${addressHex(pool)} has no liquidity`);
    const out = amountOutFor(amount, rIn, rOut, info.feeBps);
    if (out === 0n) throw new ExecutionFailure('ZERO_OUTPUT', `${amount} into pool ${addressHex(pool)} buys nothing`);
    const cut = protocolCut(amount, info.feeBps, protocolFeeBps);
    hops.push({ pool, info, dir, amountIn: amount, amountOut: out, cut, after: withReserves(before, dir, checkedReserve(rIn + amount - cut), rOut - out) });
    asset = assetOut(info, dir);
    amount = out;
  }
  return hops;
}

/** The path of swap_path: 20-byte pool ids concatenated. */
function pathFromBytes(b: Uint8Array): Uint8Array[] {
  if (b.length % 20 !== 0) throw new ExecutionFailure('INVALID_PATH', `the path is ${b.length} bytes, not a whole number of 20-byte pool ids`);
  if (b.length > 20 * MAX_PATH) throw new ExecutionFailure('PATH_TOO_LONG', `the path crosses ${b.length / 20} pools; at most ${MAX_PATH}`);
  return Array.from({ length: b.length / 20 }, (_, i) => b.slice(20 * i, 20 * i + 20));
}

function swapExactIn(view: StateView, ctx: CallContext, pools: readonly Uint8Array[], asset: Uint8Array, amount: bigint, minOut: bigint, deadline: bigint): void {
  requireDeadline(ctx, deadline);
  requirePositive(amount, 'amount_in');
  const hops = planExactIn(view, pools, asset, amount, ctx.height, getParams(view).protocolFeeBps);
  const last = hops[hops.length - 1]!;
  if (last.amountOut < minOut) throw new ExecutionFailure('MINIMUM_NOT_MET', `the swap pays ${last.amountOut}, less than min_out ${minOut}`);
  debitAsset(view, asset, ctx.sender, amount);
  for (const h of hops) {
    const inAsset = assetIn(h.info, h.dir);
    const outAsset = assetOut(h.info, h.dir);
    creditAsset(view, inAsset, h.pool, h.amountIn - h.cut);
    creditAsset(view, inAsset, ctx.treasury, h.cut);
    takeAsset(view, outAsset, h.pool, h.amountOut, 'INSUFFICIENT_LIQUIDITY');
    writeReserves(view, h.pool, h.after);
    view.emit(event('swap', {
      pool: v.address(h.pool), trader: v.address(ctx.sender), asset_in: v.address(inAsset), amount_in: v.u128(h.amountIn),
      asset_out: v.address(outAsset), amount_out: v.u128(h.amountOut), protocol_fee: v.u128(h.cut),
      reserve0: v.u128(h.after.reserve0), reserve1: v.u128(h.after.reserve1),
    }));
  }
  creditAsset(view, assetOut(last.info, last.dir), ctx.sender, last.amountOut);
}

// ---- calls ----------------------------------------------------------------------------------

const createPool = defineCall({
  ...AMM_SPEC.calls.create_pool,
  run(view, ctx, { asset_a, asset_b, fee_bps }) {
    if (!FEE_TIERS.includes(fee_bps)) throw new ExecutionFailure('UNSUPPORTED_FEE_TIER', `fee_bps ${fee_bps} is not a fee tier: use ${FEE_TIERS.join(', ')}`);
    const order = compareAssets(asset_a, asset_b);
    if (order === 0) throw new ExecutionFailure('SAME_ASSET', `a pool needs two different assets, got ${addressHex(asset_a)} twice`);
    const [asset0, asset1] = order < 0 ? [asset_a, asset_b] : [asset_b, asset_a];
    requireAsset(view, asset0);
    requireAsset(view, asset1);
    const pool = poolId(asset0, asset1, fee_bps);
    if (view.get(poolKey(pool)) !== undefined) throw new ExecutionFailure('POOL_EXISTS', `pool ${addressHex(pool)} of this pair and fee tier already exists`);
    const fee = getParams(view).poolCreationFee;
    if (fee > 0n) {
      debit(view, ctx.sender, fee);
      credit(view, ctx.treasury, fee);
    }
    const lpToken = lpTokenId(pool);
    // The pool creates its LP token and is its only mint authority: nobody holds the pool's key.
    view.set(tokenInfoKey(lpToken), encodeTokenInfo({ name: 'AMM LP', symbol: 'ALP', decimals: 0, maxSupply: 0n, mintAuthority: pool, creator: pool }));
    view.set(poolKey(pool), encodePoolInfo({ asset0, asset1, feeBps: fee_bps, lpToken, creator: ctx.sender }));
    view.emit(event('pool_created', {
      pool: v.address(pool), asset0: v.address(asset0), asset1: v.address(asset1), fee_bps: v.u64(fee_bps),
      lp_token: v.address(lpToken), creator: v.address(ctx.sender), creation_fee: v.u128(fee),
    }));
  },
});

const addLiquidity = defineCall({
  ...AMM_SPEC.calls.add_liquidity,
  run(view, ctx, { pool, amount0_desired, amount1_desired, amount0_min, amount1_min, deadline }) {
    const info = requirePool(view, pool);
    requireDeadline(ctx, deadline);
    requirePositive(amount0_desired, 'amount0_desired');
    requirePositive(amount1_desired, 'amount1_desired');
    const before = touchReserves(view, pool, ctx.height);
    const total = decodeU128(view.get(tokenSupplyKey(info.lpToken)));
    const first = total === 0n;
    const d = optimalDeposit(amount0_desired, amount1_desired, amount0_min, amount1_min, first ? 0n : before.reserve0, first ? 0n : before.reserve1);
    if (!d.ok) throw new ExecutionFailure('MINIMUM_NOT_MET', `at the pool's current ratio the deposit of asset${d.which} falls below amount${d.which}_min`);
    const { amount0, amount1 } = d;
    let shares = sharesFor(amount0, amount1, before.reserve0, before.reserve1, total);
    if (first) {
      if (shares <= MINIMUM_LIQUIDITY) throw new ExecutionFailure('INSUFFICIENT_LIQUIDITY_MINTED', `the first deposit must be worth more than ${MINIMUM_LIQUIDITY} shares (sqrt(amount0 * amount1) = ${shares})`);
      shares -= MINIMUM_LIQUIDITY;
    } else if (shares === 0n) {
      throw new ExecutionFailure('INSUFFICIENT_LIQUIDITY_MINTED', 'the deposit is worth less than one share');
    }
    const after: Reserves = { ...before, reserve0: checkedReserve(before.reserve0 + amount0), reserve1: checkedReserve(before.reserve1 + amount1) };
    debitAsset(view, info.asset0, ctx.sender, amount0);
    debitAsset(view, info.asset1, ctx.sender, amount1);
    creditAsset(view, info.asset0, pool, amount0);
    creditAsset(view, info.asset1, pool, amount1);
    view.addDelta(tokenSupplyKey(info.lpToken), first ? shares + MINIMUM_LIQUIDITY : shares, 'ARITHMETIC_OVERFLOW');
    if (first) creditToken(view, info.lpToken, DEAD_ADDRESS, MINIMUM_LIQUIDITY);
    creditToken(view, info.lpToken, ctx.sender, shares);
    writeReserves(view, pool, after);
    view.emit(event('liquidity_added', {
      pool: v.address(pool), provider: v.address(ctx.sender), amount0: v.u128(amount0), amount1: v.u128(amount1), shares: v.u128(shares),
      reserve0: v.u128(after.reserve0), reserve1: v.u128(after.reserve1),
    }));
  },
});

const removeLiquidity = defineCall({
  ...AMM_SPEC.calls.remove_liquidity,
  run(view, ctx, { pool, shares, amount0_min, amount1_min, deadline }) {
    const info = requirePool(view, pool);
    requireDeadline(ctx, deadline);
    requirePositive(shares, 'shares');
    const held = tokenBalance(view, info.lpToken, ctx.sender);
    if (held < shares) throw new ExecutionFailure('INSUFFICIENT_TOKEN_BALANCE', `the sender holds ${held} shares of this pool, not ${shares}`);
    const before = touchReserves(view, pool, ctx.height);
    const total = decodeU128(view.get(tokenSupplyKey(info.lpToken))); // >= held > 0
    const amount0 = redeemed(shares, before.reserve0, total);
    const amount1 = redeemed(shares, before.reserve1, total);
    if (amount0 === 0n || amount1 === 0n) throw new ExecutionFailure('INSUFFICIENT_LIQUIDITY_BURNED', `${shares} shares redeem ${amount0} and ${amount1}: nothing of one asset`);
    if (amount0 < amount0_min) throw new ExecutionFailure('MINIMUM_NOT_MET', `the shares redeem ${amount0} of asset0, less than amount0_min ${amount0_min}`);
    if (amount1 < amount1_min) throw new ExecutionFailure('MINIMUM_NOT_MET', `the shares redeem ${amount1} of asset1, less than amount1_min ${amount1_min}`);
    const after: Reserves = { ...before, reserve0: before.reserve0 - amount0, reserve1: before.reserve1 - amount1 };
    debitToken(view, info.lpToken, ctx.sender, shares);
    view.addDelta(tokenSupplyKey(info.lpToken), -shares, 'ARITHMETIC_OVERFLOW');
    takeAsset(view, info.asset0, pool, amount0, 'INSUFFICIENT_LIQUIDITY');
    takeAsset(view, info.asset1, pool, amount1, 'INSUFFICIENT_LIQUIDITY');
    creditAsset(view, info.asset0, ctx.sender, amount0);
    creditAsset(view, info.asset1, ctx.sender, amount1);
    writeReserves(view, pool, after);
    view.emit(event('liquidity_removed', {
      pool: v.address(pool), provider: v.address(ctx.sender), amount0: v.u128(amount0), amount1: v.u128(amount1), shares: v.u128(shares),
      reserve0: v.u128(after.reserve0), reserve1: v.u128(after.reserve1),
    }));
  },
});

const swap = defineCall({
  ...AMM_SPEC.calls.swap,
  run(view, ctx, { pool, asset_in, amount_in, min_out, deadline }) {
    swapExactIn(view, ctx, [pool], asset_in, amount_in, min_out, deadline);
  },
});

const swapPath = defineCall({
  ...AMM_SPEC.calls.swap_path,
  run(view, ctx, { path, asset_in, amount_in, min_out, deadline }) {
    const pools = pathFromBytes(path);
    checkPath(pools); // the path's shape is checked first, as documented
    swapExactIn(view, ctx, pools, asset_in, amount_in, min_out, deadline);
  },
});

const swapBatch = defineCall({
  ...AMM_SPEC.calls.swap_batch,
  run(view, ctx, { pool, asset_in, amount_in, min_out, deadline }) {
    // Reads only the pool's immutable record and its own key: batch deposits never conflict.
    const info = requirePool(view, pool);
    const direction = directionOf(info, pool, asset_in);
    requireDeadline(ctx, deadline);
    requirePositive(amount_in, 'amount_in');
    const key = batchKey(pool, ctx.txHash);
    if (view.get(key) !== undefined) throw new ExecutionFailure('ALREADY_QUEUED', 'this transaction already queued a batch swap');
    debitAsset(view, asset_in, ctx.sender, amount_in);
    creditAsset(view, asset_in, batchEscrow(pool), amount_in);
    view.set(key, encodeBatchSwap({ trader: ctx.sender, direction, amountIn: amount_in, minOut: min_out, deadline, height: ctx.height }));
    view.emit(event('batch_queued', {
      pool: v.address(pool), trader: v.address(ctx.sender), tx_hash: v.bytes(ctx.txHash), asset_in: v.address(asset_in),
      amount_in: v.u128(amount_in), min_out: v.u128(min_out), deadline: v.u64(deadline),
    }));
  },
});

const setParams = defineCall({
  ...AMM_SPEC.calls.set_params,
  run(view, ctx, { protocol_fee_bps, pool_creation_fee }) {
    const admin = view.get(FEE_ADMIN_KEY);
    if (!admin || !bytesEqual(admin, ctx.sender)) throw new ExecutionFailure('NOT_FEE_ADMIN', 'only the fee admin (fee/admin) can change the amm parameters');
    if (protocol_fee_bps > MAX_PROTOCOL_FEE_BPS) throw new ExecutionFailure('INVALID_PROTOCOL_FEE', `protocol_fee_bps ${protocol_fee_bps} is above ${MAX_PROTOCOL_FEE_BPS} (half of the swap fee)`);
    view.set(PARAMS_KEY, encodeParams({ protocolFeeBps: protocol_fee_bps, poolCreationFee: pool_creation_fee }));
    view.emit(event('params_changed', { protocol_fee_bps: v.u64(protocol_fee_bps), pool_creation_fee: v.u128(pool_creation_fee) }));
  },
});

// ---- liquidity mining -------------------------------------------------------------------------

const createProgramme = defineCall({
  ...AMM_SPEC.calls.create_programme,
  run(view, ctx, { pool, reward_asset, amount, start, end }) {
    const info = requirePool(view, pool);
    requireAsset(view, reward_asset);
    requirePositive(amount);
    if (start < ctx.height || end <= start) throw new ExecutionFailure('INVALID_SCHEDULE', `a programme runs over [start, end) with height ${ctx.height} <= start < end; got [${start}, ${end})`);
    const id = deriveId('amm-programme', ctx.txHash);
    debitAsset(view, reward_asset, ctx.sender, amount);
    creditAsset(view, reward_asset, rewardAccount(id), amount);
    view.set(programmeKey(id), encodeProgramme({ pool, lpToken: info.lpToken, rewardAsset: reward_asset, amount, start, end, funder: ctx.sender }));
    view.emit(event('programme_created', {
      programme: v.address(id), pool: v.address(pool), lp_token: v.address(info.lpToken), reward_asset: v.address(reward_asset),
      amount: v.u128(amount), start: v.u64(start), end: v.u64(end), funder: v.address(ctx.sender),
    }));
  },
});

const stakeEvent = (name: 'staked' | 'unstaked', id: Uint8Array, staker: Uint8Array, amount: bigint, settled: bigint) =>
  event(name, { programme: v.address(id), staker: v.address(staker), amount: v.u128(amount), settled: v.u128(settled) });

const stake = defineCall({
  ...AMM_SPEC.calls.stake,
  run(view, ctx, { programme: id, amount }) {
    const p = requireProgramme(view, id);
    requirePositive(amount);
    debitToken(view, p.lpToken, ctx.sender, amount);
    const a = accrue(view, id, p, ctx.height);
    const { position, settled } = settle(getStake(view, id, ctx.sender), a.acc);
    writeStake(view, id, ctx.sender, { ...position, staked: position.staked + amount });
    view.addDelta(stakedKey(id), amount, 'ARITHMETIC_OVERFLOW');
    creditToken(view, p.lpToken, stakeEscrow(id), amount);
    view.emit(stakeEvent('staked', id, ctx.sender, amount, settled));
    if (a.undistributed > 0n) {
      // Emitted while nothing was staked: to the stakers present now (as staking.stake does).
      const acc = accAfter(a.acc, a.undistributed, getTotalStaked(view, id));
      view.set(accrualKey(id), encodeAccrual({ acc, undistributed: 0n, lastHeight: a.lastHeight }));
      view.emit(event('rewards_released', { programme: v.address(id), amount: v.u128(a.undistributed), acc_reward_per_share: v.u128(acc) }));
    }
  },
});

const unstake = defineCall({
  ...AMM_SPEC.calls.unstake,
  run(view, ctx, { programme: id, amount }) {
    const p = requireProgramme(view, id);
    requirePositive(amount);
    const current = getStake(view, id, ctx.sender);
    if (current.staked < amount) throw new ExecutionFailure('INSUFFICIENT_STAKE', `staked ${current.staked} is less than ${amount}`);
    const a = accrue(view, id, p, ctx.height);
    const { position, settled } = settle(current, a.acc);
    writeStake(view, id, ctx.sender, { ...position, staked: position.staked - amount });
    view.addDelta(stakedKey(id), -amount, 'ARITHMETIC_OVERFLOW');
    takeAsset(view, p.lpToken, stakeEscrow(id), amount, 'INSUFFICIENT_STAKE');
    creditToken(view, p.lpToken, ctx.sender, amount);
    view.emit(stakeEvent('unstaked', id, ctx.sender, amount, settled));
  },
});

const claim = defineCall({
  ...AMM_SPEC.calls.claim,
  run(view, ctx, { programme: id }) {
    const p = requireProgramme(view, id);
    const a = accrue(view, id, p, ctx.height);
    const { position } = settle(getStake(view, id, ctx.sender), a.acc);
    const amount = position.claimable;
    if (amount === 0n) throw new ExecutionFailure('NOTHING_TO_CLAIM', 'no rewards to claim');
    writeStake(view, id, ctx.sender, { ...position, claimable: 0n });
    // A delta, so claims do not conflict; the accounting keeps the account >= everything owed.
    takeAsset(view, p.rewardAsset, rewardAccount(id), amount, 'INSUFFICIENT_REWARD_POOL');
    creditAsset(view, p.rewardAsset, ctx.sender, amount);
    view.emit(event('claimed', { programme: v.address(id), staker: v.address(ctx.sender), amount: v.u128(amount) }));
  },
});

// ---- views ----------------------------------------------------------------------------------

/** A view's answer when its input is unusable: the call's error code and message. */
function viewError(e: unknown): { error: string; message: string } {
  if (e instanceof ExecutionFailure) return { error: e.code, message: e.message };
  throw e;
}

/** "0x…,0x…" (1 to 4 pool ids, spaces allowed around commas). */
function pathFromString(s: string): Uint8Array[] {
  const parts = s.split(',').map((x) => x.trim());
  if (parts.length > MAX_PATH) throw new ExecutionFailure('PATH_TOO_LONG', `the path crosses ${parts.length} pools; at most ${MAX_PATH}`);
  return parts.map((x) => {
    if (!/^0x[0-9a-fA-F]{40}$/.test(x)) throw new ExecutionFailure('INVALID_PATH', `path entry ${JSON.stringify(x)} is not a pool id (0x + 40 hex digits)`);
    return fromHex(x, 20);
  });
}

const hopJson = (h: Hop) => ({
  pool: toHex(h.pool), assetIn: toHex(assetIn(h.info, h.dir)), amountIn: h.amountIn.toString(),
  assetOut: toHex(assetOut(h.info, h.dir)), amountOut: h.amountOut.toString(), protocolFee: h.cut.toString(),
});

const getPoolView = defineView({
  ...AMM_SPEC.views.getPool,
  run(state, { pool }, ctx) {
    const info = getPoolInfo(state, pool);
    if (!info) return null;
    const stored = getReserves(state, pool);
    const now = touchReserves(state, pool, ctx.height);
    return {
      id: toHex(pool), asset0: toHex(info.asset0), asset1: toHex(info.asset1), feeBps: Number(info.feeBps), lpToken: toHex(info.lpToken),
      creator: toHex(info.creator), batchEscrow: toHex(batchEscrow(pool)),
      reserve0: stored.reserve0.toString(), reserve1: stored.reserve1.toString(),
      totalShares: decodeU128(state.get(tokenSupplyKey(info.lpToken))).toString(),
      protocolFeeBps: Number(getParams(state).protocolFeeBps),
      price0CumulativeLast: stored.price0Cumulative.toString(), price1CumulativeLast: stored.price1Cumulative.toString(), lastHeight: stored.lastHeight.toString(),
      height: ctx.height.toString(), price0Cumulative: now.price0Cumulative.toString(), price1Cumulative: now.price1Cumulative.toString(),
    };
  },
});

const getPoolIdView = defineView({
  ...AMM_SPEC.views.getPoolId,
  run(state, { asset_a, asset_b, fee_bps }) {
    const order = compareAssets(asset_a, asset_b);
    if (order === 0) return { error: 'SAME_ASSET', message: 'a pool needs two different assets' };
    if (!FEE_TIERS.includes(fee_bps)) return { error: 'UNSUPPORTED_FEE_TIER', message: `fee tiers are ${FEE_TIERS.join(', ')}` };
    const [asset0, asset1] = order < 0 ? [asset_a, asset_b] : [asset_b, asset_a];
    const pool = poolId(asset0, asset1, fee_bps);
    return { pool: toHex(pool), asset0: toHex(asset0), asset1: toHex(asset1), feeBps: Number(fee_bps), lpToken: toHex(lpTokenId(pool)), exists: getPoolInfo(state, pool) !== undefined };
  },
});

const getParamsView = defineView({
  ...AMM_SPEC.views.getParams,
  run(state) {
    const p = getParams(state);
    const admin = state.get(FEE_ADMIN_KEY);
    return { protocolFeeBps: Number(p.protocolFeeBps), poolCreationFee: p.poolCreationFee.toString(), admin: admin ? toHex(admin) : null };
  },
});

const quoteExactIn = defineView({
  ...AMM_SPEC.views.quoteExactIn,
  run(state, { path, asset_in, amount_in }, ctx) {
    try {
      requirePositive(amount_in, 'amount_in');
      const hops = planExactIn(state, pathFromString(path), asset_in, amount_in, ctx.height, getParams(state).protocolFeeBps);
      const last = hops[hops.length - 1]!;
      return { amountIn: amount_in.toString(), assetOut: toHex(assetOut(last.info, last.dir)), amountOut: last.amountOut.toString(), hops: hops.map(hopJson) };
    } catch (e) {
      return viewError(e);
    }
  },
});

const quoteExactOut = defineView({
  ...AMM_SPEC.views.quoteExactOut,
  run(state, { path, asset_in, amount_out }, ctx) {
    try {
      requirePositive(amount_out, 'amount_out');
      const pools = pathFromString(path);
      checkPath(pools);
      // Forward: each hop's direction; backward: the least input of each hop for the next one's.
      let asset = asset_in;
      const legs = pools.map((pool) => {
        const info = requirePool(state, pool);
        const dir = directionOf(info, pool, asset);
        asset = assetOut(info, dir);
        return { pool, info, dir, r: touchReserves(state, pool, ctx.height) };
      });
      const amounts: bigint[] = new Array<bigint>(legs.length + 1);
      amounts[legs.length] = amount_out;
      for (let i = legs.length - 1; i >= 0; i--) {
        const { pool, info, dir, r } = legs[i]!;
        const need = amountInFor(amounts[i + 1]!, reserveOf(r, dir), reserveOf(r, dir === 0 ? 1 : 0), info.feeBps);
        if (need === null) throw new ExecutionFailure('INSUFFICIENT_LIQUIDITY', `pool ${addressHex(pool)} cannot pay ${amounts[i + 1]}`);
        amounts[i] = need;
      }
      // The exact-in swap of that input, which pays at least amount_out.
      const hops = planExactIn(state, pools, asset_in, amounts[0]!, ctx.height, getParams(state).protocolFeeBps);
      const last = hops[hops.length - 1]!;
      return { amountIn: amounts[0]!.toString(), assetOut: toHex(asset), amountOut: last.amountOut.toString(), hops: hops.map(hopJson) };
    } catch (e) {
      return viewError(e);
    }
  },
});

const getPositionView = defineView({
  ...AMM_SPEC.views.getPosition,
  run(state, { pool, owner }) {
    const info = getPoolInfo(state, pool);
    if (!info) return null;
    const r = getReserves(state, pool);
    const shares = tokenBalance(state, info.lpToken, owner);
    const total = decodeU128(state.get(tokenSupplyKey(info.lpToken)));
    return {
      pool: toHex(pool), owner: toHex(owner), shares: shares.toString(), totalShares: total.toString(),
      amount0: (total === 0n ? 0n : redeemed(shares, r.reserve0, total)).toString(), amount1: (total === 0n ? 0n : redeemed(shares, r.reserve1, total)).toString(),
    };
  },
});

const getProgrammeView = defineView({
  ...AMM_SPEC.views.getProgramme,
  run(state, { programme: id }, ctx) {
    const p = getProgramme(state, id);
    if (!p) return null;
    const a = accrued(state, id, p, ctx.height).accrual;
    return {
      id: toHex(id), pool: toHex(p.pool), lpToken: toHex(p.lpToken), rewardAsset: toHex(p.rewardAsset), amount: p.amount.toString(),
      start: p.start.toString(), end: p.end.toString(), funder: toHex(p.funder), emitted: emittedBefore(p, ctx.height).toString(),
      totalStaked: getTotalStaked(state, id).toString(), accRewardPerShare: a.acc.toString(), undistributed: a.undistributed.toString(),
      accruedTo: getAccrual(state, id, p).lastHeight.toString(), stakeEscrow: toHex(stakeEscrow(id)), rewardAccount: toHex(rewardAccount(id)),
      rewardBalance: assetBalance(state, p.rewardAsset, rewardAccount(id)).toString(),
    };
  },
});

const getStakeView = defineView({
  ...AMM_SPEC.views.getStake,
  run(state, { programme: id, staker }, ctx) {
    const p = getProgramme(state, id);
    if (!p) return null;
    const s = getStake(state, id, staker);
    const acc = accrued(state, id, p, ctx.height).accrual.acc;
    return { programme: toHex(id), staker: toHex(staker), staked: s.staked.toString(), pending: pendingRewards(s, acc).toString(), claimable: s.claimable.toString() };
  },
});

const getBatchResultView = defineView({
  ...AMM_SPEC.views.getBatchResult,
  run(state, { tx_hash }) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(tx_hash)) return { error: 'INVALID_TX_HASH', message: 'tx_hash must be 0x + 64 hex digits' };
    const b = state.get(resultKey(fromHex(tx_hash, 32)));
    if (!b) return null;
    const r = decodeBatchResult(b);
    const info = getPoolInfo(state, r.pool);
    return {
      txHash: tx_hash.toLowerCase(), pool: toHex(r.pool), trader: toHex(r.trader), height: r.height.toString(),
      assetIn: info ? toHex(assetIn(info, r.direction)) : null, amountIn: r.amountIn.toString(),
      assetOut: info ? toHex(assetOut(info, r.direction)) : null, amountOut: r.amountOut.toString(),
      status: r.code === '' ? 'filled' : 'refunded', code: r.code === '' ? null : r.code,
    };
  },
});

export const ammModule: Module = {
  name: 'amm',
  calls: {
    create_pool: createPool, add_liquidity: addLiquidity, remove_liquidity: removeLiquidity, swap, swap_path: swapPath, swap_batch: swapBatch,
    set_params: setParams, create_programme: createProgramme, stake, unstake, claim,
  },
  views: {
    getPool: getPoolView, getPoolId: getPoolIdView, getParams: getParamsView, quoteExactIn, quoteExactOut, getPosition: getPositionView,
    getProgramme: getProgrammeView, getStake: getStakeView, getBatchResult: getBatchResultView,
  },
  /** Batch swaps clear at the block's end (./settle.ts). */
  blockEnd: settleBatches,
};
