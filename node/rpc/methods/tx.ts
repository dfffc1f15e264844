import { toHex } from '../../../protocol/hex.js';
import { txToJson } from '../../../protocol/tx.js';
import type { PelNode } from '../../node.js';
import { RpcError, rpcErrorFor } from '../errors.js';
import { boolType, hashType, intType, methodsOf, optional, optionsType, param, rawTxType, type RpcMethod } from '../params.js';
import { receiptToJson } from './format.js';
import { estimateGas, simulateTx } from '../../simulate.js';

const method = methodsOf<PelNode>();

const sendOptions = optionsType({ wait: boolType, timeoutMs: intType(1, 600_000) });
const simulateOptions = optionsType({ checkSignature: boolType });

export const txMethods: Record<string, RpcMethod<PelNode>> = {
  /** [rawTxHex, {wait?, timeoutMs?}] -> {hash} or, with wait, the receipt once committed. */
  tx_send: method([param('rawTx', rawTxType), optional('options', sendOptions)], async ([raw, opts = {}], node) => {
    const timeoutMs = opts.timeoutMs ?? node.config.txWaitTimeoutMs;
    const r = await node.submitOne(raw);
    if (!r.ok) throw r.error;
    if (!opts.wait) return { hash: toHex(r.hash) };
    const w = await node.waitForTx(r.hash, timeoutMs);
    if (!w) throw RpcError.of('TX_WAIT_TIMEOUT', `transaction not committed within ${timeoutMs} ms; it stays pending, poll tx_getReceipt`, { hash: toHex(r.hash) });
    if (w.kind === 'dropped') throw rpcErrorFor(w.reason.code, `transaction was dropped before inclusion: ${w.reason.message}`, { hash: toHex(r.hash) });
    return receiptToJson(r.hash, w.height, w.blockHash, w.index, w.receipt);
  }),

  /** [hash] -> {hash, status: pending|committed|dropped, ...} or null if unknown. */
  tx_get: method([param('txHash', hashType)], async ([hash], node) => {
    const pending = node.mempool.get(hash);
    if (pending) return { status: 'pending', ...txToJson(pending) };
    const loc = await node.chain.getTxLocation(hash);
    if (loc) {
      const c = await node.chain.getCommittedTx(loc.height, loc.index);
      if (c) return { status: 'committed', blockHeight: Number(loc.height), blockHash: toHex(c.blockHash), index: loc.index, ...txToJson(c.tx) };
    }
    const d = node.dropped.get(toHex(hash).slice(2));
    if (d) return { status: 'dropped', hash: toHex(hash), reason: d };
    return null;
  }),

  /**
   * [rawTxHex, {checkSignature?}] -> what the tx would do as the first tx of the next block on
   * the head's state: status, errorCode, gasUsed, fee, events and write set. Nothing is
   * committed; the tx does not enter the mempool.
   */
  tx_simulate: method([param('rawTx', rawTxType), optional('options', simulateOptions)], ([raw, opts = {}], node) => simulateTx(node, raw, opts)),

  /**
   * [rawTxHex] -> {status, errorCode, gasUsed, gasLimit, ...}: the tx run with the largest gas
   * limit it could carry (its own limit and signature are ignored); gasLimit = gasUsed + 10%.
   */
  tx_estimateGas: method([param('rawTx', rawTxType)], ([raw], node) => estimateGas(node, raw)),

  /** [hash] -> receipt or null (unknown or not yet committed). */
  tx_getReceipt: method([param('txHash', hashType)], async ([hash], node) => {
    const loc = await node.chain.getTxLocation(hash);
    if (!loc) return null;
    const c = await node.chain.getCommittedTx(loc.height, loc.index);
    if (!c) return null;
    return receiptToJson(hash, loc.height, c.blockHash, loc.index, c.receipt);
  }),
};
