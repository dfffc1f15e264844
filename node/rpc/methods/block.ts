import type { PelNode } from '../../node.js';
import { invalidParams } from '../errors.js';
import { arity, hashParam, optionsParam } from '../params.js';
import type { RpcHandler } from '../server.js';
import { blockToJson, receiptToJson } from './format.js';

export function blockMethods(node: PelNode): Record<string, RpcHandler> {
  return {
    /** [height | "latest" | blockHash, {txs?: "hashes"|"full"|"none", receipts?: boolean}] -> block or null. */
    block_get: async (params) => {
      arity(params, 0, 2, '[height | "latest" | blockHash, {txs?, receipts?}]');
      const id = params[0] ?? 'latest';
      const opts = optionsParam(params[1], 'options');
      const txs = opts.txs ?? 'hashes';
      if (txs !== 'hashes' && txs !== 'full' && txs !== 'none') throw invalidParams('options.txs must be "hashes", "full" or "none"');
      if (opts.receipts !== undefined && typeof opts.receipts !== 'boolean') throw invalidParams('options.receipts must be a boolean');
      let found;
      if (id === 'latest') found = await node.chain.getBlock(node.chain.height);
      else if (typeof id === 'number') {
        if (!Number.isSafeInteger(id) || id < 0) throw invalidParams('height must be a non-negative integer');
        found = await node.chain.getBlock(BigInt(id));
      } else if (typeof id === 'string' && /^(0|[1-9][0-9]*)$/.test(id)) found = await node.chain.getBlock(BigInt(id));
      else if (typeof id === 'string' && id.startsWith('0x')) found = await node.chain.getBlockByHash(hashParam(id, 'blockHash'));
      else throw invalidParams('block id must be a height, "latest" or a 0x block hash');
      if (!found) return null;
      const out = blockToJson(found.block, txs);
      if (opts.receipts) {
        const b = found.block;
        out.receipts = b.txs.map((t, i) => receiptToJson(t.hash, b.header.height, b.hash, i, found.receipts.at(i)!));
      }
      return out;
    },
  };
}
