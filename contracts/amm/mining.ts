/**
 * Liquidity mining: a programme pays `amount` of a reward asset to the LP tokens staked in
 * it, evenly over the heights [start, end), pro rata to stake, with staking's exact
 * reward-per-share accumulator (contracts/rewards.ts).
 *
 * Emission is a function of the height, emitted(h) = floor(amount * (clamp(h) - start) /
 * (end - start)), so the rewards between two touches are emitted(now) - emitted(last) and
 * no rounding accumulates: by `end` exactly `amount` has been emitted. The first stake,
 * unstake or claim of a programme in a block spreads what was emitted since the last one
 * over the stake of that moment (which is the stake at the start of this block); later ones
 * in the same block find nothing new and only read the accumulator. Emission while nothing
 * is staked waits as `undistributed` and goes to the next staker (as in staking).
 */
import { distribute } from '../rewards.js';
import type { StateView } from '../types.js';
import { accrualKey, encodeAccrual, getAccrual, getTotalStaked, type Accrual, type Programme } from './state.js';

type Reads = Pick<StateView, 'get'>;

/** Rewards emitted by the programme before height `h`. */
export function emittedBefore(p: Programme, h: bigint): bigint {
  const at = h < p.start ? p.start : h > p.end ? p.end : h;
  return (p.amount * (at - p.start)) / (p.end - p.start);
}

/**
 * The accumulator as of `height` and whether it changed. Reads the total stake only when
 * something was emitted since the last accrual.
 */
export function accrued(view: Reads, id: Uint8Array, p: Programme, height: bigint): { accrual: Accrual; changed: boolean } {
  const a = getAccrual(view, id, p);
  if (height <= a.lastHeight) return { accrual: a, changed: false };
  const emitted = emittedBefore(p, height) - emittedBefore(p, a.lastHeight);
  // Nothing new: leave lastHeight behind (no write). The next emission is then spread over
  // the stake of that later moment, which is right: nothing was emitted in between.
  if (emitted === 0n) return { accrual: a, changed: false };
  const next = distribute(a, emitted, getTotalStaked(view, id));
  return { accrual: { acc: next.acc, undistributed: next.undistributed, lastHeight: height }, changed: true };
}

/** Accrue and write the accumulator if it changed (the first touch of the programme in a block). */
export function accrue(view: StateView, id: Uint8Array, p: Programme, height: bigint): Accrual {
  const { accrual, changed } = accrued(view, id, p, height);
  if (changed) view.set(accrualKey(id), encodeAccrual(accrual));
  return accrual;
}
