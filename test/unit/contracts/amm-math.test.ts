/**
 * contracts/amm/math.ts against its claims, with fast-check (replayable: fixed seeds, or
 * PEL_FC_SEED): square roots exact, every swap keeps the product of the reserves (fee and
 * protocol share included), the exact-out quote buys what it promises, deposits never mint
 * more than their share, and a batch cleared at clearingPrice with any split of the inputs
 * pays out no more than it takes in and never lowers the product of the reserves.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  amountIn, amountOut, BPS, clearingOut, clearingPrice, FEE_TIERS, isqrt, MAX_PROTOCOL_FEE_BPS, optimalDeposit, protocolCut, sharesFor,
} from '../../../contracts/amm/math.js';

const SEED = process.env.PEL_FC_SEED ? Number(process.env.PEL_FC_SEED) : 0xa11_0001;
const RUNS = Number(process.env.PEL_FC_RUNS ?? 400);
const opts = { numRuns: RUNS, seed: SEED };

const U128 = (1n << 128n) - 1n;
const reserve = fc.oneof(fc.bigInt({ min: 1n, max: 10_000n }), fc.bigInt({ min: 1n, max: 10n ** 18n }), fc.bigInt({ min: 1n, max: U128 }));
const amount = fc.oneof(fc.bigInt({ min: 1n, max: 1_000n }), fc.bigInt({ min: 1n, max: 10n ** 18n }), fc.bigInt({ min: 1n, max: U128 }));
const tier = fc.constantFrom(...FEE_TIERS);
const share = fc.oneof(fc.constant(0n), fc.constant(1_667n), fc.bigInt({ min: 0n, max: MAX_PROTOCOL_FEE_BPS }));

describe('amm math', () => {
  it('isqrt is the floor of the square root', () => {
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: 0n, max: 1_000n }), fc.bigInt({ min: 0n, max: 1n << 256n })), (n) => {
        const r = isqrt(n);
        expect(r * r <= n && n < (r + 1n) * (r + 1n)).toBe(true);
      }),
      opts,
    );
  });

  it('an exact-in swap never lowers the product of the reserves, with the protocol share taken out of the input', () => {
    fc.assert(
      fc.property(reserve, reserve, amount, tier, share, (rIn, rOut, a, f, p) => {
        const out = amountOut(a, rIn, rOut, f);
        expect(out).toBeLessThan(rOut);
        const cut = protocolCut(a, f, p);
        expect(cut * BPS).toBeLessThanOrEqual(a * f); // never more than the fee itself
        // Stronger than x*y: the product holds even with the input credited net of the whole fee.
        expect((rIn * BPS + a * (BPS - f)) * (rOut - out)).toBeGreaterThanOrEqual(rIn * rOut * BPS);
        expect((rIn + a - cut) * (rOut - out)).toBeGreaterThanOrEqual(rIn * rOut);
      }),
      opts,
    );
  });

  it('the exact-out quote buys at least what it asks for', () => {
    fc.assert(
      fc.property(reserve, reserve, amount, tier, (rIn, rOut, want, f) => {
        const need = amountIn(want, rIn, rOut, f);
        if (want >= rOut) {
          expect(need).toBeNull();
          return;
        }
        expect(amountOut(need!, rIn, rOut, f)).toBeGreaterThanOrEqual(want);
      }),
      opts,
    );
  });

  it('a deposit at the ratio never mints more than its share of either reserve', () => {
    fc.assert(
      fc.property(reserve, reserve, reserve, amount, amount, (r0, r1, total, d0, d1) => {
        const d = optimalDeposit(d0, d1, 0n, 0n, r0, r1);
        if (!d.ok) throw new Error('no minimum, no failure');
        expect(d.amount0 <= d0 && d.amount1 <= d1).toBe(true);
        const s = sharesFor(d.amount0, d.amount1, r0, r1, total);
        // s / total <= amount / reserve for both assets.
        expect(s * r0).toBeLessThanOrEqual(d.amount0 * total);
        expect(s * r1).toBeLessThanOrEqual(d.amount1 * total);
      }),
      opts,
    );
  });

  it('a batch at the clearing price: no swap side is paid more than the pool can, the product never decreases', () => {
    const side = fc.array(amount.map((x) => x % (10n ** 24n) + 1n), { maxLength: 6 });
    fc.assert(
      fc.property(reserve, reserve, side, side, tier, share, (r0, r1, in0, in1, f, p) => {
        const t0 = in0.reduce((x, y) => x + y, 0n);
        const t1 = in1.reduce((x, y) => x + y, 0n);
        const price = clearingPrice(t0, t1, r0, r1, f);
        if (t0 + t1 === 0n) {
          expect(price).toBeNull();
          return;
        }
        const paid1 = in0.reduce((s, a) => s + clearingOut(price!, 0, a), 0n);
        const paid0 = in1.reduce((s, a) => s + clearingOut(price!, 1, a), 0n);
        const net0 = t0 - paid0;
        const net1 = t1 - paid1;
        const cut0 = price!.kind === 'heavy0' ? protocolCut(net0, f, p) : 0n;
        const cut1 = price!.kind === 'heavy1' ? protocolCut(net1, f, p) : 0n;
        const n0 = r0 + net0 - cut0;
        const n1 = r1 + net1 - cut1;
        expect(n0 > 0n && n1 > 0n).toBe(true);
        expect(n0 * n1).toBeGreaterThanOrEqual(r0 * r1);
        // The side that outweighs pays the pool in its asset; the cross case only leaves dust.
        if (price!.kind === 'heavy0') expect(net0).toBeGreaterThan(0n);
        if (price!.kind === 'heavy1') expect(net1).toBeGreaterThan(0n);
        if (price!.kind === 'cross') expect(net0 >= 0n && net1 >= 0n).toBe(true);
        // One price for both sides: a swap of asset0 and one of asset1 trade at inverse rates (up to the floors).
        expect(clearingOut(price!, 0, 10n ** 30n) * clearingOut(price!, 1, 10n ** 30n)).toBeLessThanOrEqual(10n ** 60n);
      }),
      opts,
    );
  });

  it('a batch of one direction pays exactly the instant swap of its total, split pro rata', () => {
    fc.assert(
      fc.property(reserve, reserve, amount, tier, (r0, r1, a, f) => {
        const p = clearingPrice(a, 0n, r0, r1, f)!;
        expect(p.kind).toBe('heavy0');
        expect(clearingOut(p, 0, a)).toBe(amountOut(a, r0, r1, f));
      }),
      opts,
    );
  });
});
