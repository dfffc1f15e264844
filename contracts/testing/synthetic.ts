/**
 * `synthetic`: benchmark-only module (never registered on a real chain). `work(to, amount,
 * iters)` burns `iters` rounds of deterministic integer work, then moves `amount` from the
 * sender to `to` with read-modify-writes (not deltas), so the accounts chosen by the
 * workload decide how much transactions conflict.
 */
import { decodeU128, encodeU128 } from '../../protocol/codec.js';
import { balanceKey, debit } from '../coin/state.js';
import { defineCall } from '../args.js';
import { ExecutionFailure, type Module } from '../types.js';

export function spin(iters: number, seed: number): number {
  let x = seed | 1;
  for (let i = 0; i < iters; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x;
}

export const syntheticModule: Module = {
  name: 'synthetic',
  calls: {
    work: defineCall({
      args: [
        ['to', 'address'],
        ['amount', 'u128'],
        ['iters', 'u64'],
      ],
      summary: 'Benchmark: deterministic CPU work, then a read-modify-write transfer.',
      run(view, ctx, { to, amount, iters: rounds }) {
        const iters = Number(rounds);
        if (iters > 50_000_000) throw new ExecutionFailure('INVALID_ARGUMENTS', 'iters too large');
        const x = spin(iters, ctx.sender[0]! | (to[0]! << 8));
        if (x === 0x7fffffff) view.set('synthetic/never', new Uint8Array([1]));
        debit(view, ctx.sender, amount);
        const key = balanceKey(to);
        view.set(key, encodeU128(decodeU128(view.get(key)) + amount));
      },
    }),
  },
};
