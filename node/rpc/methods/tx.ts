import { toHex } from '../../../protocol/hex.js';
import { txToJson } from '../../../protocol/tx.js';
import type { PelNode } from '../../node.js';
import { RpcError, rpcErrorFor } from '../errors.js';
import { boolType, hashType, intType, methodsOf, optional, optionsType, param, rawTxType, type RpcMethod } from '../params.js';
import { receiptToJson } from './format.js';

const method = methodsOf<PelNode>();

const sendOptions = optionsType({ wait: boolType, timeoutMs: intType(1, 600_000) });

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

  /** [hash] -> receipt or null (unknown or not yet committed). */
  tx_getReceipt: method([param('txHash', hashType)], async ([hash], node) => {
    const loc = await node.chain.getTxLocation(hash);
    if (!loc) return null;
    const c = await node.chain.getCommittedTx(loc.height, loc.index);
    if (!c) return null;
    return receiptToJson(hash, loc.height, c.blockHash, loc.index, c.receipt);
  }),
};
