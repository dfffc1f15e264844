/**
 * Exchange arithmetic: integer only (bigint), every division a floor that leaves the
 * remainder with the pool. Pure functions of their arguments, no state; docs/MODULES.md
 * ("amm", "The math") derives each formula.
 *
 * Notation: fee f in basis points, B = 10000, g = B - f. A swap of `a` into a pool with
 * reserves (rIn, rOut) pays the Uniswap v2 amount
 *     out = floor(a * g * rOut / (rIn * B + a * g))
 * so (rIn + a * g / B) * (rOut - out) >= rIn * rOut: the product of the reserves never
 * decreases, even with the whole input credited at the fee-discounted value.
 */

/** Basis points in one. */
export const BPS = 10_000n;
/** The fee tiers a pool may have, in basis points (0.05%, 0.3%, 1%). */
export const FEE_TIERS: readonly bigint[] = [5n, 30n, 100n];
/** LP shares minted to the dead address by a pool's first deposit, locked forever (Uniswap v2). */
export const MINIMUM_LIQUIDITY = 1_000n;
/** Fixed point of the price oracle: prices are scaled by 2^64 (UQ128.64). */
export const PRICE_SCALE = 1n << 64n;
/** Cumulative prices wrap modulo 2^256, as Uniswap v2's wrap modulo 2^224: take differences modulo 2^256. */
export const CUMULATIVE_MOD = 1n << 256n;
/** Most a protocol fee share may be: half of the swap fee. */
export const MAX_PROTOCOL_FEE_BPS = 5_000n;

/** floor(sqrt(n)) for n >= 0 (Newton's method from above). */
export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt((n.toString(2).length + 1) >> 1); // >= sqrt(n)
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** Exact-in: what `amountIn` buys from reserves (rIn, rOut); 0 when either reserve is empty. */
export function amountOut(amountIn: bigint, rIn: bigint, rOut: bigint, feeBps: bigint): bigint {
  if (rIn === 0n || rOut === 0n) return 0n;
  const inWithFee = amountIn * (BPS - feeBps);
  return (inWithFee * rOut) / (rIn * BPS + inWithFee);
}

/**
 * Exact-out: the least input that buys at least `out` (Uniswap v2's getAmountIn: floor + 1,
 * so amountOut(amountIn(out)) >= out); null when the pool cannot pay `out` (out >= rOut) or is empty.
 */
export function amountIn(out: bigint, rIn: bigint, rOut: bigint, feeBps: bigint): bigint | null {
  if (rIn === 0n || out >= rOut) return null;
  return (rIn * out * BPS) / ((rOut - out) * (BPS - feeBps)) + 1n;
}

/** The protocol's share of the fee on `amountIn`: floor(amountIn * f * share / B^2) (never more than the fee). */
export function protocolCut(amountIn: bigint, feeBps: bigint, protocolFeeBps: bigint): bigint {
  return (amountIn * feeBps * protocolFeeBps) / (BPS * BPS);
}

/** Oracle price of the asset whose reserve is `base`, in units of the other: floor(quote * 2^64 / base). */
export function priceQ64(quote: bigint, base: bigint): bigint {
  return (quote * PRICE_SCALE) / base;
}

/** cum + price * blocks, modulo 2^256. */
export function accumulate(cum: bigint, price: bigint, blocks: bigint): bigint {
  return (cum + price * blocks) % CUMULATIVE_MOD;
}

// ---- liquidity --------------------------------------------------------------------------

export type Deposit = { readonly ok: true; readonly amount0: bigint; readonly amount1: bigint } | { readonly ok: false; readonly which: 0 | 1 };

/**
 * Uniswap v2 router's optimal deposit at the current ratio: all of the desired amount of
 * one asset and floor(its value in the other) of the other, whichever fits; `ok: false`
 * names the asset whose minimum the fitting amount misses. An empty pool (r0 = r1 = 0) takes
 * both as given.
 */
export function optimalDeposit(desired0: bigint, desired1: bigint, min0: bigint, min1: bigint, r0: bigint, r1: bigint): Deposit {
  if (r0 === 0n && r1 === 0n) {
    if (desired0 < min0) return { ok: false, which: 0 };
    return desired1 < min1 ? { ok: false, which: 1 } : { ok: true, amount0: desired0, amount1: desired1 };
  }
  const optimal1 = (desired0 * r1) / r0;
  if (optimal1 <= desired1) return optimal1 < min1 ? { ok: false, which: 1 } : { ok: true, amount0: desired0, amount1: optimal1 };
  const optimal0 = (desired1 * r0) / r1; // < desired0, since optimal1 > desired1
  return optimal0 < min0 ? { ok: false, which: 0 } : { ok: true, amount0: optimal0, amount1: desired1 };
}

/** Shares for a deposit: the first one sqrt(a0 * a1) (the caller locks MINIMUM_LIQUIDITY of it), later min(a0 * T / r0, a1 * T / r1). */
export function sharesFor(amount0: bigint, amount1: bigint, r0: bigint, r1: bigint, totalShares: bigint): bigint {
  if (totalShares === 0n) return isqrt(amount0 * amount1);
  const s0 = (amount0 * totalShares) / r0;
  const s1 = (amount1 * totalShares) / r1;
  return s0 < s1 ? s0 : s1;
}

/** What `shares` of `totalShares` redeem of a reserve: floor(shares * reserve / T). */
export function redeemed(shares: bigint, reserve: bigint, totalShares: bigint): bigint {
  return (shares * reserve) / totalShares;
}

// ---- batch clearing ---------------------------------------------------------------------

/**
 * The single clearing price of a batch, as a fraction num/den of asset1 per asset0: a swap of
 * `a` asset0 receives floor(a * num / den) asset1, a swap of `a` asset1 receives
 * floor(a * den / num) asset0.
 *   - `heavy0`: the asset0 sellers outweigh the asset1 sellers even after the fee
 *     (g * A0 * r1 > B * A1 * r0). The pool sells asset1 for the net asset0, and the price is
 *     where that net swap ends up: P = g * (r1 + A1) / (B * r0 + g * A0).
 *   - `heavy1`: the mirror image, P = (B * r1 + g * A1) / (g * (r0 + A0)).
 *   - `cross`: within the fee band the two sides fill each other completely at P = A1 / A0
 *     and the pool does not trade.
 * Derivation (docs/MODULES.md): at price P the pool takes x = A0 - A1 / P and pays P * x;
 * a constant-product swap of x pays g*x*r1 / (B*r0 + g*x), so P * (B*r0 + g*x) = g * r1.
 * Solving the two for P gives the formula above; x > 0 exactly when g * A0 * r1 > B * A1 * r0.
 * With all outputs floored the pool takes at least x and pays at most P * x, so its reserve
 * product never decreases.
 */
export interface ClearingPrice {
  readonly kind: 'heavy0' | 'heavy1' | 'cross';
  readonly num: bigint;
  readonly den: bigint;
}

/** null when there is nothing to clear (A0 = A1 = 0) or the pool is empty. */
export function clearingPrice(total0: bigint, total1: bigint, r0: bigint, r1: bigint, feeBps: bigint): ClearingPrice | null {
  if ((total0 === 0n && total1 === 0n) || r0 === 0n || r1 === 0n) return null;
  const g = BPS - feeBps;
  if (g * total0 * r1 > BPS * total1 * r0) return { kind: 'heavy0', num: g * (r1 + total1), den: BPS * r0 + g * total0 };
  if (g * total1 * r0 > BPS * total0 * r1) return { kind: 'heavy1', num: BPS * r1 + g * total1, den: g * (r0 + total0) };
  return { kind: 'cross', num: total1, den: total0 };
}

/** What a batch swap of `amountIn` in direction `dir` (0: asset0 in) receives at price `p`. */
export function clearingOut(p: ClearingPrice, dir: 0 | 1, amountIn: bigint): bigint {
  return dir === 0 ? (amountIn * p.num) / p.den : (amountIn * p.den) / p.num;
}
