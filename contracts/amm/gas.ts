/**
 * Base gas of each amm call, charged up front on top of the metered reads, writes, deltas
 * and events (merged into the default gas schedule, execution/gas.ts). It covers the
 * bigint arithmetic metering does not see (square roots, 256-bit products, the
 * accumulator) and, for create_pool and create_programme, the long-lived records.
 * swap_batch also prepays its share of the unmetered block-end settlement: about one read
 * and two writes of its own, an event and two balance deltas per queued swap.
 */
export const AMM_GAS: Record<string, bigint> = {
  'amm.create_pool': 20_000n,
  'amm.add_liquidity': 4_000n,
  'amm.remove_liquidity': 3_000n,
  'amm.swap': 3_000n,
  'amm.swap_path': 4_000n,
  'amm.swap_batch': 6_000n,
  'amm.set_params': 1_000n,
  'amm.create_programme': 10_000n,
  'amm.stake': 2_000n,
  'amm.unstake': 2_000n,
  'amm.claim': 1_000n,
};
