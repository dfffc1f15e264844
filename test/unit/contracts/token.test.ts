import { describe, expect, it } from 'vitest';
import { U128_MAX } from '../../../protocol/codec.js';
import { v } from '../../../protocol/value.js';
import { tokenAllowanceKey, tokenBalanceKey, tokenSupplyKey } from '../../../contracts/token/state.js';
import { FEE_PARAMS_KEY, decodeFeeParams } from '../../../contracts/fee/params.js';
import { Chain, expectFailedFeeOnly, keys } from './harness.js';

const [alice, bob, carol] = [keys[0]!, keys[1]!, keys[2]!];

function create(c: Chain, max: bigint): Uint8Array {
  const { receipt } = c.call(alice, 'token', 'create', [v.string('Demo'), v.string('DMO'), v.u64(6n), v.u128(max)]);
  expect(receipt.status).toBe('success');
  return receipt.events[0]!.fields.find((f) => f.name === 'token')!.value.value as Uint8Array;
}

describe('token module', () => {
  it('create, mint, transfer, approve/transfer_from, burn: supply = sum of balances', () => {
    const c = new Chain();
    const t = create(c, 1_000n);
    expect(c.call(alice, 'token', 'mint', [v.address(t), v.address(alice.address), v.u128(600n)]).receipt.status).toBe('success');
    c.call(alice, 'token', 'transfer', [v.address(t), v.address(bob.address), v.u128(100n)]);
    c.call(alice, 'token', 'approve', [v.address(t), v.address(carol.address), v.u128(50n)]);
    c.call(carol, 'token', 'transfer_from', [v.address(t), v.address(alice.address), v.address(carol.address), v.u128(30n)]);
    c.call(bob, 'token', 'burn', [v.address(t), v.u128(40n)]);
    const bal = (k: typeof alice) => c.u128(tokenBalanceKey(t, k.address));
    expect([bal(alice), bal(bob), bal(carol)]).toEqual([470n, 60n, 30n]);
    expect(c.u128(tokenAllowanceKey(t, alice.address, carol.address))).toBe(20n);
    expect(c.u128(tokenSupplyKey(t))).toBe(bal(alice) + bal(bob) + bal(carol));
  });

  it('each rule fails with its own code and changes nothing but fee and nonce', () => {
    const c = new Chain();
    const t = create(c, 1_000n);
    c.call(alice, 'token', 'mint', [v.address(t), v.address(alice.address), v.u128(900n)]);
    expectFailedFeeOnly(c.call(bob, 'token', 'mint', [v.address(t), v.address(bob.address), v.u128(1n)]), bob, 'MINT_NOT_AUTHORIZED');
    expectFailedFeeOnly(c.call(alice, 'token', 'mint', [v.address(t), v.address(bob.address), v.u128(101n)]), alice, 'MAX_SUPPLY_EXCEEDED');
    expectFailedFeeOnly(c.call(bob, 'token', 'transfer', [v.address(t), v.address(alice.address), v.u128(1n)]), bob, 'INSUFFICIENT_TOKEN_BALANCE');
    expectFailedFeeOnly(c.call(carol, 'token', 'transfer_from', [v.address(t), v.address(alice.address), v.address(carol.address), v.u128(1n)]), carol, 'INSUFFICIENT_ALLOWANCE');
    c.call(alice, 'token', 'approve', [v.address(t), v.address(carol.address), v.u128(5_000n)]);
    expectFailedFeeOnly(c.call(carol, 'token', 'transfer_from', [v.address(t), v.address(alice.address), v.address(carol.address), v.u128(901n)]), carol, 'INSUFFICIENT_TOKEN_BALANCE');
    expectFailedFeeOnly(c.call(alice, 'token', 'transfer', [v.address(bob.address), v.address(alice.address), v.u128(1n)]), alice, 'TOKEN_NOT_FOUND');
    expectFailedFeeOnly(c.call(alice, 'token', 'create', [v.string(''), v.string('X'), v.u64(1n), v.u128(0n)]), alice, 'INVALID_ARGUMENTS');
    // Exactly up to the max supply is fine.
    expect(c.call(alice, 'token', 'mint', [v.address(t), v.address(bob.address), v.u128(100n)]).receipt.status).toBe('success');
  });

  it('hands over and renounces the mint authority', () => {
    const c = new Chain();
    const t = create(c, 0n);
    c.call(alice, 'token', 'set_mint_authority', [v.address(t), v.address(bob.address)]);
    expectFailedFeeOnly(c.call(alice, 'token', 'mint', [v.address(t), v.address(alice.address), v.u128(1n)]), alice, 'MINT_NOT_AUTHORIZED');
    expect(c.call(bob, 'token', 'mint', [v.address(t), v.address(bob.address), v.u128(U128_MAX)]).receipt.status).toBe('success');
    expectFailedFeeOnly(c.call(bob, 'token', 'mint', [v.address(t), v.address(bob.address), v.u128(1n)]), bob, 'MAX_SUPPLY_EXCEEDED');
    c.call(bob, 'token', 'set_mint_authority', [v.address(t), v.address(new Uint8Array(20))]);
    expectFailedFeeOnly(c.call(bob, 'token', 'mint', [v.address(t), v.address(bob.address), v.u128(0n)]), bob, 'MINT_NOT_AUTHORIZED');
  });

  it('arithmetic overflow of a balance fails with ARITHMETIC_OVERFLOW', () => {
    const c = new Chain();
    const t = create(c, 0n);
    c.call(alice, 'token', 'mint', [v.address(t), v.address(bob.address), v.u128(U128_MAX)]);
    c.call(bob, 'token', 'transfer', [v.address(t), v.address(carol.address), v.u128(10n)]);
    // Supply is at the u128 max: one more unit overflows.
    expectFailedFeeOnly(c.call(alice, 'token', 'mint', [v.address(t), v.address(carol.address), v.u128(1n)]), alice, 'MAX_SUPPLY_EXCEEDED');
  });
});

describe('fee module', () => {
  it('only the admin changes the fee split; the admin role can be handed over', () => {
    const c = new Chain();
    const { FEE_ADMIN_KEY } = { FEE_ADMIN_KEY: 'fee/admin' };
    c.state.set(FEE_ADMIN_KEY, alice.address);
    const args = (bps: bigint[]) => [v.u64(1n), v.u64(bps[0]!), v.u64(bps[1]!), v.u64(bps[2]!), v.address(carol.address)];
    expectFailedFeeOnly(c.call(bob, 'fee', 'set_params', args([0n, 5000n, 5000n])), bob, 'NOT_FEE_ADMIN');
    expectFailedFeeOnly(c.call(alice, 'fee', 'set_params', args([1n, 5000n, 5000n])), alice, 'INVALID_FEE_PARAMS');
    expect(c.call(alice, 'fee', 'set_params', args([0n, 5000n, 5000n])).receipt.status).toBe('success');
    expect(decodeFeeParams(c.state.get(FEE_PARAMS_KEY)!)).toMatchObject({ burnBps: 0, proposerBps: 5000, treasuryBps: 5000, treasury: carol.address });
    c.call(alice, 'fee', 'set_admin', [v.address(bob.address)]);
    expectFailedFeeOnly(c.call(alice, 'fee', 'set_admin', [v.address(alice.address)]), alice, 'NOT_FEE_ADMIN');
    expect(c.call(bob, 'fee', 'set_params', args([10000n, 0n, 0n])).receipt.status).toBe('success');
  });
});
