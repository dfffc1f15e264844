import { toHex, toHexRaw } from '../../../protocol/hex.js';
import { decodeU128 } from '../../../protocol/codec.js';
import { BURNED_KEY } from '../../../contracts/coin/state.js';
import { tokenSupplyKey } from '../../../contracts/token/state.js';
import type { CommittedBlock } from '../../../consensus/chain.js';
import type { PelNode } from '../../node.js';
import { RpcError, invalidParams } from '../errors.js';
import { addressParam, arity, hashParam } from '../params.js';
import type { RpcHandler } from '../server.js';
import { blockToJson, receiptToJson } from './format.js';

export function chainMethods(node: PelNode): Record<string, RpcHandler> {
  // One JSON object per committed block for every newBlocks subscriber: the server then
  // serialises it once (per-subscription copies cost ~2,560 conversions of a 10,000-tx block
  // for 40 clients x 64 subscriptions, seconds of event loop).
  const blockJson = new WeakMap<CommittedBlock, Record<string, unknown>>();
  const newBlockJson = (b: CommittedBlock): Record<string, unknown> => {
    let json = blockJson.get(b);
    if (json === undefined) blockJson.set(b, (json = blockToJson(b.block, 'hashes')));
    return json;
  };
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
        consensus: node.config.consensus,
        validators: node.chain.genesis.validators.length,
        validator: node.validatorAddress,
        peerId: node.network?.peerId ?? null,
        peers: node.network?.peers().length ?? 0,
      };
    },

    /**
     * [token?] -> supply audit over the whole committed state (O(state size): a devnet and
     * test tool). native: genesis supply = Σ coin balances + burned; token: total supply =
     * Σ balances + staked + locked in DAO votes.
     */
    chain_getSupply: (params) => {
      arity(params, 0, 1, '[token?]');
      const token = params[0] === undefined ? null : addressParam(params[0], 'token');
      const tokenHex = token ? toHexRaw(token) : '';
      let balances = 0n;
      let tBalances = 0n;
      let staked = 0n;
      let locked = 0n;
      for (const [k, val] of node.chain.world.entries()) {
        if (k.startsWith('coin/balance/')) balances += decodeU128(val);
        else if (token && k.startsWith(`token/balance/${tokenHex}/`)) tBalances += decodeU128(val);
        else if (token && k.startsWith(`staking/staked/${tokenHex}/`)) staked += decodeU128(val);
        else if (token && k.startsWith(`dao/escrow/${tokenHex}/`)) locked += decodeU128(val);
      }
      const genesis = node.chain.genesis.accounts.reduce((a, x) => a + x.balance, 0n);
      const burned = decodeU128(node.chain.world.get(BURNED_KEY));
      const out: Record<string, unknown> = {
        native: { genesis: genesis.toString(), balances: balances.toString(), burned: burned.toString(), ok: genesis === balances + burned },
      };
      if (token) {
        const supply = decodeU128(node.chain.world.get(tokenSupplyKey(token)));
        out.token = { id: toHex(token), supply: supply.toString(), balances: tBalances.toString(), staked: staked.toString(), locked: locked.toString(), ok: supply === tBalances + staked + locked };
      }
      return out;
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
        return ctx.subscribe((push) => node.onBlock((b) => push(newBlockJson(b))));
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
