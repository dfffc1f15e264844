import type { PelNode } from '../../node.js';
import { RpcError } from '../errors.js';
import { intType, methodsOf, optional, type RpcMethod } from '../params.js';

const method = methodsOf<PelNode>();

export const devMethods: Record<string, RpcMethod<PelNode>> = {
  /** [count = 1] -> {heights}: build `count` blocks now, empty ones included. */
  dev_mine: method([optional('count', intType(1, 1000))], async ([count = 1], node) => {
    if (!node.producer) throw RpcError.of('NOT_AVAILABLE', 'dev_mine is for the single-validator devnet; BFT validators commit a block every block time');
    const blocks = await node.producer.mine(count);
    return { heights: blocks.map((b) => Number(b.header.height)) };
  }),
};
