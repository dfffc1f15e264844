/**
 * `staking`: stake a DAO's governance token, earn native-coin rewards pro rata
 * (docs/MODULES.md). A reward-per-share accumulator (staking/state.ts) makes every
 * call O(1): funding never loops over stakers.
 *
 * Under Block-STM: stakes and unstakes by different accounts touch their own position and
 * balance, read the pool record and change the total stake by deltas, so they do not
 * conflict with each other; claims take rewards out of the pool account by a delta.
 * fund_rewards reads the total stake and rewrites the accumulator, so it orders itself with
 * the stakes, unstakes and claims around it, as it must.
 */
import { defineCall, defineView, eventsOf } from '../args.js';
import { STAKING_SPEC } from './spec.js';
import { toHex } from '../../protocol/hex.js';
import { v } from '../../protocol/value.js';
import { balanceKey, credit, debit } from '../coin/state.js';
import { getDaoInfo, requireDao } from '../dao/state.js';
import { creditToken, debitToken } from '../token/state.js';
import { ExecutionFailure, requirePositive, type Module, type StateView } from '../types.js';
import {
  accAfter,
  distributeRewards,
  encodePool,
  getPool,
  getPosition,
  getRewardBalance,
  getTotalStaked,
  pendingRewards,
  poolKey,
  rewardPoolAddress,
  settle,
  stakedKey,
  writePosition,
  type Position,
} from './state.js';


const event = eventsOf('staking');

/**
 * stake and unstake: the sender's pending rewards settled into its claimable balance, its
 * stake and the DAO's total moved by `signed`; returns what was settled.
 */
function moveStake(view: StateView, staker: Uint8Array, dao: Uint8Array, token: Uint8Array, current: Position, acc: bigint, signed: bigint): bigint {
  const { position, settled } = settle(current, acc);
  writePosition(view, dao, staker, { ...position, staked: position.staked + signed });
  view.addDelta(stakedKey(token, dao), signed, 'ARITHMETIC_OVERFLOW');
  return settled;
}

const stakeEvent = (name: 'staked' | 'unstaked', dao: Uint8Array, staker: Uint8Array, amount: bigint, settled: bigint) =>
  event(name, { dao: v.address(dao), staker: v.address(staker), amount: v.u128(amount), settled: v.u128(settled) });

const stake = defineCall({
  ...STAKING_SPEC.calls.stake,
  run(view, ctx, { dao, amount }) {
    const { token } = requireDao(view, dao);
    requirePositive(amount);
    debitToken(view, token, ctx.sender, amount);
    const pool = getPool(view, dao);
    const settled = moveStake(view, ctx.sender, dao, token, getPosition(view, dao, ctx.sender), pool.acc, amount);
    view.emit(stakeEvent('staked', dao, ctx.sender, amount, settled));
    if (pool.undistributed > 0n) {
      // Rewards funded while nothing was staked go to the stakers present now (this one,
      // since the total was 0); its accAtSettle is the old acc, so it earns them.
      const total = getTotalStaked(view, token, dao);
      const acc = accAfter(pool.acc, pool.undistributed, total);
      view.set(poolKey(dao), encodePool({ acc, undistributed: 0n }));
      view.emit(event('rewards_released', { dao: v.address(dao), amount: v.u128(pool.undistributed), acc_reward_per_share: v.u128(acc) }));
    }
  },
});

const unstake = defineCall({
  ...STAKING_SPEC.calls.unstake,
  run(view, ctx, { dao, amount }) {
    const { token } = requireDao(view, dao);
    requirePositive(amount);
    const current = getPosition(view, dao, ctx.sender);
    if (current.staked < amount) throw new ExecutionFailure('INSUFFICIENT_STAKE', `staked ${current.staked} is less than ${amount}`);
    const settled = moveStake(view, ctx.sender, dao, token, current, getPool(view, dao).acc, -amount);
    creditToken(view, token, ctx.sender, amount);
    view.emit(stakeEvent('unstaked', dao, ctx.sender, amount, settled));
  },
});

const claim = defineCall({
  ...STAKING_SPEC.calls.claim,
  run(view, ctx, { dao }) {
    requireDao(view, dao);
    const { position } = settle(getPosition(view, dao, ctx.sender), getPool(view, dao).acc);
    const amount = position.claimable;
    if (amount === 0n) throw new ExecutionFailure('NOTHING_TO_CLAIM', 'no rewards to claim');
    writePosition(view, dao, ctx.sender, { ...position, claimable: 0n });
    // A delta, so claims do not conflict; the accounting keeps the pool >= everything owed.
    view.addDelta(balanceKey(rewardPoolAddress(dao)), -amount, 'INSUFFICIENT_REWARD_POOL');
    credit(view, ctx.sender, amount);
    view.emit(event('claimed', { dao: v.address(dao), staker: v.address(ctx.sender), amount: v.u128(amount) }));
  },
});

const fundRewards = defineCall({
  ...STAKING_SPEC.calls.fund_rewards,
  run(view, ctx, { dao, amount }) {
    const { token } = requireDao(view, dao);
    requirePositive(amount);
    debit(view, ctx.sender, amount);
    credit(view, rewardPoolAddress(dao), amount);
    const pool = distributeRewards(view, dao, token, amount);
    view.emit(event('rewards_funded', {
      dao: v.address(dao), from: v.address(ctx.sender), amount: v.u128(amount),
      acc_reward_per_share: v.u128(pool.acc), undistributed: v.u128(pool.undistributed),
    }));
  },
});

const getPositionView = defineView({
  ...STAKING_SPEC.views.getPosition,
  run(state, { dao, staker }) {
    if (!getDaoInfo(state, dao)) return null;
    const p = getPosition(state, dao, staker);
    return { staked: p.staked.toString(), pending: pendingRewards(p, getPool(state, dao).acc).toString(), claimable: p.claimable.toString() };
  },
});

const getPoolView = defineView({
  ...STAKING_SPEC.views.getPool,
  run(state, { dao }) {
    const info = getDaoInfo(state, dao);
    if (!info) return null;
    const pool = getPool(state, dao);
    return {
      dao: toHex(dao),
      token: toHex(info.token),
      rewardPool: toHex(rewardPoolAddress(dao)),
      totalStaked: getTotalStaked(state, info.token, dao).toString(),
      accRewardPerShare: pool.acc.toString(),
      undistributed: pool.undistributed.toString(),
      rewardBalance: getRewardBalance(state, dao).toString(),
    };
  },
});

export const stakingModule: Module = {
  name: 'staking',
  calls: { stake, unstake, claim, fund_rewards: fundRewards },
  views: { getPosition: getPositionView, getPool: getPoolView },
};
