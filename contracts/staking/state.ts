/**
 * Staking state (docs/MODULES.md). <dao>, <token>, <staker> are 40 lower-case hex digits;
 * the staked token is the DAO's governance token.
 *
 *   staking/pool/<dao>                 u128 accRewardPerShare | u128 undistributed
 *   staking/staked/<token>/<dao>       u128 total staked = the token escrow (delta counter)
 *   staking/position/<dao>/<staker>    u128 staked | u128 accAtSettle | u128 claimable
 *                                      (deleted when staked and claimable are both 0)
 *
 * Rewards are native coin held by the pool account rewardPoolAddress(dao), a derived
 * address nobody has a key for (coin/balance/<pool>).
 *
 * The reward arithmetic (reward-per-share accumulator scaled by 10^18, exact reward debt,
 * floors towards the pool) is contracts/rewards.ts, shared with the amm's liquidity mining;
 * its names are re-exported here.
 */
import { decodeU128, Reader, Writer } from '../../protocol/codec.js';
import { addressHex } from '../../protocol/hex.js';
import { balanceKey } from '../coin/state.js';
import { deriveId } from '../ids.js';
import { distribute, EMPTY_POOL, EMPTY_POSITION, decodePosition, encodePosition, type Position, type RewardPool } from '../rewards.js';
import type { StateView } from '../types.js';

export {
  ACC_SCALE, accAfter, decodePosition, EMPTY_POOL, EMPTY_POSITION, encodePosition, pendingRewards, settle, type Position, type RewardPool,
} from '../rewards.js';

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

export function writePosition(view: StateView, dao: Uint8Array, staker: Uint8Array, p: Position): void {
  view.set(positionKey(dao, staker), p.staked === 0n && p.claimable === 0n ? null : encodePosition(p));
}

/**
 * Account for `amount` of native coin that has already arrived in the DAO's reward pool
 * account: spread over the current stakers, or kept undistributed while nothing is staked.
 * Reads the total stake and read-modify-writes the pool record.
 */
export function distributeRewards(view: StateView, dao: Uint8Array, token: Uint8Array, amount: bigint): RewardPool {
  const pool = getPool(view, dao);
  const next = distribute(pool, amount, getTotalStaked(view, token, dao));
  view.set(poolKey(dao), encodePool(next));
  return next;
}
