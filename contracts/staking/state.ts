/**
 * Staking state and reward arithmetic (docs/MODULES.md). <dao>, <token>, <staker>
 * are 40 lower-case hex digits; the staked token is the DAO's governance token.
 *
 *   staking/pool/<dao>                 u128 accRewardPerShare | u128 undistributed
 *   staking/staked/<token>/<dao>       u128 total staked = the token escrow (delta counter)
 *   staking/position/<dao>/<staker>    u128 staked | u128 accAtSettle | u128 claimable
 *                                      (deleted when staked and claimable are both 0)
 *
 * Rewards are native coin held by the pool account rewardPoolAddress(dao), a derived
 * address nobody has a key for (coin/balance/<pool>).
 *
 * Reward-per-share accumulator, scaled by ACC_SCALE = 10^18: funding `amount` while
 * `totalStaked` > 0 adds floor(amount * 10^18 / totalStaked) to acc. A position's debt is
 * kept as the accumulator value at its last settlement, so
 *     pending = floor(staked * (acc - accAtSettle) / 10^18)
 * which is the textbook `staked * acc / 1e18 - rewardDebt` with the debt held exactly.
 * (Storing the debt as floor(staked * acc / 1e18) can pay out more than was funded:
 * floor(x) - floor(y) may exceed x - y by almost 1 per position; the docs show a case.)
 * Every floor rounds towards the pool, so the pool always covers everything owed; the
 * rounding dust stays in the pool account.
 */
import { decodeU128, Reader, U128_MAX, Writer } from '../../protocol/codec.js';
import { addressHex } from '../../protocol/hex.js';
import { balanceKey } from '../coin/state.js';
import { deriveId } from '../ids.js';
import { ExecutionFailure, type StateView } from '../types.js';

export const ACC_SCALE = 10n ** 18n;

export interface RewardPool {
  /** Rewards per staked unit, times 10^18, since the pool began. */
  readonly acc: bigint;
  /** Funded while nothing was staked; released to the stakers by the next stake. */
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

export const poolKey = (dao: Uint8Array): string => `staking/pool/${addressHex(dao)}`;
export const stakedKey = (token: Uint8Array, dao: Uint8Array): string => `staking/staked/${addressHex(token)}/${addressHex(dao)}`;
export const positionKey = (dao: Uint8Array, staker: Uint8Array): string => `staking/position/${addressHex(dao)}/${addressHex(staker)}`;
/** Prefix of every staking escrow key of `token` (conservation checks sum over it). */
export const stakedPrefix = (token: Uint8Array): string => `staking/staked/${addressHex(token)}/`;

const poolAddressCache = new WeakMap<Uint8Array, Uint8Array>();

/** The account holding a DAO's staking rewards: SHA-256("pel:staking-pool" || dao || 0x00)[0..20]. */
export function rewardPoolAddress(dao: Uint8Array): Uint8Array {
  let a = poolAddressCache.get(dao);
  if (!a) poolAddressCache.set(dao, (a = deriveId('staking-pool', dao)));
  return a;
}

export function encodePool(p: RewardPool): Uint8Array {
  return new Writer(32).u128(p.acc).u128(p.undistributed).finish();
}

export function decodePool(b: Uint8Array): RewardPool {
  const r = new Reader(b, 'staking pool');
  const p = { acc: r.u128('acc'), undistributed: r.u128('undistributed') };
  r.end();
  return p;
}

export function encodePosition(p: Position): Uint8Array {
  return new Writer(48).u128(p.staked).u128(p.accAtSettle).u128(p.claimable).finish();
}

export function decodePosition(b: Uint8Array): Position {
  const r = new Reader(b, 'staking position');
  const p = { staked: r.u128('staked'), accAtSettle: r.u128('accAtSettle'), claimable: r.u128('claimable') };
  r.end();
  return p;
}

type Reads = Pick<StateView, 'get'>;

export function getPool(view: Reads, dao: Uint8Array): RewardPool {
  const b = view.get(poolKey(dao));
  return b ? decodePool(b) : EMPTY_POOL;
}

export function getPosition(view: Reads, dao: Uint8Array, staker: Uint8Array): Position {
  const b = view.get(positionKey(dao, staker));
  return b ? decodePosition(b) : EMPTY_POSITION;
}

export function getTotalStaked(view: Reads, token: Uint8Array, dao: Uint8Array): bigint {
  return decodeU128(view.get(stakedKey(token, dao)));
}

export function getRewardBalance(view: Reads, dao: Uint8Array): bigint {
  return decodeU128(view.get(balanceKey(rewardPoolAddress(dao))));
}

function u128(x: bigint, what: string): bigint {
  if (x > U128_MAX) throw new ExecutionFailure('ARITHMETIC_OVERFLOW', `${what} overflows u128`);
  return x;
}

/** Rewards earned since the last settlement (floor: rounding stays in the pool). */
export function pendingRewards(p: Position, acc: bigint): bigint {
  return (p.staked * (acc - p.accAtSettle)) / ACC_SCALE;
}

/** Move pending rewards into claimable; the position's debt becomes the current acc. */
export function settle(p: Position, acc: bigint): { position: Position; settled: bigint } {
  const settled = u128(pendingRewards(p, acc), 'pending rewards');
  return { position: { staked: p.staked, accAtSettle: acc, claimable: u128(p.claimable + settled, 'claimable rewards') }, settled };
}

export function writePosition(view: StateView, dao: Uint8Array, staker: Uint8Array, p: Position): void {
  view.set(positionKey(dao, staker), p.staked === 0n && p.claimable === 0n ? null : encodePosition(p));
}

/** acc after spreading `amount` over `totalStaked` (> 0); ARITHMETIC_OVERFLOW if acc leaves u128. */
export function accAfter(acc: bigint, amount: bigint, totalStaked: bigint): bigint {
  return u128(acc + (amount * ACC_SCALE) / totalStaked, 'accRewardPerShare');
}

/**
 * Account for `amount` of native coin that has already arrived in the DAO's reward pool
 * account: spread over the current stakers, or kept undistributed while nothing is staked.
 * Reads the total stake and read-modify-writes the pool record.
 */
export function distributeRewards(view: StateView, dao: Uint8Array, token: Uint8Array, amount: bigint): RewardPool {
  const pool = getPool(view, dao);
  const total = getTotalStaked(view, token, dao);
  const next: RewardPool =
    total === 0n
      ? { acc: pool.acc, undistributed: u128(pool.undistributed + amount, 'undistributed rewards') }
      : { acc: accAfter(pool.acc, pool.undistributed + amount, total), undistributed: 0n };
  view.set(poolKey(dao), encodePool(next));
  return next;
}
