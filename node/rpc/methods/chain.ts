import { toHex } from '../../../protocol/hex.js';
import type { PelNode } from '../../node.js';
import { RpcError, invalidParams } from '../errors.js';
import { arity, hashParam } from '../params.js';
import type { RpcHandler } from '../server.js';
import { blockToJson, receiptToJson } from './format.js';

export function chainMethods(node: PelNode): Record<string, RpcHandler> {
  return {
    chain_getInfo: async (params) => {
      arity(params, 0, 0, 'no parameters');
      const genesis = await node.chain.getBlock(0n);
      const head = node.chain.head;
      return {
        chainId: node.chain.genesis.chainId,
        height: Number(head.header.height),
        headHash: toHex(head.hash),
        stateRoot: toHex(head.header.stateRoot),
        genesisHash: genesis ? toHex(genesis.block.hash) : null,
        executor: node.executor.name,
      };
    },

    /**
     * WebSocket only. ["newBlocks"] pushes every committed block (header + tx hashes);
     * ["tx", hash] pushes the tx's status once it is committed or dropped, then nothing.
     */
    chain_subscribe: (params, ctx) => {
      if (!ctx.subscribe) throw RpcError.of('NOT_AVAILABLE', 'subscriptions need a WebSocket connection (ws://host:port)');
      arity(params, 1, 2, '["newBlocks"] or ["tx", txHash]');
      const kind = params[0];
      if (kind === 'newBlocks') {
        arity(params, 1, 1, '["newBlocks"]');
        return ctx.subscribe((push) => node.onBlock((b) => push(blockToJson(b.block, 'hashes'))));
      }
      if (kind === 'tx') {
        arity(params, 2, 2, '["tx", txHash]');
        const hash = hashParam(params[1], 'txHash');
        return ctx.subscribe((push) => {
          const ac = new AbortController();
          node.waitForTx(hash, 2 ** 31 - 1, ac.signal).then((r) => {
            if (!r) return;
            if (r.kind === 'committed') push({ hash: toHex(hash), status: 'committed', receipt: receiptToJson(hash, r.height, r.blockHash, r.index, r.receipt) });
            else push({ hash: toHex(hash), status: 'dropped', reason: r.reason });
          }, () => undefined);
          return () => ac.abort();
        });
      }
      throw invalidParams(`unknown subscription ${JSON.stringify(kind)}; use "newBlocks" or "tx"`);
    },
  };
}
