/**
 * Marketplace arithmetic: how the price of a sale is split. Integer only, rounded down,
 * the seller takes the remainder, so the three parts always add up to the price exactly.
 */

/** Protocol fee on every marketplace sale, in basis points (250 = 2.5%), paid to the fee treasury. */
export const marketFeeBps = 250;

export interface SaleSplit {
  /** floor(price * royaltyBps / 10000), to the collection's royalty recipient. */
  readonly royalty: bigint;
  /** floor(price * marketFeeBps / 10000), to the protocol treasury. */
  readonly protocolFee: bigint;
  /** price - royalty - protocolFee, to the seller. */
  readonly seller: bigint;
}

/** `royaltyBps` is at most 5000, so royalty + protocol fee never exceed the price. */
export function splitSale(price: bigint, royaltyBps: number): SaleSplit {
  const royalty = (price * BigInt(royaltyBps)) / 10_000n;
  const protocolFee = (price * BigInt(marketFeeBps)) / 10_000n;
  return { royalty, protocolFee, seller: price - royalty - protocolFee };
}
