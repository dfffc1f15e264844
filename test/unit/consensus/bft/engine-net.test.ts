import { afterEach, describe, expect, it } from 'vitest';
import { makeBlock } from '../../../../protocol/block.js';
import { bytesEqual } from '../../../../protocol/hex.js';
import { generateKeyPair } from '../../../../protocol/keys.js';
import { encodeProposal, encodeVote, signProposal, signVote, verifyCertificate, NIL_HASH } from '../../../../consensus/bft/messages.js';
import { CHAIN_ID, TestNet, verifier } from './harness.js';

let net: TestNet | null = null;
afterEach(async () => {
  await net?.stop();
  net = null;
});

describe('BftEngine on a simulated network (virtual time)', () => {
  it('4 validators and a follower commit 12 heights with the same blocks and certificates that verify', async () => {
    net = new TestNet({ validators: 4, followers: 1 });
    await net.start();
    await net.waitHeads(12n);
    await net.stop();

    net.assertConsistent();
    net.assertCertificates();
    net.assertNoEquivocation();
    const chains = net.nodes.map((n) => n.app.chain);
    for (let h = 0; h <= 12; h++) {
      for (const c of chains) expect(bytesEqual(c[h]!.hash, chains[0]![h]!.hash)).toBe(true);
      if (h > 0) expect(chains[0]![h]!.header.timestamp).toBeGreaterThanOrEqual(chains[0]![h - 1]!.header.timestamp);
    }
    for (const n of net.nodes) {
      // A block proposed again in a later round (or seen again at commit) is executed once.
      for (const count of n.app.executions.values()) expect(count).toBe(1);
      const cert = n.engine.lastCertificate;
      if (cert) {
        const block = n.app.chain[Number(cert.height)]!;
        expect(verifyCertificate(cert, net.validators, verifier, CHAIN_ID, cert.height, block.hash)).toEqual({ ok: true });
      }
    }
    // The follower committed from the certificates it observed, not through sync alone.
    expect(net.nodes[4]!.commits).toBeGreaterThan(0);
    expect(net.nodes[4]!.engine.status().lockedRound).toBe(-1);
  });

  it('garbage, forged, non-validator and wrong-chain messages are rejected and the chain keeps going', async () => {
    net = new TestNet({ validators: 4 });
    const attacker = net.hub.create('attacker');
    await attacker.start();
    await net.start();
    await net.waitHeads(2n);

    const outsider = generateKeyPair();
    // Far ahead, so that every check runs whatever height the nodes are at when it arrives.
    const h = 1_000_000n;
    const good = signVote({ type: 'prevote', chainId: CHAIN_ID, height: h, round: 0, blockHash: NIL_HASH, validatorIndex: 1 }, net.keys[1]!.privateKey);
    const badSig = encodeVote({ ...good, round: 5, signature: good.signature });
    const wrongChain = encodeVote(signVote({ type: 'prevote', chainId: CHAIN_ID + 1, height: h, round: 0, blockHash: NIL_HASH, validatorIndex: 2 }, net.keys[2]!.privateKey));
    const nonValidator = encodeVote(signVote({ type: 'precommit', chainId: CHAIN_ID, height: h, round: 0, blockHash: NIL_HASH, validatorIndex: 9 }, outsider.privateKey));
    const outsiderAsValidator = encodeVote(signVote({ type: 'precommit', chainId: CHAIN_ID, height: h, round: 1, blockHash: NIL_HASH, validatorIndex: 3 }, outsider.privateKey));
    const block = makeBlock({ ...net.nodes[0]!.app.chain[0]!.header, height: h }, []);
    const forgedProposal = encodeProposal(signProposal({ chainId: CHAIN_ID, height: h, round: 2, polRound: -1, proposerIndex: net.validators.proposer(h, 2).index, block }, outsider.privateKey));
    const messages: ['vote' | 'proposal', Uint8Array][] = [
      ['vote', new Uint8Array([1, 2, 3])],
      ['proposal', new Uint8Array(300).fill(7)],
      ['vote', badSig],
      ['vote', wrongChain],
      ['vote', nonValidator],
      ['vote', outsiderAsValidator],
      ['proposal', forgedProposal],
    ];
    for (const [topic, data] of messages) await attacker.publish(topic, data);

    // By the next idle point every node has rejected every attack message.
    await net.idle();
    for (const n of net.nodes) expect(n.network.penalties.filter((p) => p.peerId === 'attacker'), n.id).toHaveLength(messages.length);
    const before = net.head(0);
    await net.waitHeads(before + 4n);
    net.assertConsistent();
    net.assertNoEquivocation();
    // Nothing the attacker sent was relayed: no node penalised another validator.
    for (const n of net.nodes) expect(n.network.penalties.every((p) => p.peerId === 'attacker')).toBe(true);
  });
});
