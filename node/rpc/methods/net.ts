/** net_* and consensus_*: the node's peers and the state of its consensus. */
import { formatAddress } from '../../../protocol/address.js';
import { toHex } from '../../../protocol/hex.js';
import type { PelNode } from '../../node.js';
import { methodsOf, type RpcMethod } from '../params.js';

const method = methodsOf<PelNode>();

export const netMethods: Record<string, RpcMethod<PelNode>> = {
  /** [] -> [{peerId, addresses, score}]: connected peers (empty on the single-node devnet). */
  net_peers: method([], (_, node) => (node.network?.peers() ?? []).map((p) => ({ peerId: p.peerId, addresses: p.addresses, score: p.score }))),

  /** [] -> this node's view of consensus: mode, height and round in progress, step, locks, validator set, last commit, sync. */
  consensus_status: method([], (_, node) => {
    const validators = node.chain.genesis.validators.map((v, index) => ({ index, address: formatAddress(v.address), publicKey: toHex(v.publicKey) }));
    const self = node.validatorAddress;
    const engine = node.consensus;
    if (!engine) {
      return {
        mode: 'solo', height: Number(node.chain.height + 1n), round: 0, step: 'propose', lockedRound: -1, lockedBlockHash: null, validRound: -1,
        proposer: validators[0]?.address ?? null, validators, self, lastCommit: null, peerId: null, sync: null,
      };
    }
    const s = engine.status();
    return {
      mode: 'bft',
      height: Number(s.height),
      round: s.round,
      step: s.step,
      lockedRound: s.lockedRound,
      lockedBlockHash: s.lockedBlockHash ? toHex(s.lockedBlockHash) : null,
      validRound: s.validRound,
      proposer: formatAddress(s.proposer),
      validators,
      self,
      lastCommit: s.lastCommit ? { height: Number(s.lastCommit.height), round: s.lastCommit.round, blockHash: toHex(s.lastCommit.blockHash), signers: s.lastCommit.signers } : null,
      peerId: node.network?.peerId ?? null,
      sync: node.sync ? node.syncStatusJson() : null,
    };
  }),
};
