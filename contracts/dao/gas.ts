/**
 * Base gas of each dao call, charged up front on top of the metered reads, writes, deltas
 * and events (merged into the gas schedule by the lead; execution/gas.ts). Creating a DAO
 * or a proposal leaves long-lived records, so those cost more; a kind-3 execute also pays
 * for the inner call's operations through the same meter, but not for the inner call's own
 * base gas.
 */
export const DAO_GAS: Record<string, bigint> = {
  'dao.create': 10_000n,
  'dao.deposit': 0n,
  'dao.deposit_token': 0n,
  'dao.propose': 5_000n,
  'dao.vote': 1_000n,
  'dao.unlock': 1_000n,
  'dao.execute': 5_000n,
  'dao.cancel': 1_000n,
};
