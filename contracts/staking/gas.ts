/**
 * Base gas of each staking call, charged up front on top of the metered reads, writes,
 * deltas and events (merged into the gas schedule by the lead; execution/gas.ts). Covers
 * the 256-bit accumulator arithmetic that per-operation metering does not see.
 */
export const STAKING_GAS: Record<string, bigint> = {
  'staking.stake': 2_000n,
  'staking.unstake': 2_000n,
  'staking.claim': 1_000n,
  'staking.fund_rewards': 2_000n,
};
