import type { PelNode } from '../../node.js';
import { methodsOf, type RpcMethod } from '../params.js';

const method = methodsOf<PelNode>();

export const mempoolMethods: Record<string, RpcMethod<PelNode>> = {
  /** [] -> {pending, queued, total, senders, capacity}. */
  mempool_status: method([], (_, node) => node.mempool.stats()),
};
