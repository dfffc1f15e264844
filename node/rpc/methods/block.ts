import type { PelNode } from '../../node.js';
import { boolType, enumType, hashType, heightType, methodsOf, oneOfType, optional, optionsType, type ParamType, type RpcMethod } from '../params.js';
import { blockToJson, receiptToJson } from './format.js';

const method = methodsOf<PelNode>();

type BlockId = { height: bigint } | { hash: Uint8Array } | 'latest';

/**
 * A height as a JSON integer (what the SDK, the CLI and every height in pel's answers use),
 * "latest", or a 0x block hash. Not a decimal string, not null.
 */
const blockIdType: ParamType<BlockId> = oneOfType<BlockId>(
  [
    { accepts: (v) => typeof v === 'number', type: { ...heightType, parse: (v, name) => ({ height: BigInt(heightType.parse(v, name)) }) } },
    { accepts: (v) => v === 'latest', type: { ...enumType(['latest']), parse: () => 'latest' } },
    { accepts: (v) => typeof v === 'string' && v.startsWith('0x'), type: { ...hashType, parse: (v, name) => ({ hash: hashType.parse(v, name) }) } },
  ],
  'a height (a JSON integer from 0), "latest" or a 0x block hash',
);

const blockOptions = optionsType({ txs: enumType(['hashes', 'full', 'none']), receipts: boolType });

export const blockMethods: Record<string, RpcMethod<PelNode>> = {
  /** [height | "latest" | blockHash, {txs?: "hashes"|"full"|"none", receipts?: boolean}] -> block or null. */
  block_get: method([optional('block', blockIdType), optional('options', blockOptions)], async ([id = 'latest', opts = {}], node) => {
    const found =
      id === 'latest' ? await node.chain.getBlock(node.chain.height) : 'height' in id ? await node.chain.getBlock(id.height) : await node.chain.getBlockByHash(id.hash);
    if (!found) return null;
    const out = blockToJson(found.block, opts.txs ?? 'hashes');
    if (opts.receipts) {
      const b = found.block;
      out.receipts = b.txs.map((t, i) => receiptToJson(t.hash, b.header.height, b.hash, i, found.receipts.at(i)!));
    }
    return out;
  }),
};
