/**
 * The node's JSON-RPC method table: every method with its declared parameters
 * (node/rpc/params.ts). `buildMethods` binds it to a node for the server; the table itself
 * needs no node, so docs checks and the fuzz tests enumerate it.
 */
import type { PelNode } from '../../node.js';
import { bindMethods, type RpcMethod } from '../params.js';
import type { RpcHandler } from '../server.js';
import { accountMethods } from './account.js';
import { blockMethods } from './block.js';
import { chainMethods } from './chain.js';
import { devMethods } from './dev.js';
import { mempoolMethods } from './mempool.js';
import { txMethods } from './tx.js';
import { moduleViewMethods } from './modules.js';
import { netMethods } from './net.js';
import { debugMethods } from './debug.js';
import { eventMethods } from './events.js';
import { methodsOf, usage } from '../params.js';

export const rpcMethods: Readonly<Record<string, RpcMethod<PelNode>>> = {
  ...moduleViewMethods,
  ...chainMethods, ...txMethods, ...accountMethods, ...blockMethods, ...mempoolMethods, ...devMethods,
  ...netMethods, ...eventMethods, ...debugMethods,
  /** [] -> every method this node serves with its parameters, from the same declarations that parse them. */
  rpc_methods: methodsOf<PelNode>()([], () => describeMethods()),
};

let described: unknown[] | null = null;
function describeMethods(): unknown[] {
  described ??= Object.keys(rpcMethods).sort().map((name) => {
    const m = rpcMethods[name]!;
    return {
      name,
      usage: `${name} ${usage(m.params)}`,
      transport: m.transport,
      params: m.params.map((p) => ({ name: p.name, optional: p.optional, type: p.type.describe, shape: p.type.shape })),
    };
  });
  return described;
}

export function buildMethods(node: PelNode): Record<string, RpcHandler> {
  return bindMethods(rpcMethods, node);
}
