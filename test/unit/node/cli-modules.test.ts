/**
 * The module CLI's human arguments (node/cli-modules.ts): decimal amounts scaled by the
 * asset's decimals (looked up through a fake RPC), `native` for asset arguments, created ids,
 * and the DAO proposal payloads built from flags.
 */
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../../protocol/hex.js';
import { decodeCallPayload, decodeParamsPayload, decodePayoutPayload } from '../../../contracts/dao/payload.js';
import { createdIds, humanAmount, humanArgs, NATIVE_ID, parseFlagPairs, proposalArgs } from '../../../node/cli-modules.js';
import { AMM_SPEC } from '../../../contracts/amm/spec.js';

const TOKEN = '0x' + '7e'.repeat(20);
const LP = '0x' + '11'.repeat(20);
const POOL = '0x' + '22'.repeat(20);
const rpc = {
  calls: [] as string[],
  async request<T>(method: string, params: unknown[] = []): Promise<T> {
    this.calls.push(method);
    if (method === 'token_getInfo') return (params[0] === TOKEN ? { decimals: 6 } : params[0] === LP ? { decimals: 0 } : null) as T;
    if (method === 'amm_getPool') return { asset0: NATIVE_ID, asset1: TOKEN, lpToken: LP } as T;
    throw new Error(`unexpected ${method}`);
  },
};

describe('pel <module> human arguments', () => {
  it('scales decimal amounts, passes integers (base units) through, refuses what it cannot scale', () => {
    expect(humanAmount('1.5', 9, 'x')).toBe('1500000000');
    expect(humanAmount('.25', 2, 'x')).toBe('25');
    expect(humanAmount('7', null, 'x')).toBe('7');
    expect(humanAmount('3.', 0, 'x')).toBe('3');
    expect(() => humanAmount('1.234', 2, 'x')).toThrow(/more than 2 decimals/);
    expect(() => humanAmount('1.5', null, 'x')).toThrow(/decimals are not known/);
    expect(() => humanAmount('1.2.3', 9, 'x')).toThrow(/not a decimal amount/);
  });

  it('amm.swap: native for the asset, amount_in in its units, min_out in the other asset of the pool', async () => {
    const named: Record<string, string> = { pool: POOL, asset_in: 'native', amount_in: '1.5', min_out: '2.25', deadline: '100' };
    await humanArgs(rpc, 'amm', 'swap', AMM_SPEC.calls.swap.args, named);
    expect(named).toEqual({ pool: POOL, asset_in: NATIVE_ID, amount_in: '1500000000', min_out: '2250000', deadline: '100' });
    const add: Record<string, string> = { pool: POOL, amount0_desired: '1', amount1_desired: '0.5', amount0_min: '0', amount1_min: '0', deadline: '9' };
    await humanArgs(rpc, 'amm', 'add_liquidity', AMM_SPEC.calls.add_liquidity.args, add);
    expect(add).toMatchObject({ amount0_desired: '1', amount1_desired: '500000' });
    const n = rpc.calls.length;
    await humanArgs(rpc, 'amm', 'swap', AMM_SPEC.calls.swap.args, { pool: POOL, asset_in: TOKEN, amount_in: '10', min_out: '0', deadline: '1' });
    expect(rpc.calls.length).toBe(n); // integers only: no lookup at all
  });

  it('prints the ids a receipt created', () => {
    const receipt = { events: [
      { name: 'pool_created', fields: { pool: { type: 'address', value: POOL }, lp_token: { type: 'address', value: LP }, fee_bps: { type: 'u64', value: '30' } } },
      { name: 'swap', fields: { pool: { type: 'address', value: POOL } } },
    ] };
    expect(createdIds(receipt)).toEqual([`pool: ${POOL}`, `lp_token: ${LP}`]);
  });

  it('dao propose builds the payload of every kind from flags', async () => {
    const to = '0x' + '33'.repeat(20);
    const payout = parseFlagPairs(['--dao', POOL, '--payout', '--to', to, '--amount', '2.5', '--description', 'grant']);
    await proposalArgs(rpc, payout);
    expect(payout.kind).toBe('1');
    expect(decodePayoutPayload(fromHex(payout.payload!))).toEqual({ currency: new Uint8Array(20), to: fromHex(to), amount: 2_500_000_000n });
    const tokenPayout = parseFlagPairs(['--payout', '--to', to, '--amount', '0.5', '--currency', TOKEN]);
    await proposalArgs(rpc, tokenPayout);
    expect(decodePayoutPayload(fromHex(tokenPayout.payload!)).amount).toBe(500_000n);
    const params = parseFlagPairs(['--params', '--quorum', '100', '--approval-bps', '6000', '--voting-period', '20']);
    await proposalArgs(rpc, params);
    expect(params.kind).toBe('2');
    expect(decodeParamsPayload(fromHex(params.payload!))).toEqual({ quorum: 100n, approvalBps: 6000n, votingPeriod: 20n });
    const call = parseFlagPairs(['--call', '--module', 'amm', '--call-name', 'set_params', '--args', '[{"type":"u64","value":"1667"},{"type":"u128","value":"1000000"}]']);
    await proposalArgs(rpc, call);
    expect(call.kind).toBe('3');
    expect(decodeCallPayload(fromHex(call.payload!))).toMatchObject({ module: 'amm', call: 'set_params' });
    await expect(proposalArgs(rpc, parseFlagPairs(['--payout', '--amount', '1']))).rejects.toThrow(/--payout needs --to/);
  });
});
