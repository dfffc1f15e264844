/**
 * The execution of one transaction: the reference semantics (docs/PROTOCOL.md, "Execution
 * rules and fees"). Both executors call this; they differ only in the ReadSource and the
 * delta mode they pass.
 *
 *   prologue (unmetered): chain id, expiry, gas price and limit bounds, nonce == state nonce,
 *     balance >= gasLimit * gasPrice; else the tx is DISCARDED (no effect at all).
 *     Then nonce += 1 and the maximum fee is reserved (debited).
 *   body (metered, limit = gasLimit - intrinsic): module call in a nested view. On
 *     ExecutionFailure (or any error thrown by module code) its writes and events are
 *     dropped and the receipt says failed with the code; OUT_OF_GAS uses the whole limit.
 *   epilogue (unmetered): fee = gasUsed * gasPrice; the unused reservation is refunded;
 *     the fee is split between burn, proposer and treasury as deltas.
 */
import { encodeU128 } from '../protocol/codec.js';
import type { SignedTx } from '../protocol/tx.js';
import { encodeReceipt, type Receipt } from '../protocol/receipt.js';
import type { Value } from '../protocol/value.js';
import { balanceKey, getBalance, getNonce, setNonce } from '../contracts/coin/state.js';
import { distributeFee } from '../contracts/fee/distribute.js';
import { ExecutionFailure, type CallContext, type Module } from '../contracts/types.js';
import { GasMeter, gasCosts, intrinsicGas } from './gas.js';
import { TxView, type DeltaMode, type ReadSource } from './view.js';
import type { BlockContext, DiscardCode, TxOutcome } from './types.js';

import { ExecutorSignal } from './signal.js';
export { ExecutorSignal };

export interface TxExecution {
  readonly outcome: TxOutcome;
  /** The transaction's own view: writes and pending deltas (empty when discarded). */
  readonly view: TxView;
  /**
   * Deferred mode only: the call failed while deltas were pending, so the eager run may
   * fail earlier with another code (execution/view.ts contract). The executor must
   * re-execute this tx eagerly once its predecessors are final.
   */
  readonly deferredFailure: boolean;
}

function discard(view: TxView, code: DiscardCode, message: string): TxExecution {
  view.writes.clear();
  view.deltas.clear();
  return { outcome: { kind: 'discarded', code, message }, view, deferredFailure: false };
}

function checkArgs(args: readonly Value[], spec: readonly (readonly [string, string])[], call: string): void {
  if (args.length !== spec.length) throw new ExecutionFailure('INVALID_ARGUMENTS', `${call} takes ${spec.length} arguments, got ${args.length}`);
  for (let i = 0; i < spec.length; i++) {
    if (args[i]!.type !== spec[i]![1]) {
      throw new ExecutionFailure('INVALID_ARGUMENTS', `${call}: argument ${i} (${spec[i]![0]}) must be ${spec[i]![1]}, got ${args[i]!.type}`);
    }
  }
}

export function executeTransaction(
  base: ReadSource,
  tx: SignedTx,
  ctx: BlockContext,
  modules: ReadonlyMap<string, Module>,
  mode: DeltaMode,
): TxExecution {
  const { gas: schedule, fee: feeParams } = ctx.params;
  const outer = new TxView(base, mode);

  if (tx.chainId !== ctx.chainId) return discard(outer, 'WRONG_CHAIN_ID', `tx chain id ${tx.chainId}, chain ${ctx.chainId}`);
  if (ctx.height > tx.expiry) return discard(outer, 'TX_EXPIRED', `tx expired at height ${tx.expiry}`);
  if (tx.gasPrice < feeParams.minGasPrice) return discard(outer, 'GAS_PRICE_TOO_LOW', `gas price ${tx.gasPrice} < minimum ${feeParams.minGasPrice}`);
  const intrinsic = intrinsicGas(schedule, tx.raw.length);
  if (tx.gasLimit < intrinsic) return discard(outer, 'GAS_LIMIT_TOO_LOW', `gas limit ${tx.gasLimit} < intrinsic gas ${intrinsic}`);
  if (tx.gasLimit > schedule.maxTxGas) return discard(outer, 'GAS_LIMIT_TOO_HIGH', `gas limit ${tx.gasLimit} > maximum ${schedule.maxTxGas}`);
  const nonce = getNonce(outer, tx.sender);
  if (tx.nonce !== nonce) return discard(outer, tx.nonce < nonce ? 'NONCE_TOO_LOW' : 'NONCE_TOO_HIGH', `tx nonce ${tx.nonce}, account nonce ${nonce}`);
  const maxFee = tx.gasLimit * tx.gasPrice;
  const balance = getBalance(outer, tx.sender);
  if (balance < maxFee) return discard(outer, 'INSUFFICIENT_BALANCE_FOR_FEE', `balance ${balance} < max fee ${maxFee}`);

  setNonce(outer, tx.sender, nonce + 1n);
  outer.set(balanceKey(tx.sender), encodeU128(balance - maxFee));

  const meter = new GasMeter(tx.gasLimit - intrinsic, gasCosts(schedule));
  const inner = new TxView(outer, mode, meter);
  let errorCode = '';
  let deferredFailure = false;
  try {
    const mod = modules.get(tx.module);
    const spec = mod?.calls[tx.call];
    if (!mod || !spec) throw new ExecutionFailure('UNKNOWN_CALL', `no call ${tx.module}.${tx.call}`);
    checkArgs(tx.args, spec.args, `${tx.module}.${tx.call}`);
    const callGas = schedule.calls[`${tx.module}.${tx.call}`];
    if (callGas) meter.charge(Number(callGas));
    const cctx: CallContext = { chainId: ctx.chainId, height: ctx.height, timestamp: ctx.timestamp, proposer: ctx.proposer, sender: tx.sender, txHash: tx.hash, treasury: feeParams.treasury };
    spec.run(inner, cctx, tx.args);
    inner.mergeInto(outer);
  } catch (e) {
    if (e instanceof ExecutorSignal) throw e;
    // Module code is deterministic, so even an unexpected error fails the same way on every node.
    errorCode = e instanceof ExecutionFailure ? e.code : 'MODULE_ERROR';
    deferredFailure = mode === 'deferred' && (inner.deltas.size > 0 || outer.deltas.size > 0);
  }

  const gasUsed = intrinsic + BigInt(meter.used);
  const fee = gasUsed * tx.gasPrice;
  outer.addDelta(balanceKey(tx.sender), maxFee - fee);
  distributeFee(outer, fee, ctx.proposer, feeParams);
  const receipt: Receipt = { status: errorCode === '' ? 'success' : 'failed', errorCode, gasUsed, fee, events: errorCode === '' ? outer.events : [] };
  return { outcome: { kind: 'included', receipt, encoded: encodeReceipt(receipt) }, view: outer, deferredFailure };
}
