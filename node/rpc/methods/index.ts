import type { PelNode } from '../../node.js';
import type { RpcHandler } from '../server.js';
import { accountMethods } from './account.js';
import { blockMethods } from './block.js';
import { chainMethods } from './chain.js';
import { devMethods } from './dev.js';
import { mempoolMethods } from './mempool.js';
import { txMethods } from './tx.js';
import { moduleViewMethods } from './modules.js';
import { netMethods } from './net.js';

export function buildMethods(node: PelNode): Record<string, RpcHandler> {
  return {
    ...moduleViewMethods(node),
    ...chainMethods(node), ...txMethods(node), ...accountMethods(node), ...blockMethods(node), ...mempoolMethods(node), ...devMethods(node),
    ...netMethods(node),
  };
}
