/**
 * The reward-per-share accumulator shared by `staking` (native-coin rewards for a DAO's
 * stakers) and `amm` (liquidity mining: rewards for LP tokens staked in a programme).
 * Pure arithmetic and the position encoding; each module keeps its own keys.
 *
 * Scaled by ACC_SCALE = 10^18: spreading `amount` over `total` staked units adds
 * floor(amount * 10^18 / total) to acc. A position's debt is kept as the accumulator value
 * at its last settlement, so
 *     pending = floor(staked * (acc - accAtSettle) / 10^18)
 * which is the textbook `staked * acc / 1e18 - rewardDebt` with the debt held exactly.
 * (Storing the debt as floor(staked * acc / 1e18) can pay out more than was funded:
 * floor(x) - floor(y) may exceed x - y by almost 1 per position; docs/MODULES.md shows a case.)
 * Every floor rounds towards the reward pool, so the pool always covers everything owed;
 * the rounding dust stays in the pool account.
 */
import { Reader, U128_MAX, Writer } from '../protocol/codec.js';
import { ExecutionFailure } from './types.js';

export const ACC_SCALE = 10n ** 18n;

export interface RewardPool {
  /** Rewards per staked unit, times 10^18, since the pool began. */
  readonly acc: bigint;
  /** Rewards that arrived while nothing was staked; released to the next stakers. */
  readonly undistributed: bigint;
}

export interface Position {
  readonly staked: bigint;
  /** acc when the position was last settled (its reward debt per unit). */
  readonly accAtSettle: bigint;
  /** Settled rewards not yet claimed. */
  readonly claimable: bigint;
}

export const EMPTY_POOL: RewardPool = { acc: 0n, undistributed: 0n };
export const EMPTY_POSITION: Position = { staked: 0n, accAtSettle: 0n, claimable: 0n };

/** u128 staked | u128 accAtSettle | u128 claimable (48 bytes). */
export function encodePosition(p: Position): Uint8Array {
  return new Writer(48).u128(p.staked).u128(p.accAtSettle).u128(p.claimable).finish();
}

export function decodePosition(b: Uint8Array, what = 'staking position'): Position {
  const r = new Reader(b, what);
  const p = { staked: r.u128('staked'), accAtSettle: r.u128('accAtSettle'), claimable: r.u128('claimable') };
  r.end();
  return p;
}

/** `x`, or fails the call with ARITHMETIC_OVERFLOW when it leaves u128. */
export function checkedU128(x: bigint, what: string): bigint {
  if (x > U128_MAX) throw new ExecutionFailure('ARITHMETIC_OVERFLOW', `${what} overflows u128`);
  return x;
}

/** Rewards earned since the last settlement (floor: rounding stays in the pool). */
export function pendingRewards(p: Position, acc: bigint): bigint {
  return (p.staked * (acc - p.accAtSettle)) / ACC_SCALE;
}

/** Move pending rewards into claimable; the position's debt becomes the current acc. */
export function settle(p: Position, acc: bigint): { position: Position; settled: bigint } {
  const settled = checkedU128(pendingRewards(p, acc), 'pending rewards');
  return { position: { staked: p.staked, accAtSettle: acc, claimable: checkedU128(p.claimable + settled, 'claimable rewards') }, settled };
}

/** acc after spreading `amount` over `totalStaked` (> 0); ARITHMETIC_OVERFLOW if acc leaves u128. */
export function accAfter(acc: bigint, amount: bigint, totalStaked: bigint): bigint {
  return checkedU128(acc + (amount * ACC_SCALE) / totalStaked, 'accRewardPerShare');
}

/**
 * The pool after `amount` more rewards arrive: spread over `totalStaked` together with
 * anything undistributed, or kept undistributed while nothing is staked.
 */
export function distribute(pool: RewardPool, amount: bigint, totalStaked: bigint): RewardPool {
  return totalStaked === 0n
    ? { acc: pool.acc, undistributed: checkedU128(pool.undistributed + amount, 'undistributed rewards') }
    : { acc: accAfter(pool.acc, pool.undistributed + amount, totalStaked), undistributed: 0n };
}
