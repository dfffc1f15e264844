/**
 * One engine against a CaptureNetwork on a VirtualClock: the test plays the other validators
 * by signing their messages, so each case controls exactly what the engine sees and checks
 * what it sends. After each delivery the test runs the clock to its idle point (nothing due at
 * the current virtual time, every promise chain waiting): what the engine does in response has
 * happened by then, and what it has not done it will not do until time moves.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { makeBlock, type Block } from '../../../../protocol/block.js';
import { toHexRaw } from '../../../../protocol/hex.js';
import { generateKeyPair } from '../../../../protocol/keys.js';
import { VirtualClock } from '../../../../consensus/bft/clock.js';
import { BftEngine } from '../../../../consensus/bft/engine.js';
import {
  certificateFromPrecommits, decodeProposal, encodeProposal, encodeVote, signProposal, signVote, NIL_HASH, type Vote, type VoteType,
} from '../../../../consensus/bft/messages.js';
import { decodeSignState, emptySignState, encodeSignState, withVote } from '../../../../consensus/bft/sign-state.js';
import type { BftTimeouts } from '../../../../consensus/bft/types.js';
import { FakeApp, FakeDisk, importBlock, type FakeExecuted } from './fake-app.js';
import { CaptureNetwork, CHAIN_ID, LONG_TIMEOUTS, runUntilSettled, testLogger, validatorKeys, validatorSetOf, verifier } from './harness.js';

const keys = validatorKeys(4);
const validators = validatorSetOf(keys);
/** Where each rig's virtual clock starts unless a test says otherwise. */
const T0 = 1_700_000_000_000;

interface Rig {
  engine: BftEngine<FakeExecuted>;
  net: CaptureNetwork;
  app: FakeApp;
  disk: FakeDisk;
  clock: VirtualClock;
  behind: { height: bigint; from: string }[];
  commits: number;
  /** Runs the engine to its idle point at the current virtual time. */
  idle(): Promise<void>;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await runUntilSettled(r.clock, r.engine.stop(), 'the engine to stop');
});

function rig(index: number, opts: { timeouts?: BftTimeouts; disk?: FakeDisk; clock?: VirtualClock } = {}): Rig {
  const disk = opts.disk ?? new FakeDisk(CHAIN_ID);
  const clock = opts.clock ?? new VirtualClock({ start: T0 });
  const app = fakeApp(disk, clock);
  const net = new CaptureNetwork();
  const r = { net, app, disk, clock, behind: [], commits: 0, idle: () => clock.runUntilIdle() } as unknown as Rig;
  r.engine = new BftEngine<FakeExecuted>({ timeouts: opts.timeouts ?? LONG_TIMEOUTS, key: index >= 0 ? keys[index]! : null }, {
    app, network: net, verifier, logger: testLogger(), clock,
    onBehind: (height, from) => r.behind.push({ height, from }),
    onCommit: () => r.commits++,
  });
  rigs.push(r);
  return r;
}

function fakeApp(disk: FakeDisk, clock: VirtualClock): FakeApp {
  return new FakeApp({ chainId: CHAIN_ID, validators, disk, verifier, clock });
}

function vote(i: number, type: VoteType, height: bigint, round: number, blockHash: Uint8Array = NIL_HASH): Vote {
  return signVote({ type, chainId: CHAIN_ID, height, round, blockHash, validatorIndex: i }, keys[i]!.privateKey);
}

function proposalBytes(height: bigint, round: number, block: Block, polRound = -1): Uint8Array {
  const proposer = validators.proposer(height, round).index;
  return encodeProposal(signProposal({ chainId: CHAIN_ID, height, round, polRound, proposerIndex: proposer, block }, keys[proposer]!.privateKey));
}

/** A valid block for height 1 (the rig's app is still at genesis), distinct per `salt`, a second before T0. */
function blockAt1(app: FakeApp, salt: number): Block {
  return app.makeChild(BigInt(T0 - 1_000 + salt), keys[salt % 4]!.address);
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
    await r.idle();
    expect(r.behind).toEqual([{ height: 7n, from: 'p7' }]);
    expect(r.engine.status()).toMatchObject({ height: 1n, round: 0 });
    // The next height is normal while a commit is in flight: reported only if we are still below it one propose timeout later.
    await r.clock.advance(LONG_TIMEOUTS.proposeMs - 1);
    expect(r.behind).toHaveLength(1);
    await r.clock.advance(1);
    expect(r.behind).toEqual([{ height: 7n, from: 'p7' }, { height: 2n, from: 'p2' }]);
  });
});

describe('BftEngine rules', () => {
  it('skips to round 3 on f+1 round-3 messages, not on f', async () => {
    const r = rig(1);
    await r.engine.start();
    await r.net.deliver('vote', encodeVote(vote(2, 'prevote', 1n, 3)));
    await r.idle();
    expect(r.engine.status().round).toBe(0);
    await r.net.deliver('vote', encodeVote(vote(3, 'precommit', 1n, 3)));
    await r.idle();
    expect(r.engine.status()).toMatchObject({ height: 1n, round: 3, step: 'propose' });
  });

  it('prevotes a valid proposal, locks and precommits on a polka, and commits on 2f+1 precommits', async () => {
    const r = rig(0);
    await r.engine.start();
    const block = blockAt1(r.app, 1);
    await r.net.deliver('proposal', proposalBytes(1n, 0, block));
    await r.idle();
    expect(sent(r, 'prevote', 1n, 0).map((v) => toHexRaw(v.blockHash))).toEqual([toHexRaw(block.hash)]);
    // Its own prevote and one more are 2 of 4: no polka yet.
    await r.net.deliver('vote', encodeVote(vote(1, 'prevote', 1n, 0, block.hash)));
    await r.idle();
    expect(sent(r, 'precommit', 1n, 0)).toHaveLength(0);
    await r.net.deliver('vote', encodeVote(vote(2, 'prevote', 1n, 0, block.hash)));
    await r.idle();
    expect(sent(r, 'precommit', 1n, 0).map((v) => toHexRaw(v.blockHash))).toEqual([toHexRaw(block.hash)]);
    expect(r.engine.status()).toMatchObject({ lockedRound: 0, validRound: 0 });
    // The lock reached the disk before the precommit was sent.
    expect(decodeSignState(r.disk.signState!)).toMatchObject({ height: 1n, lockedRound: 0, step: 'precommit' });
    // Two precommits (its own and v1's) do not decide.
    await r.net.deliver('vote', encodeVote(vote(1, 'precommit', 1n, 0, block.hash)));
    await r.idle();
    expect(r.app.head().height).toBe(0n);
    await r.net.deliver('vote', encodeVote(vote(3, 'precommit', 1n, 0, block.hash)));
    await r.idle();
    expect(r.app.head().height).toBe(1n);
    expect(r.engine.lastCertificate!.signatures.map((s) => s.validatorIndex)).toEqual([0, 1, 3]);
    expect(r.engine.status().height).toBe(2n);
    expect(r.app.executions.get(toHexRaw(block.hash))).toBe(1);
    expect(r.commits).toBe(1);
  });

  it('stays locked against a fresh proposal and unlocks only on a proof-of-lock from a later round (line 28)', async () => {
    const r = rig(0);
    await r.engine.start();
    const X = blockAt1(r.app, 1);
    const Y = blockAt1(r.app, 2);
    await r.net.deliver('proposal', proposalBytes(1n, 0, X));
    for (const i of [1, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 1n, 0, X.hash)));
    await r.idle();
    expect(r.engine.status().lockedRound).toBe(0);

    // Round 1 (proposer 2): a fresh Y. Locked on X: nil.
    for (const i of [1, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'precommit', 1n, 1)));
    await r.idle();
    expect(r.engine.status().round).toBe(1);
    await r.net.deliver('proposal', proposalBytes(1n, 1, Y));
    await r.idle();
    expect(sent(r, 'prevote', 1n, 1).map((v) => v.blockHash)).toEqual([NIL_HASH]);

    // Round 2 (proposer 3) re-proposes Y with polRound 1: it waits for the 2f+1 round-1 prevotes for Y.
    for (const i of [1, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'precommit', 1n, 2)));
    await r.idle();
    expect(r.engine.status().round).toBe(2);
    await r.net.deliver('proposal', proposalBytes(1n, 2, Y, 1));
    for (const i of [1, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 1n, 1, Y.hash)));
    await r.idle();
    expect(sent(r, 'prevote', 1n, 2)).toHaveLength(0);
    await r.net.deliver('vote', encodeVote(vote(3, 'prevote', 1n, 1, Y.hash)));
    await r.idle();
    expect(sent(r, 'prevote', 1n, 2).map((v) => v.blockHash)).toEqual([Y.hash]);
    expect(r.app.executions.get(toHexRaw(Y.hash))).toBe(1);
  });

  it('precommits nil as soon as 2f+1 prevotes are nil (line 44), without waiting for a timeout', async () => {
    const r = rig(0);
    await r.engine.start();
    const bad = makeBlock({ ...blockAt1(r.app, 1).header, stateRoot: new Uint8Array(32).fill(1) }, []);
    await r.net.deliver('proposal', proposalBytes(1n, 0, bad));
    await r.idle();
    expect(sent(r, 'prevote', 1n, 0).map((v) => v.blockHash)).toEqual([NIL_HASH]);
    await r.net.deliver('vote', encodeVote(vote(1, 'prevote', 1n, 0)));
    await r.idle();
    expect(sent(r, 'precommit', 1n, 0)).toHaveLength(0);
    await r.net.deliver('vote', encodeVote(vote(2, 'prevote', 1n, 0)));
    await r.idle();
    expect(sent(r, 'precommit', 1n, 0).map((v) => v.blockHash)).toEqual([NIL_HASH]);
    expect(r.engine.status()).toMatchObject({ round: 0, step: 'precommit', lockedRound: -1 });
  });

  it('prevotes nil for an invalid block and for a block more than 30 s in the future', async () => {
    const r = rig(0, { clock: new VirtualClock({ start: 1_000_000 }) });
    await r.engine.start();
    const bad = makeBlock({ ...r.app.makeChild(999_000n, keys[1]!.address).header, stateRoot: new Uint8Array(32).fill(1) }, []);
    await r.net.deliver('proposal', proposalBytes(1n, 0, bad));
    await r.idle();
    expect(sent(r, 'prevote', 1n, 0).map((v) => v.blockHash)).toEqual([NIL_HASH]);

    // Round 1 (proposer 2): a block 31 s ahead of the engine's clock.
    for (const i of [1, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 1n, 1)));
    await r.idle();
    expect(r.engine.status().round).toBe(1);
    const future = r.app.makeChild(1_031_001n, keys[2]!.address);
    await r.net.deliver('proposal', proposalBytes(1n, 1, future));
    await r.idle();
    expect(sent(r, 'prevote', 1n, 1).map((v) => v.blockHash)).toEqual([NIL_HASH]);

    // Round 2 (proposer 3): 29 s ahead is fine.
    for (const i of [1, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 1n, 2)));
    await r.idle();
    expect(r.engine.status().round).toBe(2);
    const soon = r.app.makeChild(1_029_000n, keys[3]!.address);
    await r.net.deliver('proposal', proposalBytes(1n, 2, soon));
    await r.idle();
    expect(sent(r, 'prevote', 1n, 2).map((v) => v.blockHash)).toEqual([soon.hash]);
  });

  it('the proposer builds on the head with max(now, parent timestamp) and re-proposes its valid value with its round', async () => {
    // Validator 1 proposes round 0 of height 1; validator 0 proposes round 3 (and would re-propose).
    const r = rig(1, { clock: new VirtualClock({ start: 5_000 }) });
    await r.engine.start();
    await r.idle();
    const proposals = (): ReturnType<typeof decodeProposal>[] => r.net.published.filter((m) => m.topic === 'proposal').map((m) => decodeProposal(m.data));
    expect(proposals()).toHaveLength(1);
    const p0 = proposals()[0]!;
    expect(p0).toMatchObject({ height: 1n, round: 0, polRound: -1, proposerIndex: 1 });
    expect(p0.block.header.timestamp).toBe(5_000n);
    // A polka in round 0 makes it the valid value; at validator 1's next turn (round 4) it is proposed again with polRound 0.
    for (const i of [0, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 1n, 0, p0.block.hash)));
    await r.idle();
    expect(r.engine.status().validRound).toBe(0);
    for (const i of [0, 2]) await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 1n, 4)));
    await r.idle();
    expect(proposals()).toHaveLength(2);
    const p4 = proposals()[1]!;
    expect(p4).toMatchObject({ round: 4, polRound: 0 });
    expect(p4.block.hash).toEqual(p0.block.hash);
  });

  it('a proposer whose clock is behind the parent still proposes a block no older than its parent', async () => {
    // Height 1 was committed at T0; validator 2 (proposer of height 2, round 0) reads a clock a minute behind.
    const disk = new FakeDisk(CHAIN_ID);
    const other = fakeApp(disk, new VirtualClock());
    const b1 = other.makeChild(BigInt(T0), keys[1]!.address);
    await importBlock(other, b1, certificateFromPrecommits([0, 1, 3].map((i) => vote(i, 'precommit', 1n, 0, b1.hash))));
    const r = rig(2, { disk, clock: new VirtualClock({ start: T0 - 60_000 }) });
    await r.engine.start();
    await r.idle();
    const proposals = r.net.published.filter((m) => m.topic === 'proposal').map((m) => decodeProposal(m.data));
    expect(proposals).toHaveLength(1);
    expect(proposals[0]!).toMatchObject({ height: 2n, round: 0 });
    expect(proposals[0]!.block.header.timestamp).toBe(BigInt(T0));
  });
});

describe('BftEngine restart and sync', () => {
  it('re-sends the vote it signed before a restart instead of signing a conflicting one', async () => {
    const disk = new FakeDisk(CHAIN_ID);
    const app = fakeApp(disk, new VirtualClock());
    const X = blockAt1(app, 1);
    const Y = blockAt1(app, 3);
    // Before the "crash" validator 2 prevoted X in round 0 of height 1.
    const before = vote(2, 'prevote', 1n, 0, X.hash);
    disk.signState = encodeSignState(withVote(emptySignState(1n), { height: 1n, round: 0, step: 'prevote', lockedRound: -1, lockedBlockHash: null }, before));

    const r = rig(2, { disk });
    await r.engine.start();
    await r.net.deliver('proposal', proposalBytes(1n, 0, Y));
    await r.idle();
    const prevotes = sent(r, 'prevote', 1n, 0);
    expect(prevotes).toHaveLength(1);
    expect(prevotes[0]!.blockHash).toEqual(X.hash);
    expect(prevotes[0]!.signature).toEqual(before.signature);
  });

  it('a validator restarted while locked on a block it no longer has prevotes nil until that block is proposed again', async () => {
    const disk = new FakeDisk(CHAIN_ID);
    const app = fakeApp(disk, new VirtualClock());
    const X = blockAt1(app, 1);
    // Locked on X in round 0, crashed in round 1 (validator 2 proposes round 1 of height 1).
    const locked = { height: 1n, round: 1, step: 'precommit' as const, lockedRound: 0, lockedBlockHash: X.hash };
    disk.signState = encodeSignState(withVote(emptySignState(1n), { ...locked, round: 0 }, vote(2, 'precommit', 1n, 0, X.hash)));
    disk.signState = encodeSignState({ ...decodeSignState(disk.signState), round: 1 });

    const r = rig(2, { disk });
    await r.engine.start();
    expect(r.engine.status()).toMatchObject({ height: 1n, round: 1, lockedRound: 0, lockedBlockHash: X.hash });
    // It proposes a fresh block in round 1 (it no longer has X) but, locked on X, prevotes nil on it.
    await r.idle();
    const own = decodeProposal(r.net.published.find((m) => m.topic === 'proposal')!.data);
    expect(own.block.hash).not.toEqual(X.hash);
    expect(sent(r, 'prevote', 1n, 1).map((v) => v.blockHash)).toEqual([NIL_HASH]);

    for (const i of [0, 1]) await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 1n, 2)));
    await r.idle();
    expect(r.engine.status().round).toBe(2);
    await r.net.deliver('proposal', proposalBytes(1n, 2, X));
    await r.idle();
    expect(sent(r, 'prevote', 1n, 2).map((v) => v.blockHash)).toEqual([X.hash]);
  });

  it('follows the head when sync commits behind its back, applying the messages buffered for the new height', async () => {
    const timeouts = { ...LONG_TIMEOUTS, proposeMs: 200, maxMs: 200 };
    const r = rig(0, { timeouts });
    await r.engine.start();
    // Height 1 is decided elsewhere; the engine sees round-2 votes of height 2 first.
    const other = fakeApp(new FakeDisk(CHAIN_ID), r.clock);
    const b1 = blockAt1(other, 1);
    const cert1 = certificateFromPrecommits([1, 2, 3].map((i) => vote(i, 'precommit', 1n, 0, b1.hash)));
    for (const i of [2, 3]) expect(await r.net.deliver('vote', encodeVote(vote(i, 'prevote', 2n, 2)))).toBe('accept');
    await r.idle();
    expect(r.engine.status().height).toBe(1n);

    await importBlock(r.app, b1, cert1);
    r.engine.onHeadChanged();
    await r.idle();
    expect(r.engine.status()).toMatchObject({ height: 2n, round: 2 });

    // Without a notification, the engine's next step (here its propose timeout) notices the head moved.
    await importBlock(other, b1, cert1);
    const b2 = other.makeChild(BigInt(r.clock.now()), keys[1]!.address);
    await importBlock(r.app, b2, certificateFromPrecommits([0, 1, 3].map((i) => vote(i, 'precommit', 2n, 0, b2.hash))));
    await r.idle();
    expect(r.engine.status().height).toBe(2n);
    await r.clock.advance(timeouts.proposeMs);
    expect(r.engine.status()).toMatchObject({ height: 3n, round: 0 });
    expect(r.commits).toBe(0);
  });

  it('a follower commits from the precommits it observes and never sends anything', async () => {
    const r = rig(-1);
    await r.engine.start();
    const block = blockAt1(r.app, 1);
    await r.net.deliver('proposal', proposalBytes(1n, 0, block));
    for (const i of [0, 2, 3]) await r.net.deliver('vote', encodeVote(vote(i, 'precommit', 1n, 0, block.hash)));
    await r.idle();
    expect(r.app.head().height).toBe(1n);
    expect(r.net.published).toHaveLength(0);
    expect(r.disk.signState).toBeUndefined();
  });
});
