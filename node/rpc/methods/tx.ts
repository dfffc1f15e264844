import { toHex } from '../../../protocol/hex.js';
import { MAX_TX_BYTES, txToJson } from '../../../protocol/tx.js';
import type { PelNode } from '../../node.js';
import { RpcError, invalidParams, rpcErrorFor } from '../errors.js';
import { arity, hashParam, hexBytesParam, intParam, optionsParam } from '../params.js';
import type { RpcHandler } from '../server.js';
import { receiptToJson } from './format.js';

export function txMethods(node: PelNode): Record<string, RpcHandler> {
  return {
    /** [rawTxHex, {wait?, timeoutMs?}] -> {hash} or, with wait, the receipt once committed. */
    tx_send: async (params) => {
      arity(params, 1, 2, '[rawTxHex, {wait?: boolean, timeoutMs?: number}]');
      // Refused from its length alone, before the hex is decoded: it cannot be a tx.
      if (typeof params[0] === 'string' && params[0].length > 2 + 2 * MAX_TX_BYTES) {
        throw RpcError.of('INVALID_TX_ENCODING', `cannot decode transaction: ${params[0].length} hex characters, over the ${MAX_TX_BYTES}-byte limit (${2 + 2 * MAX_TX_BYTES} characters with 0x)`, { reason: 'TX_TOO_LARGE' });
      }
      const raw = hexBytesParam(params[0], 'rawTx');
      const opts = optionsParam(params[1], 'options');
      if (opts.wait !== undefined && typeof opts.wait !== 'boolean') throw invalidParams('options.wait must be a boolean');
      const timeoutMs = opts.timeoutMs === undefined ? node.config.txWaitTimeoutMs : intParam(opts.timeoutMs, 'options.timeoutMs', 1, 600_000);
      const r = await node.submitOne(raw);
      if (!r.ok) throw r.error;
      if (!opts.wait) return { hash: toHex(r.hash) };
      const w = await node.waitForTx(r.hash, timeoutMs);
      if (!w) throw RpcError.of('TX_WAIT_TIMEOUT', `transaction not committed within ${timeoutMs} ms; it stays pending, poll tx_getReceipt`, { hash: toHex(r.hash) });
      if (w.kind === 'dropped') throw rpcErrorFor(w.reason.code, `transaction was dropped before inclusion: ${w.reason.message}`, { hash: toHex(r.hash) });
      return receiptToJson(r.hash, w.height, w.blockHash, w.index, w.receipt);
    },

    /** [hash] -> {hash, status: pending|committed|dropped, ...} or null if unknown. */
    tx_get: async (params) => {
      arity(params, 1, 1, '[txHash]');
      const hash = hashParam(params[0], 'txHash');
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
    },

    /** [hash] -> receipt or null (unknown or not yet committed). */
    tx_getReceipt: async (params) => {
      arity(params, 1, 1, '[txHash]');
      const hash = hashParam(params[0], 'txHash');
      const loc = await node.chain.getTxLocation(hash);
      if (!loc) return null;
      const c = await node.chain.getCommittedTx(loc.height, loc.index);
      if (!c) return null;
      return receiptToJson(hash, loc.height, c.blockHash, loc.index, c.receipt);
    },
  };
}
