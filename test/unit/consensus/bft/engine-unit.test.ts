/**
 * One engine against a CaptureNetwork: the test plays the other validators by signing their
 * messages, so each case controls exactly what the engine sees and checks what it sends.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makeBlock, type Block } from '../../../../protocol/block.js';
import { toHexRaw } from '../../../../protocol/hex.js';
import { generateKeyPair } from '../../../../protocol/keys.js';
import { BftEngine } from '../../../../consensus/bft/engine.js';
import {
  certificateFromPrecommits, decodeProposal, encodeProposal, encodeVote, signProposal, signVote, NIL_HASH, type Vote, type VoteType,
} from '../../../../consensus/bft/messages.js';
import { decodeSignState, emptySignState, encodeSignState, withVote } from '../../../../consensus/bft/sign-state.js';
import type { BftTimeouts } from '../../../../consensus/bft/types.js';
import { FakeApp, FakeDisk, importBlock, type FakeExecuted } from './fake-app.js';
import { CaptureNetwork, CHAIN_ID, LONG_TIMEOUTS, testLogger, validatorKeys, validatorSetOf, verifier, waitFor } from './harness.js';

const keys = validatorKeys(4);
const validators = validatorSetOf(keys);

interface Rig {
  engine: BftEngine<FakeExecuted>;
  net: CaptureNetwork;
  app: FakeApp;
  disk: FakeDisk;
  behind: { height: bigint; from: string }[];
  commits: number;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.engine.stop();
});

function rig(index: number, opts: { timeouts?: BftTimeouts; disk?: FakeDisk; now?: () => number } = {}): Rig {
  const disk = opts.disk ?? new FakeDisk(CHAIN_ID);
  const app = new FakeApp(CHAIN_ID, validators, disk, verifier);
  const net = new CaptureNetwork();
  const r = { net, app, disk, behind: [], commits: 0 } as unknown as Rig;
  r.engine = new BftEngine<FakeExecuted>({ timeouts: opts.timeouts ?? LONG_TIMEOUTS, key: index >= 0 ? keys[index]! : null }, {
    app, network: net, verifier, logger: testLogger(), now: opts.now,
    onBehind: (height, from) => r.behind.push({ height, from }),
    onCommit: () => r.commits++,
  });
  rigs.push(r);
  return r;
}

function vote(i: number, type: VoteType, height: bigint, round: number, blockHash: Uint8Array = NIL_HASH): Vote {
  return signVote({ type, chainId: CHAIN_ID, height, round, blockHash, validatorIndex: i }, keys[i]!.privateKey);
}

function proposalBytes(height: bigint, round: number, block: Block, polRound = -1): Uint8Array {
  const proposer = validators.proposer(height, round).index;
  return encodeProposal(signProposal({ chainId: CHAIN_ID, height, round, polRound, proposerIndex: proposer, block }, keys[proposer]!.privateKey));
}

/** A valid block for height 1 (the rig's app is still at genesis), distinct per `salt`. */
function blockAt1(app: FakeApp, salt: number): Block {
  return app.makeChild(BigInt(Date.now() - 1_000 + salt), keys[salt % 4]!.address);
}

const sent = (r: Rig, type: VoteType, height: bigint, round: number): Vote[] =>
  r.net.votes().filter((v) => v.type === type && v.height === height && v.round === round);

describe('BftEngine gossip verdicts', () => {
  it('rejects garbage, bad signatures, unknown validators, wrong chains and wrong proposers; ignores old, duplicate and conflicting votes', async () => {
    const r = rig(0);
    await r.engine.start();
    const deliver = (topic: 'vote' | 'proposal', data: Uint8Array): Promise<string> => r.net.deliver(topic, data);
    const good = vote(2, 'prevote', 1n, 0);

    expect(await deliver('vote', new Uint8Array([1, 2, 3]))).toBe('reject');
    expect(await deliver('proposal', new Uint8Array(400))).toBe('reject');
    expect(await deliver('vote', encodeVote({ ...good, round: 1 }))).toBe('reject');
    expect(await deliver('vote', encodeVote(signVote({ type: 'prevote', chainId: CHAIN_ID, height: 1n, round: 0, blockHash: NIL_HASH, validatorIndex: 4 }, generateKeyPair().privateKey)))).toBe('reject');
    expect(await deliver('vote', encodeVote(signVote({ type: 'prevote', chainId: CHAIN_ID + 1, height: 1n, round: 0, blockHash: NIL_HASH, validatorIndex: 2 }, keys[2]!.privateKey)))).toBe('reject');
    // Round 0 of height 1 is validator 1's; validator 2 signing it is not a proposal.
    const block = blockAt1(r.app, 1);
    expect(await deliver('proposal', encodeProposal(signProposal({ chainId: CHAIN_ID, height: 1n, round: 0, polRound: -1, proposerIndex: 2, block }, keys[2]!.privateKey)))).toBe('reject');
    expect(await deliver('proposal', encodeProposal(signProposal({ chainId: CHAIN_ID, height: 1n, round: 0, polRound: -1, proposerIndex: 1, block }, keys[2]!.privateKey)))).toBe('reject');

    expect(await deliver('vote', encodeVote(good))).toBe('accept');
    expect(await deliver('vote', encodeVote(good))).toBe('ignore');
    expect(await deliver('vote', encodeVote(vote(2, 'prevote', 1n, 0, block.hash)))).toBe('ignore');
    expect(r.engine.evidence).toHaveLength(1);
    expect(r.engine.evidence[0]).toMatchObject({ kind: 'duplicate-vote' });
    expect(await deliver('vote', encodeVote(vote(3, 'prevote', 0n, 0)))).toBe('ignore');
    expect(await deliver('proposal', proposalBytes(1n, 0, block))).toBe('accept');
    expect(await deliver('proposal', proposalBytes(1n, 0, blockAt1(r.app, 2)))).toBe('ignore');
    expect(r.engine.evidence.map((e) => e.kind)).toEqual(['duplicate-vote', 'duplicate-proposal']);

    // Only two rounds above ours per validator are tracked.
    expect(await deliver('vote', encodeVote(vote(3, 'prevote', 1n, 5)))).toBe('accept');
    expect(await deliver('vote', encodeVote(vote(3, 'precommit', 1n, 6)))).toBe('accept');
    expect(await deliver('vote', encodeVote(vote(3, 'prevote', 1n, 7)))).toBe('ignore');
    expect(await deliver('vote', encodeVote(vote(3, 'precommit', 1n, 5)))).toBe('accept');
  });

  it('buffers the next height, ignores later ones and reports them through onBehind', async () => {
    const r = rig(0);
    await r.engine.start();
    expect(await r.net.deliver('vote', encodeVote(vote(2, 'prevote', 2n, 0)), 'p2'), 'next height').toBe('accept');
    expect(await r.net.deliver('vote', encodeVote(vote(2, 'prevote', 7n, 0)), 'p7')).toBe('ignore');
    expect(await r.net.deliver('vote', encodeVote({ ...vote(2, 'prevote', 9n, 0), round: 1 }), 'p9')).toBe('reject');
    expect(r.behind).toEqual([{ height: 7n, from: 'p7' }]);
    expect(r.engine.status()).toMatchObject({ height: 1n, round: 0 });
  });
});

describe('BftEngine rules', () => {
  it('skips to round 3 on f+1 round-3 messages, not on f', async () => {
    const r = rig(1);
    await r.engine.start();
    await r.net.deliver('vote', encodeVote(vote(2, 'prevote', 1n, 3)));
    await new Promise((res) => setTimeout(res, 50));
    expect(r.engine.status().round).toBe(0);
    await r.net.deliver('vote', encodeVote(vote(3, 'precommit', 1n, 3)));
    await waitFor(() => r.engine.status().round === 3, 5_000, 'round 3');
    expect(r.engine.status()).toMatchObject({ height: 1n, round: 3, step: 'propose' });
  });

  it('prevotes a valid proposal, locks and precommits on a polka, and commits on 2f+1 precommits', async () => {
    const r = rig(0);
    await r.engine.start();
    const block = blockAt1(r.app, 1);
    await r.net.deliver('proposal', proposalBytes(1n, 0, block));
    await waitFor(() => sent(r, 'prevote', 1n, 0).length === 1, 5_000, 'prevote');
    expect(toHexRaw(sent(r, 'prevote', 1n, 0)[0]!.blockHash)).toBe(toHexRaw(block.hash));
    for (const i of [1, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 1n, 0, block.hash)));
    await waitFor(() => sent(r, 'precommit', 1n, 0).length === 1, 5_000, 'precommit');
    expect(toHexRaw(sent(r, 'precommit', 1n, 0)[0]!.blockHash)).toBe(toHexRaw(block.hash));
    expect(r.engine.status()).toMatchObject({ lockedRound: 0, validRound: 0 });
    // The lock reached the disk before the precommit was sent.
    expect(decodeSignState(r.disk.signState!)).toMatchObject({ height: 1n, lockedRound: 0, step: 'precommit' });
    for (const i of [1, 3]) await r.net.deliver('vote', encodeVote(vote(i, 'precommit', 1n, 0, block.hash)));
    await waitFor(() => r.app.head().height === 1n, 5_000, 'commit');
    expect(r.engine.lastCertificate!.signatures.map((s) => s.validatorIndex)).toEqual([0, 1, 3]);
    expect(r.engine.status().height).toBe(2n);
    expect(r.app.executions.get(toHexRaw(block.hash))).toBe(1);
  });

  it('stays locked against a fresh proposal and unlocks only on a proof-of-lock from a later round (line 28)', async () => {
    const r = rig(0);
    await r.engine.start();
    const X = blockAt1(r.app, 1);
    const Y = blockAt1(r.app, 2);
    await r.net.deliver('proposal', proposalBytes(1n, 0, X));
    for (const i of [1, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 1n, 0, X.hash)));
    await waitFor(() => r.engine.status().lockedRound === 0, 5_000, 'lock on X');

    // Round 1 (proposer 2): a fresh Y. Locked on X: nil.
    for (const i of [1, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'precommit', 1n, 1)));
    await waitFor(() => r.engine.status().round === 1, 5_000, 'round 1');
    await r.net.deliver('proposal', proposalBytes(1n, 1, Y));
    await waitFor(() => sent(r, 'prevote', 1n, 1).length === 1, 5_000, 'prevote in round 1');
    expect(sent(r, 'prevote', 1n, 1)[0]!.blockHash).toEqual(NIL_HASH);

    // Round 2 (proposer 3) re-proposes Y with polRound 1: it waits for the 2f+1 round-1 prevotes for Y.
    for (const i of [1, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'precommit', 1n, 2)));
    await waitFor(() => r.engine.status().round === 2, 5_000, 'round 2');
    await r.net.deliver('proposal', proposalBytes(1n, 2, Y, 1));
    for (const i of [1, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 1n, 1, Y.hash)));
    await new Promise((res) => setTimeout(res, 30));
    expect(sent(r, 'prevote', 1n, 2)).toHaveLength(0);
    await r.net.deliver('vote', encodeVote(vote(3, 'prevote', 1n, 1, Y.hash)));
    await waitFor(() => sent(r, 'prevote', 1n, 2).length === 1, 5_000, 'prevote in round 2');
    expect(sent(r, 'prevote', 1n, 2)[0]!.blockHash).toEqual(Y.hash);
    expect(r.app.executions.get(toHexRaw(Y.hash))).toBe(1);
  });

  it('prevotes nil for an invalid block and for a block more than 30 s in the future', async () => {
    const r = rig(0, { now: () => 1_000_000 });
    await r.engine.start();
    const bad = makeBlock({ ...r.app.makeChild(999_000n, keys[1]!.address).header, stateRoot: new Uint8Array(32).fill(1) }, []);
    await r.net.deliver('proposal', proposalBytes(1n, 0, bad));
    await waitFor(() => sent(r, 'prevote', 1n, 0).length === 1, 5_000, 'prevote');
    expect(sent(r, 'prevote', 1n, 0)[0]!.blockHash).toEqual(NIL_HASH);

    // Round 1 (proposer 2): a block 31 s ahead of the engine's clock.
    for (const i of [1, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 1n, 1)));
    await waitFor(() => r.engine.status().round === 1, 5_000, 'round 1');
    const future = r.app.makeChild(1_031_001n, keys[2]!.address);
    await r.net.deliver('proposal', proposalBytes(1n, 1, future));
    await waitFor(() => sent(r, 'prevote', 1n, 1).length === 1, 5_000, 'prevote in round 1');
    expect(sent(r, 'prevote', 1n, 1)[0]!.blockHash).toEqual(NIL_HASH);

    // Round 2 (proposer 3): 29 s ahead is fine.
    for (const i of [1, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 1n, 2)));
    await waitFor(() => r.engine.status().round === 2, 5_000, 'round 2');
    const soon = r.app.makeChild(1_029_000n, keys[3]!.address);
    await r.net.deliver('proposal', proposalBytes(1n, 2, soon));
    await waitFor(() => sent(r, 'prevote', 1n, 2).length === 1, 5_000, 'prevote in round 2');
    expect(sent(r, 'prevote', 1n, 2)[0]!.blockHash).toEqual(soon.hash);
  });

  it('the proposer builds on the head with max(now, parent timestamp) and re-proposes its valid value with its round', async () => {
    // Validator 1 proposes round 0 of height 1; validator 0 proposes round 3 (and would re-propose).
    const r = rig(1, { now: () => 5_000 });
    await r.engine.start();
    await waitFor(() => r.net.published.some((m) => m.topic === 'proposal'), 5_000, 'a proposal');
    const p0 = decodeProposal(r.net.published.find((m) => m.topic === 'proposal')!.data);
    expect(p0).toMatchObject({ height: 1n, round: 0, polRound: -1, proposerIndex: 1 });
    expect(p0.block.header.timestamp).toBe(5_000n);
    // A polka in round 0 makes it the valid value; at validator 1's next turn (round 4) it is proposed again with polRound 0.
    for (const i of [0, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 1n, 0, p0.block.hash)));
    await waitFor(() => r.engine.status().validRound === 0, 5_000, 'valid value');
    for (const i of [0, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 1n, 4)));
    await waitFor(() => r.net.published.filter((m) => m.topic === 'proposal').length === 2, 5_000, 'the re-proposal');
    const p4 = decodeProposal(r.net.published.filter((m) => m.topic === 'proposal')[1]!.data);
    expect(p4).toMatchObject({ round: 4, polRound: 0 });
    expect(p4.block.hash).toEqual(p0.block.hash);
  });
});

describe('BftEngine restart and sync', () => {
  it('re-sends the vote it signed before a restart instead of signing a conflicting one', async () => {
    const disk = new FakeDisk(CHAIN_ID);
    const app = new FakeApp(CHAIN_ID, validators, disk, verifier);
    const X = blockAt1(app, 1);
    const Y = blockAt1(app, 3);
    // Before the "crash" validator 2 prevoted X in round 0 of height 1.
    const before = vote(2, 'prevote', 1n, 0, X.hash);
    disk.signState = encodeSignState(withVote(emptySignState(1n), { height: 1n, round: 0, step: 'prevote', lockedRound: -1, lockedBlockHash: null }, before));

    const r = rig(2, { disk });
    await r.engine.start();
    await r.net.deliver('proposal', proposalBytes(1n, 0, Y));
    await waitFor(() => sent(r, 'prevote', 1n, 0).length > 0, 5_000, 'prevote');
    await new Promise((res) => setTimeout(res, 30));
    const prevotes = sent(r, 'prevote', 1n, 0);
    expect(prevotes).toHaveLength(1);
    expect(prevotes[0]!.blockHash).toEqual(X.hash);
    expect(prevotes[0]!.signature).toEqual(before.signature);
  });

  it('a validator restarted while locked on a block it no longer has prevotes nil until that block is proposed again', async () => {
    const disk = new FakeDisk(CHAIN_ID);
    const app = new FakeApp(CHAIN_ID, validators, disk, verifier);
    const X = blockAt1(app, 1);
    // Locked on X in round 0, crashed in round 1 (validator 2 proposes round 1 of height 1).
    const locked = { height: 1n, round: 1, step: 'precommit' as const, lockedRound: 0, lockedBlockHash: X.hash };
    disk.signState = encodeSignState(withVote(emptySignState(1n), { ...locked, round: 0 }, vote(2, 'precommit', 1n, 0, X.hash)));
    disk.signState = encodeSignState({ ...decodeSignState(disk.signState), round: 1 });

    const r = rig(2, { disk });
    await r.engine.start();
    expect(r.engine.status()).toMatchObject({ height: 1n, round: 1, lockedRound: 0, lockedBlockHash: X.hash });
    // It proposes a fresh block in round 1 (it no longer has X) but, locked on X, prevotes nil on it.
    await waitFor(() => sent(r, 'prevote', 1n, 1).length === 1, 5_000, 'prevote in round 1');
    const own = decodeProposal(r.net.published.find((m) => m.topic === 'proposal')!.data);
    expect(own.block.hash).not.toEqual(X.hash);
    expect(sent(r, 'prevote', 1n, 1)[0]!.blockHash).toEqual(NIL_HASH);

    for (const i of [0, 1]) await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 1n, 2)));
    await waitFor(() => r.engine.status().round === 2, 5_000, 'round 2');
    await r.net.deliver('proposal', proposalBytes(1n, 2, X));
    await waitFor(() => sent(r, 'prevote', 1n, 2).length === 1, 5_000, 'prevote in round 2');
    expect(sent(r, 'prevote', 1n, 2)[0]!.blockHash).toEqual(X.hash);
  });

  it('follows the head when sync commits behind its back, applying the messages buffered for the new height', async () => {
    const r = rig(0, { timeouts: { ...LONG_TIMEOUTS, proposeMs: 200, maxMs: 200 } });
    await r.engine.start();
    // Height 1 is decided elsewhere; the engine sees round-2 votes of height 2 first.
    const other = new FakeApp(CHAIN_ID, validators, new FakeDisk(CHAIN_ID), verifier);
    const b1 = blockAt1(other, 1);
    const cert1 = certificateFromPrecommits([1, 2, 3].map((i) => vote(i, 'precommit', 1n, 0, b1.hash)));
    for (const i of [2, 3]) expect(await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 2n, 2)))).toBe('accept');
    expect(r.engine.status().height).toBe(1n);

    await importBlock(r.app, b1, cert1);
    r.engine.onHeadChanged();
    await waitFor(() => r.engine.status().height === 2n && r.engine.status().round === 2, 5_000, 'height 2 round 2');

    // Without a notification, the next step notices the head moved.
    await importBlock(other, b1, cert1);
    const b2 = other.makeChild(BigInt(Date.now()), keys[1]!.address);
    await importBlock(r.app, b2, certificateFromPrecommits([0, 1, 3].map((i) => vote(i, 'precommit', 2n, 0, b2.hash))));
    await waitFor(() => r.engine.status().height === 3n, 5_000, 'height 3');
    expect(r.engine.status().round).toBe(0);
    expect(r.commits).toBe(0);
  });

  it('a follower commits from the precommits it observes and never sends anything', async () => {
    const r = rig(-1);
    await r.engine.start();
    const block = blockAt1(r.app, 1);
    await r.net.deliver('proposal', proposalBytes(1n, 0, block));
    for (const i of [0, 2, 3]) await r.net.deliver('vote', encodeVote(vote(i, 'precommit', 1n, 0, block.hash)));
    await waitFor(() => r.app.head().height === 1n, 5_000, 'commit');
    expect(r.net.published).toHaveLength(0);
    expect(r.disk.signState).toBeUndefined();
  });
});
