import { describe, expect, it } from 'vitest';
import { decodeU128, decodeU64, encodeU128 } from '../../../protocol/codec.js';
import { devKeyPair } from '../../../protocol/keys.js';
import { v } from '../../../protocol/value.js';
import { balanceKey, BURNED_KEY, nonceKey } from '../../../contracts/coin/state.js';
import { executeBlockSequential } from '../../../execution/sequential.js';
import { intrinsicGas } from '../../../execution/gas.js';
import type { BlockContext } from '../../../execution/types.js';
import { buildCall, buildTransfer } from '../../../sdk/tx.js';
import { benchContext, benchGenesisState } from '../../../bench/workload.js';

const [alice, bob, carol] = [devKeyPair(0), devKeyPair(1), devKeyPair(2)];
const ctx: BlockContext = benchContext(5n);
const FUND = 10n ** 12n;

function stateWith(extra: [string, bigint][] = []): Map<string, Uint8Array> {
  const m = benchGenesisState([alice, bob], FUND);
  for (const [k, n] of extra) m.set(k, encodeU128(n));
  return m;
}

function reader(m: Map<string, Uint8Array>) {
  return { get: (k: string) => m.get(k) };
}

function apply(m: Map<string, Uint8Array>, ws: readonly (readonly [string, Uint8Array | null])[]): Map<string, Uint8Array> {
  const out = new Map(m);
  for (const [k, val] of ws) if (val === null) out.delete(k);
  else out.set(k, val);
  return out;
}

const bal = (m: Map<string, Uint8Array>, a: Uint8Array): bigint => decodeU128(m.get(balanceKey(a)));
const supplyOf = (m: Map<string, Uint8Array>): bigint => {
  let s = decodeU128(m.get(BURNED_KEY));
  for (const [k, val] of m) if (k.startsWith('coin/balance/')) s += decodeU128(val);
  return s;
};

describe('sequential executor: native transfers and fees', () => {
  it('moves the amount, charges gasUsed x gasPrice, refunds the rest, bumps the nonce and splits the fee exactly', () => {
    const s0 = stateWith();
    const tx = buildTransfer({ chainId: 1337, key: alice, nonce: 0n, to: carol.address, amount: 777n, expiry: 10n, gasPrice: 3n });
    const out = executeBlockSequential(ctx, [tx], reader(s0));
    const o = out.outcomes[0]!;
    expect(o.kind).toBe('included');
    if (o.kind !== 'included') return;
    expect(o.receipt.status).toBe('success');
    expect(o.receipt.fee).toBe(o.receipt.gasUsed * 3n);
    expect(o.receipt.gasUsed).toBeGreaterThan(intrinsicGas(ctx.params.gas, tx.raw.length));
    expect(o.receipt.events).toHaveLength(1);
    const s1 = apply(s0, out.writeSet);
    expect(bal(s1, carol.address)).toBe(777n);
    expect(bal(s1, alice.address)).toBe(FUND - 777n - o.receipt.fee);
    expect(decodeU64(s1.get(nonceKey(alice.address)))).toBe(1n);
    const fee = o.receipt.fee;
    const proposerPart = (fee * 5000n) / 10000n;
    const treasuryPart = (fee * 3000n) / 10000n;
    expect(bal(s1, ctx.proposer)).toBe(proposerPart);
    expect(bal(s1, ctx.params.fee.treasury)).toBe(treasuryPart);
    expect(decodeU128(s1.get(BURNED_KEY))).toBe(fee - proposerPart - treasuryPart);
    expect(supplyOf(s1)).toBe(supplyOf(s0));
    expect(out.gasUsed).toBe(o.receipt.gasUsed);
  });

  it('a call that fails inside execution is included as failed, pays its fee, bumps the nonce and has no other effect', () => {
    const s0 = stateWith();
    const tx = buildTransfer({ chainId: 1337, key: alice, nonce: 0n, to: carol.address, amount: FUND, expiry: 10n });
    const out = executeBlockSequential(ctx, [tx], reader(s0));
    const o = out.outcomes[0]!;
    if (o.kind !== 'included') throw new Error('expected included');
    expect(o.receipt.status).toBe('failed');
    expect(o.receipt.errorCode).toBe('INSUFFICIENT_BALANCE');
    expect(o.receipt.events).toEqual([]);
    const s1 = apply(s0, out.writeSet);
    expect(bal(s1, carol.address)).toBe(0n);
    expect(bal(s1, alice.address)).toBe(FUND - o.receipt.fee);
    expect(decodeU64(s1.get(nonceKey(alice.address)))).toBe(1n);
    expect(supplyOf(s1)).toBe(supplyOf(s0));
  });

  it('out of gas uses the whole gas limit and fails with OUT_OF_GAS', () => {
    const s0 = stateWith();
    const probe = buildTransfer({ chainId: 1337, key: alice, nonce: 0n, to: carol.address, amount: 1n, expiry: 10n });
    const limit = intrinsicGas(ctx.params.gas, probe.raw.length) + 50n;
    const tx = buildTransfer({ chainId: 1337, key: alice, nonce: 0n, to: carol.address, amount: 1n, expiry: 10n, gasLimit: limit });
    const o = executeBlockSequential(ctx, [tx], reader(s0)).outcomes[0]!;
    if (o.kind !== 'included') throw new Error('expected included');
    expect(o.receipt).toMatchObject({ status: 'failed', errorCode: 'OUT_OF_GAS', gasUsed: limit, fee: limit });
  });

  it('unknown calls and wrong argument types fail with their own codes', () => {
    const s0 = stateWith();
    const unknown = buildCall({ chainId: 1337, key: alice, nonce: 0n, module: 'coin', call: 'steal', args: [], expiry: 10n });
    const badArgs = buildCall({ chainId: 1337, key: alice, nonce: 1n, module: 'coin', call: 'transfer', args: [v.u64(1n), v.u128(1n)], expiry: 10n });
    const out = executeBlockSequential(ctx, [unknown, badArgs], reader(s0));
    expect(out.outcomes.map((o) => (o.kind === 'included' ? o.receipt.errorCode : o.code))).toEqual(['UNKNOWN_CALL', 'INVALID_ARGUMENTS']);
  });

  it('discards invalid txs without any write: wrong chain, expired, nonce, fee balance, gas bounds', () => {
    const s0 = stateWith();
    const poor = devKeyPair(99);
    const base = { key: alice, to: carol.address, amount: 1n };
    const txs = [
      buildTransfer({ ...base, chainId: 1, nonce: 0n, expiry: 10n }),
      buildTransfer({ ...base, chainId: 1337, nonce: 0n, expiry: 4n }),
      buildTransfer({ ...base, chainId: 1337, nonce: 5n, expiry: 10n }),
      buildTransfer({ ...base, key: poor, chainId: 1337, nonce: 0n, expiry: 10n }),
      buildTransfer({ ...base, chainId: 1337, nonce: 0n, expiry: 10n, gasLimit: 10n }),
      buildTransfer({ ...base, chainId: 1337, nonce: 0n, expiry: 10n, gasLimit: ctx.params.gas.maxTxGas + 1n }),
      buildTransfer({ ...base, chainId: 1337, nonce: 0n, expiry: 10n, gasPrice: 0n }),
    ];
    const out = executeBlockSequential(ctx, txs, reader(s0));
    expect(out.outcomes.map((o) => (o.kind === 'discarded' ? o.code : 'included'))).toEqual([
      'WRONG_CHAIN_ID', 'TX_EXPIRED', 'NONCE_TOO_HIGH', 'INSUFFICIENT_BALANCE_FOR_FEE', 'GAS_LIMIT_TOO_LOW', 'GAS_LIMIT_TOO_HIGH', 'GAS_PRICE_TOO_LOW',
    ]);
    expect(out.writeSet).toEqual([]);
    expect(out.gasUsed).toBe(0n);
  });

  it('later txs in a block see earlier ones: a replayed nonce in the same block is discarded', () => {
    const s0 = stateWith();
    const t0 = buildTransfer({ chainId: 1337, key: alice, nonce: 0n, to: bob.address, amount: 5n, expiry: 10n });
    const t1 = buildTransfer({ chainId: 1337, key: alice, nonce: 1n, to: bob.address, amount: 6n, expiry: 10n });
    const out = executeBlockSequential(ctx, [t0, t0, t1], reader(s0));
    expect(out.outcomes.map((o) => o.kind)).toEqual(['included', 'discarded', 'included']);
    const s1 = apply(s0, out.writeSet);
    expect(bal(s1, bob.address)).toBe(FUND + 11n);
  });

  it('self-transfer only costs the fee; write sets are sorted and the result is deterministic', () => {
    const s0 = stateWith();
    const tx = buildTransfer({ chainId: 1337, key: alice, nonce: 0n, to: alice.address, amount: 100n, expiry: 10n });
    const a = executeBlockSequential(ctx, [tx], reader(s0));
    const b = executeBlockSequential(ctx, [tx], reader(s0));
    expect(a.writeSet).toEqual(b.writeSet);
    const keys = a.writeSet.map(([k]) => k);
    expect(keys).toEqual([...keys].sort());
    const o = a.outcomes[0]!;
    if (o.kind !== 'included') throw new Error('expected included');
    expect(bal(apply(s0, a.writeSet), alice.address)).toBe(FUND - o.receipt.fee);
  });

  it('a credit that would overflow u128 fails the call with ARITHMETIC_OVERFLOW', () => {
    const max = (1n << 128n) - 1n;
    const s0 = stateWith([[balanceKey(carol.address), max]]);
    const tx = buildTransfer({ chainId: 1337, key: alice, nonce: 0n, to: carol.address, amount: 1n, expiry: 10n });
    const o = executeBlockSequential(ctx, [tx], reader(s0)).outcomes[0]!;
    if (o.kind !== 'included') throw new Error('expected included');
    expect(o.receipt.errorCode).toBe('ARITHMETIC_OVERFLOW');
  });
});
