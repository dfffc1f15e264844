/**
 * Dry runs (tx_simulate, tx_estimateGas): one transaction executed by the reference
 * semantics (execution/vm.ts, the code both executors run) on the state of the durable head,
 * as the first tx of the next block. Nothing is written, nothing enters the mempool, no
 * waiter or subscription sees it. The mempool is not consulted: the tx's nonce must be the
 * account's committed nonce, or the run reports the discard (NONCE_TOO_HIGH) a block would.
 */
import { builtinModules } from '../contracts/registry.js';
import { getBalance } from '../contracts/coin/state.js';
import { intrinsicGas } from '../execution/gas.js';
import type { BlockContext } from '../execution/types.js';
import { executeTransaction } from '../execution/vm.js';
import { ProtocolError } from '../protocol/errors.js';
import { toHex } from '../protocol/hex.js';
import { eventToJson } from '../protocol/receipt.js';
import { decodeTx, encodeTxBody, signedTxOf, txSignatureValid, unsignedTx, type SignedTx } from '../protocol/tx.js';
import type { PelNode } from './node.js';
import { RpcError } from './rpc/errors.js';

/** The next block's context on the durable head: what a tx sent now would most likely see. */
function nextBlockContext(node: PelNode): BlockContext {
  const head = node.chain.head.header;
  const now = BigInt(Date.now());
  return { chainId: node.chain.genesis.chainId, height: head.height + 1n, timestamp: now > head.timestamp ? now : head.timestamp, proposer: head.proposer, params: node.chain.params() };
}

export function decodeForRpc(raw: Uint8Array): SignedTx {
  try {
    return decodeTx(raw);
  } catch (e) {
    if (e instanceof ProtocolError) throw RpcError.of('INVALID_TX_ENCODING', `cannot decode transaction: ${e.message}`, { reason: e.code });
    throw e;
  }
}

export interface SimulationJson {
  hash: string;
  /** Height the tx was run as (head + 1). */
  height: number;
  status: 'success' | 'failed' | 'discarded';
  /** Module error code (failed), discard code (discarded), '' on success. */
  errorCode: string;
  message?: string;
  gasLimit: string;
  gasUsed: string;
  fee: string;
  events: ReturnType<typeof eventToJson>[];
  /** Every state key the tx would write, sorted, with its new value (0x-hex) or null (deleted). */
  writeSet: { key: string; value: string | null }[];
}

function run(node: PelNode, tx: SignedTx): SimulationJson {
  const ctx = nextBlockContext(node);
  const { outcome, view } = executeTransaction(node.chain.world, tx, ctx, builtinModules, 'eager');
  const base = { hash: toHex(tx.hash), height: Number(ctx.height), gasLimit: tx.gasLimit.toString() };
  if (outcome.kind === 'discarded') {
    return { ...base, status: 'discarded', errorCode: outcome.code, message: outcome.message, gasUsed: '0', fee: '0', events: [], writeSet: [] };
  }
  const r = outcome.receipt;
  const writeSet = [...view.writes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, value]) => ({ key, value: value === null ? null : toHex(value) }));
  return { ...base, status: r.status, errorCode: r.errorCode, gasUsed: r.gasUsed.toString(), fee: r.fee.toString(), events: r.events.map(eventToJson), writeSet };
}

/** tx_simulate: the signed tx as it is (its gas limit, its signature checked unless told not to). */
export function simulateTx(node: PelNode, raw: Uint8Array, opts: { checkSignature?: boolean | undefined }): SimulationJson {
  const tx = decodeForRpc(raw);
  if (opts.checkSignature !== false && !txSignatureValid(node.verifier, tx)) {
    throw RpcError.of('BAD_SIGNATURE', 'signature does not verify for the sender public key over the signing bytes (see docs/PROTOCOL.md, Signatures); pass {"checkSignature": false} to simulate anyway', { hash: toHex(tx.hash) });
  }
  return run(node, tx);
}

/** Headroom tx_estimateGas adds to the measured gas, in percent: state may change before inclusion. */
export const ESTIMATE_MARGIN_PCT = 10n;

/**
 * tx_estimateGas: the tx run with the largest gas limit it could carry (the schedule's maxTxGas,
 * or what the sender's balance pays for at its gas price), so the limit it was signed with does
 * not matter and neither does its signature: estimate first, then build and sign the real tx.
 */
export function estimateGas(node: PelNode, raw: Uint8Array): Record<string, unknown> {
  const tx = decodeForRpc(raw);
  const { gas } = node.chain.params();
  const price = tx.gasPrice === 0n ? 1n : tx.gasPrice;
  const affordable = getBalance(node.chain.world, tx.sender) / price;
  let limit = gas.maxTxGas < affordable ? gas.maxTxGas : affordable;
  const intrinsic = intrinsicGas(gas, tx.raw.length);
  if (limit < intrinsic) limit = intrinsic; // the run then reports INSUFFICIENT_BALANCE_FOR_FEE
  const body = unsignedTx(tx);
  const probe = signedTxOf({ ...body, gasLimit: limit }, encodeTxBody({ ...body, gasLimit: limit }), tx.signature);
  const sim = run(node, probe);
  const used = BigInt(sim.gasUsed);
  let suggested = used + (used * ESTIMATE_MARGIN_PCT) / 100n;
  if (suggested > gas.maxTxGas) suggested = gas.maxTxGas;
  return {
    status: sim.status,
    errorCode: sim.errorCode,
    ...(sim.message !== undefined ? { message: sim.message } : {}),
    gasUsed: sim.gasUsed,
    gasLimit: sim.status === 'success' ? suggested.toString() : null,
    intrinsicGas: intrinsic.toString(),
    maxTxGas: gas.maxTxGas.toString(),
    /** The gas limit the estimate ran with. */
    ranWithGasLimit: limit.toString(),
  };
}
