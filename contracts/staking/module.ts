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
import { argAddress, argUint } from '../args.js';
import { toHex } from '../../protocol/hex.js';
import { v } from '../../protocol/value.js';
import { balanceKey, credit, debit } from '../coin/state.js';
import { getDaoInfo, requireDao } from '../dao/state.js';
import { creditToken, debitToken } from '../token/state.js';
import { ExecutionFailure, type CallSpec, type Module, type ViewSpec } from '../types.js';
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
} from './state.js';


function requirePositive(amount: bigint): void {
  if (amount === 0n) throw new ExecutionFailure('INVALID_AMOUNT', 'amount must be at least 1');
}

const stake: CallSpec = {
  args: [
    ['dao', 'address'],
    ['amount', 'u128'],
  ],
  summary: "Stake `amount` of the DAO's governance token; pending rewards are settled into the claimable balance first.",
  run(view, ctx, args) {
    const dao = argAddress(args, 0);
    const amount = argUint(args, 1);
    const { token } = requireDao(view, dao);
    requirePositive(amount);
    debitToken(view, token, ctx.sender, amount);
    const pool = getPool(view, dao);
    const { position, settled } = settle(getPosition(view, dao, ctx.sender), pool.acc);
    writePosition(view, dao, ctx.sender, { ...position, staked: position.staked + amount });
    view.addDelta(stakedKey(token, dao), amount, 'ARITHMETIC_OVERFLOW');
    view.emit({
      module: 'staking',
      name: 'staked',
      fields: [
        { name: 'dao', value: v.address(dao) },
        { name: 'staker', value: v.address(ctx.sender) },
        { name: 'amount', value: v.u128(amount) },
        { name: 'settled', value: v.u128(settled) },
      ],
    });
    if (pool.undistributed > 0n) {
      // Rewards funded while nothing was staked go to the stakers present now (this one,
      // since the total was 0); its accAtSettle is the old acc, so it earns them.
      const total = getTotalStaked(view, token, dao);
      const acc = accAfter(pool.acc, pool.undistributed, total);
      view.set(poolKey(dao), encodePool({ acc, undistributed: 0n }));
      view.emit({
        module: 'staking',
        name: 'rewards_released',
        fields: [
          { name: 'dao', value: v.address(dao) },
          { name: 'amount', value: v.u128(pool.undistributed) },
          { name: 'acc_reward_per_share', value: v.u128(acc) },
        ],
      });
    }
  },
};

const unstake: CallSpec = {
  args: [
    ['dao', 'address'],
    ['amount', 'u128'],
  ],
  summary: 'Withdraw `amount` of staked tokens; pending rewards are settled into the claimable balance first.',
  run(view, ctx, args) {
    const dao = argAddress(args, 0);
    const amount = argUint(args, 1);
    const { token } = requireDao(view, dao);
    requirePositive(amount);
    const current = getPosition(view, dao, ctx.sender);
    if (current.staked < amount) throw new ExecutionFailure('INSUFFICIENT_STAKE', `staked ${current.staked} is less than ${amount}`);
    const { position, settled } = settle(current, getPool(view, dao).acc);
    writePosition(view, dao, ctx.sender, { ...position, staked: position.staked - amount });
    view.addDelta(stakedKey(token, dao), -amount, 'ARITHMETIC_OVERFLOW');
    creditToken(view, token, ctx.sender, amount);
    view.emit({
      module: 'staking',
      name: 'unstaked',
      fields: [
        { name: 'dao', value: v.address(dao) },
        { name: 'staker', value: v.address(ctx.sender) },
        { name: 'amount', value: v.u128(amount) },
        { name: 'settled', value: v.u128(settled) },
      ],
    });
  },
};

const claim: CallSpec = {
  args: [['dao', 'address']],
  summary: "Pay the sender's claimable and pending rewards (native coin) from the DAO's reward pool.",
  run(view, ctx, args) {
    const dao = argAddress(args, 0);
    requireDao(view, dao);
    const { position } = settle(getPosition(view, dao, ctx.sender), getPool(view, dao).acc);
    const amount = position.claimable;
    if (amount === 0n) throw new ExecutionFailure('NOTHING_TO_CLAIM', 'no rewards to claim');
    writePosition(view, dao, ctx.sender, { ...position, claimable: 0n });
    // A delta, so claims do not conflict; the accounting keeps the pool >= everything owed.
    view.addDelta(balanceKey(rewardPoolAddress(dao)), -amount, 'INSUFFICIENT_REWARD_POOL');
    credit(view, ctx.sender, amount);
    view.emit({
      module: 'staking',
      name: 'claimed',
      fields: [
        { name: 'dao', value: v.address(dao) },
        { name: 'staker', value: v.address(ctx.sender) },
        { name: 'amount', value: v.u128(amount) },
      ],
    });
  },
};

const fundRewards: CallSpec = {
  args: [
    ['dao', 'address'],
    ['amount', 'u128'],
  ],
  summary: "Pay `amount` of the native coin into the DAO's staking reward pool, shared pro rata among current stakers.",
  run(view, ctx, args) {
    const dao = argAddress(args, 0);
    const amount = argUint(args, 1);
    const { token } = requireDao(view, dao);
    requirePositive(amount);
    debit(view, ctx.sender, amount);
    credit(view, rewardPoolAddress(dao), amount);
    const pool = distributeRewards(view, dao, token, amount);
    view.emit({
      module: 'staking',
      name: 'rewards_funded',
      fields: [
        { name: 'dao', value: v.address(dao) },
        { name: 'from', value: v.address(ctx.sender) },
        { name: 'amount', value: v.u128(amount) },
        { name: 'acc_reward_per_share', value: v.u128(pool.acc) },
        { name: 'undistributed', value: v.u128(pool.undistributed) },
      ],
    });
  },
};

const getPositionView: ViewSpec = {
  params: [
    ['dao', 'id'],
    ['staker', 'address'],
  ],
  summary: "A staker's position in a DAO's staking pool (zeros if none); null if the DAO does not exist.",
  run(state, args) {
    const dao = args[0] as Uint8Array;
    if (!getDaoInfo(state, dao)) return null;
    const p = getPosition(state, dao, args[1] as Uint8Array);
    return { staked: p.staked.toString(), pending: pendingRewards(p, getPool(state, dao).acc).toString(), claimable: p.claimable.toString() };
  },
};

const getPoolView: ViewSpec = {
  params: [['dao', 'id']],
  summary: "A DAO's staking pool: total staked, accumulator, reward balance; null if the DAO does not exist.",
  run(state, args) {
    const dao = args[0] as Uint8Array;
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
};

export const stakingModule: Module = {
  name: 'staking',
  calls: { stake, unstake, claim, fund_rewards: fundRewards },
  views: { getPosition: getPositionView, getPool: getPoolView },
};
