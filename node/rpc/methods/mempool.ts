import type { PelNode } from '../../node.js';
import { arity } from '../params.js';
import type { RpcHandler } from '../server.js';

export function mempoolMethods(node: PelNode): Record<string, RpcHandler> {
  return {
    /** [] -> {pending, queued, total, senders, capacity}. */
    mempool_status: (params) => {
      arity(params, 0, 0, 'no parameters');
      return node.mempool.stats();
    },
  };
}
