import { toHex, toHexRaw } from '../../../protocol/hex.js';
import { decodeU128 } from '../../../protocol/codec.js';
import { BURNED_KEY } from '../../../contracts/coin/state.js';
import { tokenSupplyKey } from '../../../contracts/token/state.js';
import type { CommittedBlock } from '../../../consensus/chain.js';
import type { PelNode } from '../../node.js';
import { RpcError, invalidParams } from '../errors.js';
import { addressType, enumType, hashType, methodsOf, optional, param, subscriptionIdType, type RpcMethod } from '../params.js';
import { blockToJson, receiptToJson } from './format.js';

const method = methodsOf<PelNode>();

// One JSON object per committed block for every newBlocks subscriber: the server then
// serialises it once (per-subscription copies cost ~2,560 conversions of a 10,000-tx block
// for 40 clients x 64 subscriptions, seconds of event loop).
const blockJson = new WeakMap<CommittedBlock, Record<string, unknown>>();
function newBlockJson(b: CommittedBlock): Record<string, unknown> {
  let json = blockJson.get(b);
  if (json === undefined) blockJson.set(b, (json = blockToJson(b.block, 'hashes')));
  return json;
}

export const chainMethods: Record<string, RpcMethod<PelNode>> = {
  chain_getInfo: method([], async (_, node) => {
    const genesis = await node.chain.getBlock(0n);
    const head = node.chain.head;
    const health = node.executorHealth();
    return {
      chainId: node.chain.genesis.chainId,
      height: Number(head.header.height),
      headHash: toHex(head.hash),
      stateRoot: toHex(head.header.stateRoot),
      genesisHash: genesis ? toHex(genesis.block.hash) : null,
      executor: node.executor.name,
      // The worker pool behind `executor` (null on the sequential executor) and whether blocks
      // run on it now: 'parallel', 'degraded' (a worker is being replaced), 'pool-lost', 'sequential'.
      executorStatus: health.status,
      workers: health.workers,
      consensus: node.config.consensus,
      validators: node.chain.genesis.validators.length,
      validator: node.validatorAddress,
      peerId: node.network?.peerId ?? null,
      peers: node.network?.peers().length ?? 0,
    };
  }),

  /**
   * [token?] -> supply audit over the whole committed state (O(state size): a devnet and
   * test tool). native: genesis supply = Σ coin balances + burned; token: total supply =
   * Σ balances + staked + locked in DAO votes.
   */
  chain_getSupply: method([optional('token', addressType)], ([tokenArg], node) => {
    const token = tokenArg ?? null;
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
  }),

  /**
   * WebSocket only. ["newBlocks"] pushes every committed block (header + tx hashes);
   * ["tx", hash] pushes the tx's status once it is committed or dropped, then nothing.
   */
  chain_subscribe: method(
    [param('kind', enumType(['newBlocks', 'tx'])), optional('txHash', hashType)],
    ([kind, hash], node, ctx) => {
      if (!ctx.subscribe) throw RpcError.of('NOT_AVAILABLE', 'subscriptions need a WebSocket connection (ws://host:port)');
      if (kind === 'newBlocks') {
        if (hash !== undefined) throw invalidParams('expected ["newBlocks"]: newBlocks takes no txHash');
        return ctx.subscribe((push) => node.onBlock((b) => push(newBlockJson(b))));
      }
      if (hash === undefined) throw invalidParams('expected ["tx", txHash], got no txHash');
      return ctx.subscribe((push) => {
        const ac = new AbortController();
        node.waitForTx(hash, 2 ** 31 - 1, ac.signal).then((r) => {
          if (!r) return;
          if (r.kind === 'committed') push({ hash: toHex(hash), status: 'committed', receipt: receiptToJson(hash, r.height, r.blockHash, r.index, r.receipt) });
          else push({ hash: toHex(hash), status: 'dropped', reason: r.reason });
        }, () => undefined);
        return () => ac.abort();
      });
    },
    { transport: 'ws' },
  ),

  /** WebSocket only. [subscriptionId] -> true if it was open on this connection (and is now closed). */
  chain_unsubscribe: method(
    [param('subscriptionId', subscriptionIdType)],
    ([id], _node, ctx) => {
      if (!ctx.unsubscribe) throw RpcError.of('NOT_AVAILABLE', 'subscriptions need a WebSocket connection (ws://host:port)');
      return ctx.unsubscribe(id);
    },
    { transport: 'ws' },
  ),
};
