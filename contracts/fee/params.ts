/**
 * Fee parameters, stored in state at `fee/params` so governance can change them; a change
 * takes effect from the next block. Shares are basis points and must add up to 10,000.
 * encoding: u64 minGasPrice | u16 burnBps | u16 proposerBps | u16 treasuryBps | [20] treasury
 */
import { Reader, Writer } from '../../protocol/codec.js';

export const FEE_PARAMS_KEY = 'fee/params';
/** The account that may change the fee parameters (20 bytes); absent = nobody. */
export const FEE_ADMIN_KEY = 'fee/admin';

export interface FeeParams {
  readonly minGasPrice: bigint;
  readonly burnBps: number;
  readonly proposerBps: number;
  readonly treasuryBps: number;
  readonly treasury: Uint8Array;
}

export function validateFeeParams(p: FeeParams): string | null {
  if (p.burnBps + p.proposerBps + p.treasuryBps !== 10_000) return 'burnBps + proposerBps + treasuryBps must equal 10000';
  if (p.treasury.length !== 20) return 'treasury must be a 20-byte address';
  return null;
}

export function encodeFeeParams(p: FeeParams): Uint8Array {
  return new Writer(48).u64(p.minGasPrice).u16(p.burnBps).u16(p.proposerBps).u16(p.treasuryBps).raw(p.treasury, 20).finish();
}

export function decodeFeeParams(b: Uint8Array): FeeParams {
  const r = new Reader(b, 'fee params');
  const p = { minGasPrice: r.u64(), burnBps: r.u16(), proposerBps: r.u16(), treasuryBps: r.u16(), treasury: r.raw(20) };
  r.end();
  return p;
}
