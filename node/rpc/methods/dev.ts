import type { PelNode } from '../../node.js';
import { RpcError } from '../errors.js';
import { arity, intParam } from '../params.js';
import type { RpcHandler } from '../server.js';

export function devMethods(node: PelNode): Record<string, RpcHandler> {
  return {
    /** [count = 1] -> {heights}: build `count` blocks now, empty ones included. */
    dev_mine: async (params) => {
      arity(params, 0, 1, '[count?]');
      const count = params[0] === undefined ? 1 : intParam(params[0], 'count', 1, 1000);
      if (!node.producer) throw RpcError.of('NOT_AVAILABLE', 'dev_mine is for the single-validator devnet; BFT validators commit a block every block time');
      const blocks = await node.producer.mine(count);
      return { heights: blocks.map((b) => Number(b.header.height)) };
    },
  };
}
