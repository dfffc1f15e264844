/**
 * A 4-validator TestNet on virtual time under crash faults (isolation, restarts) and one
 * byzantine proposer. Waits are for events (heights reached, a step entered) bounded in virtual
 * ms; "nothing was decided" is asserted after an idle point and a stretch of virtual time in
 * which several rounds time out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makeBlock } from '../../../../protocol/block.js';
import type { GossipHandler, GossipTopic, Network } from '../../../../p2p/types.js';
import { decodeProposal, decodeVote, encodeProposal, signProposal } from '../../../../consensus/bft/messages.js';
import { decodeSignState } from '../../../../consensus/bft/sign-state.js';
import { TestNet, type TestNode } from './harness.js';
import type { SimNetwork } from './sim-network.js';

let net: TestNet | null = null;
afterEach(async () => {
  await net?.stop();
  net = null;
});

describe('BftEngine under faults', () => {
  it('one isolated validator: the other three keep committing; after heal it catches up and votes again', async () => {
    net = new TestNet({ validators: 4 });
    await net.start();
    await net.waitHeads(2n);
    net.isolate(3);
    const cut = net.head(0);
    await net.waitHeads(cut + 5n, [0, 1, 2]);
    expect(net.head(3)).toBeLessThanOrEqual(cut + 1n);

    net.heal(3);
    const healed = net.heads([0, 1, 2]).reduce((a, b) => (a > b ? a : b));
    await net.waitHeads(healed + 4n);
    expect(net.votedHeights(3).some((h) => h > healed), 'v3 votes again after the heal').toBe(true);
    net.assertConsistent();
    net.assertNoEquivocation();
    net.assertCertificates();
  });

  it('two isolated validators: nobody commits while cut, no conflicting commits, progress resumes after heal', async () => {
    net = new TestNet({ validators: 4 });
    await net.start();
    await net.waitHeads(2n);
    net.isolate(2, 3);
    await net.idle(); // a commit already in flight lands
    const top = net.maxHead();
    const rounds = (): number[] => net!.nodes.map((n) => n.engine.status().round);
    // 60 virtual seconds: at these timeouts every node goes through several rounds of the height...
    await net.advance(60_000);
    expect(Math.min(...rounds()), net.describe()).toBeGreaterThanOrEqual(3);
    // ...and no new height was decided anywhere (v0 and v1 may still sync what one of them had).
    expect(net.maxHead()).toBe(top);
    net.assertConsistent();

    net.heal(2, 3);
    await net.waitHeads(top + 3n);
    net.assertConsistent();
    net.assertNoEquivocation();
    net.assertCertificates();
  });

  it('an equivocating proposer (two blocks for one round) never causes two different commits', async () => {
    // Validator 0 is honest except that each of its proposals goes out twice: the real one to
    // v1 and v2, a different block for the same round to v3; relays mix them further.
    const variants = new Set<string>();
    const wrapNetwork = (node: TestNode, network: SimNetwork): Network => {
      if (node.index !== 0) return network;
      return {
        get peerId() { return network.peerId; },
        get listenAddresses() { return network.listenAddresses; },
        start: () => network.start(),
        stop: () => network.stop(),
        onGossip: (t: GossipTopic, h: GossipHandler) => network.onGossip(t, h),
        onSyncRequest: (h) => network.onSyncRequest(h),
        requestSync: (p, r) => network.requestSync(p, r),
        peers: () => network.peers(),
        penalize: (p, r) => network.penalize(p, r),
        publish: async (topic, data) => {
          if (topic !== 'proposal') return network.publish(topic, data);
          const p = decodeProposal(data);
          const block = makeBlock({ ...p.block.header, timestamp: p.block.header.timestamp + 1n, stateRoot: node.app.makeChild(p.block.header.timestamp + 1n, p.block.header.proposer).header.stateRoot }, []);
          const twin = encodeProposal(signProposal({ ...p, block }, node.key!.privateKey));
          variants.add(Buffer.from(twin).toString('hex'));
          await network.publish(topic, data);
          await network.publish(topic, twin);
        },
      };
    };
    net = new TestNet({ validators: 4, wrapNetwork, byzantine: [0] });
    const isTwin = (data: Uint8Array): boolean => variants.has(Buffer.from(data).toString('hex'));
    net.drop = (from, to, topic, data) => topic !== 'proposal' || from !== 'v0' || (to === 'v3') === isTwin(data);
    await net.start();
    await net.waitHeads(10n);
    net.assertConsistent();
    net.assertNoEquivocation();
    net.assertCertificates();
    expect(variants.size).toBeGreaterThan(0);
    // Someone saw both proposals of a round and kept the first.
    expect(net.nodes.some((n) => n.engine.evidence.some((e) => e.kind === 'duplicate-proposal'))).toBe(true);
  });

  it('validators restarted mid-round resume from their sign state, never sign a conflicting vote, and rejoin', async () => {
    net = new TestNet({ validators: 4 });
    await net.start();
    await net.waitHeads(2n);
    let resumed = 0;
    for (let k = 0; k < 6; k++) {
      const i = k % 4;
      const node = net.nodes[i]!;
      // Catch the node just after it signed something in the current height.
      await net.until(() => {
        const s = node.engine.status();
        return s.step === 'prevote' || s.step === 'precommit';
      }, `v${i} to vote`);
      const signedAt = node.engine.status().height;
      // Every other restart stays down for a propose timeout.
      await net.restart(i, k % 2 === 0 ? 0 : net.timeouts.proposeMs);
      const state = decodeSignState(node.disk.signState!);
      if (state.height === signedAt && node.app.head().height + 1n === signedAt) resumed++;
      await net.waitHeads(net.head((i + 1) % 4) + 2n);
    }
    const top = net.maxHead();
    await net.waitHeads(top + 3n);
    net.assertConsistent();
    net.assertNoEquivocation();
    net.assertCertificates();
    expect(resumed).toBeGreaterThan(0);
    expect(net.observedSlots).toBeGreaterThan(0);
  });
  it('a validator that decided alone and was cut off right after: the rest, locked on its block, never decide another (line 22), and sync it after the heal', async () => {
    // Height 1, round 0 (v1 proposes B): v3 gets none of the prevotes, so it never sees the
    // polka; only v0 gets the precommits, so only v0 decides; v0 is cut off as it commits, so
    // neither its next height nor sync tells the others. v3's fresh proposal in round 2 must
    // then get nil from v1 and v2, which are locked on B: prevoting it would let v1-v3 decide
    // another block at height 1.
    let cut = false;
    net = new TestNet({
      validators: 4,
      onCommit: (node) => {
        if (node.index === 0 && !cut) {
          cut = true;
          net!.isolate(0);
        }
      },
    });
    net.drop = (_from, to, topic, data) => {
      if (topic !== 'vote') return true;
      const v = decodeVote(data);
      if (v.height !== 1n || v.round !== 0) return true;
      return v.type === 'prevote' ? to !== 'v3' : to === 'v0';
    };
    await net.start();
    await net.idle();
    expect(net.heads()).toEqual([1n, 0n, 0n, 0n]);
    expect(net.nodes.slice(1).map((n) => n.engine.status().lockedRound)).toEqual([0, 0, -1]);
    net.drop = null;
    // A minute of rounds among v1-v3, v3 proposing a fresh block every fourth one.
    await net.advance(60_000);
    net.assertConsistent();
    expect(net.heads()).toEqual([1n, 0n, 0n, 0n]);
    expect(Math.min(...net.nodes.slice(1).map((n) => n.engine.status().round)), net.describe()).toBeGreaterThanOrEqual(3);

    net.heal(0);
    await net.waitHeads(3n);
    net.assertConsistent();
    net.assertNoEquivocation();
    net.assertCertificates();
  });
});

describe('BftEngine liveness gap (known, pinned)', () => {
  // Two validators lock on B in round 0; the other two never see that round's prevotes, and
  // nothing re-sends old votes. From then on v0 and v2 prevote only B (locked), v1 and v3
  // cannot take B's re-proposal without the round-0 polka (line 28) and prevote nil, and a fresh
  // block gets only their two prevotes: no round reaches 2f+1, although the network is whole
  // again after round 0. CometBFT avoids this by gossiping proof-of-lock prevotes to peers that
  // lack them; pel has no vote re-gossip (consensus/bft/README.md). This test pins today's
  // behaviour; once the gap is closed it fails, and should become 'height 1 is decided'.
  it('round-0 prevotes lost to the two validators that did not lock stall the height for good', async () => {
    net = new TestNet({ validators: 4 });
    const lost = new Set(['v1', 'v3']);
    net.drop = (_from, to, topic, data) => {
      if (topic !== 'vote' || !lost.has(to)) return true;
      const v = decodeVote(data);
      return !(v.height === 1n && v.round === 0 && v.type === 'prevote');
    };
    await net.start();
    await net.idle();
    expect(net.nodes.map((n) => n.engine.status().lockedRound)).toEqual([0, -1, 0, -1]);
    // Two virtual minutes: a dozen rounds, timeouts grown to their cap.
    await net.advance(120_000);
    expect(net.maxHead(), net.describe()).toBe(0n);
    expect(Math.min(...net.nodes.map((n) => n.engine.status().round)), net.describe()).toBeGreaterThanOrEqual(10);
    expect(net.nodes.map((n) => n.engine.status().lockedRound)).toEqual([0, -1, 0, -1]);
    net.assertNoEquivocation();
  });
});
