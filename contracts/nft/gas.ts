/**
 * Base gas per nft call (charged on top of the metered reads, writes, deltas and events).
 * The lead merges these into the gas schedule (execution/gas.ts, genesis).
 */
export const NFT_GAS: Record<string, bigint> = {
  'nft.create_collection': 10_000n,
  'nft.mint': 5_000n,
  'nft.transfer': 3_000n,
  'nft.burn': 3_000n,
  'nft.list': 3_000n,
  'nft.cancel': 2_000n,
  'nft.buy': 8_000n,
};
