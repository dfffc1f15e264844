/**
 * `fee`: the protocol fee parameters (minimum gas price and the burn / proposer /
 * treasury split) and who may change them. The admin starts as the genesis `fee.admin`
 * and is meant to be handed to a DAO (`set_admin`), so the DAO's members govern the fees
 * their treasury earns. Changes take effect from the next block.
 */
import { defineCall, defineView, eventsOf } from '../args.js';
import { FEE_SPEC } from './spec.js';
import { decodeU128 } from '../../protocol/codec.js';
import { bytesEqual, toHex } from '../../protocol/hex.js';
import { v } from '../../protocol/value.js';
import { BURNED_KEY } from '../coin/state.js';
import { ExecutionFailure, type Module } from '../types.js';
import { decodeFeeParams, encodeFeeParams, FEE_ADMIN_KEY, FEE_PARAMS_KEY, validateFeeParams } from './params.js';

function requireAdmin(view: { get(k: string): Uint8Array | undefined }, sender: Uint8Array): void {
  const admin = view.get(FEE_ADMIN_KEY);
  if (!admin || !bytesEqual(admin, sender)) throw new ExecutionFailure('NOT_FEE_ADMIN', 'only the fee admin can change fee parameters');
}

const event = eventsOf('fee');

export const feeModule: Module = {
  name: 'fee',
  calls: {
    set_params: defineCall({
      ...FEE_SPEC.calls.set_params,
      run(view, ctx, a) {
        requireAdmin(view, ctx.sender);
        for (const share of [a.burn_bps, a.proposer_bps, a.treasury_bps]) if (share > 10_000n) throw new ExecutionFailure('INVALID_FEE_PARAMS', 'shares are basis points: at most 10000');
        const p = { minGasPrice: a.min_gas_price, burnBps: Number(a.burn_bps), proposerBps: Number(a.proposer_bps), treasuryBps: Number(a.treasury_bps), treasury: a.treasury };
        const bad = validateFeeParams(p);
        if (bad) throw new ExecutionFailure('INVALID_FEE_PARAMS', bad);
        view.set(FEE_PARAMS_KEY, encodeFeeParams(p));
        view.emit(event('params_changed', {
          min_gas_price: v.u64(p.minGasPrice), burn_bps: v.u64(BigInt(p.burnBps)), proposer_bps: v.u64(BigInt(p.proposerBps)),
          treasury_bps: v.u64(BigInt(p.treasuryBps)), treasury: v.address(p.treasury),
        }));
      },
    }),
    set_admin: defineCall({
      ...FEE_SPEC.calls.set_admin,
      run(view, ctx, { new_admin }) {
        requireAdmin(view, ctx.sender);
        view.set(FEE_ADMIN_KEY, new_admin.slice());
        view.emit(event('admin_changed', { admin: v.address(new_admin) }));
      },
    }),
  },
  views: {
    getParams: defineView({
      ...FEE_SPEC.views.getParams,
      run(state) {
        const b = state.get(FEE_PARAMS_KEY);
        if (!b) return null;
        const p = decodeFeeParams(b);
        const admin = state.get(FEE_ADMIN_KEY);
        return {
          minGasPrice: p.minGasPrice.toString(), burnBps: p.burnBps, proposerBps: p.proposerBps, treasuryBps: p.treasuryBps,
          treasury: toHex(p.treasury), admin: admin ? toHex(admin) : null, burned: decodeU128(state.get(BURNED_KEY)).toString(),
        };
      },
    }),
  },
};

export const FEE_GAS: Record<string, bigint> = { 'fee.set_params': 1_000n, 'fee.set_admin': 1_000n };
