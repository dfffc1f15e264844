import { BURNED_KEY, credit } from '../coin/state.js';
import type { StateView } from '../types.js';
import type { FeeParams } from './params.js';

/**
 * Split a paid fee: proposer and treasury shares are rounded down, the burn takes the
 * remainder, so the three parts always add up to the fee exactly. All three are deltas:
 * no transaction reads the fee sinks, so fees never make two transactions conflict.
 */
export function distributeFee(view: StateView, fee: bigint, proposer: Uint8Array, p: FeeParams): void {
  if (fee === 0n) return;
  const toProposer = (fee * BigInt(p.proposerBps)) / 10_000n;
  const toTreasury = (fee * BigInt(p.treasuryBps)) / 10_000n;
  const burned = fee - toProposer - toTreasury;
  credit(view, proposer, toProposer);
  credit(view, p.treasury, toTreasury);
  if (burned > 0n) view.addDelta(BURNED_KEY, burned, 'ARITHMETIC_OVERFLOW');
}
