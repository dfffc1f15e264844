import { describe, expect, it } from 'vitest';
import { sha256 } from '../../../../protocol/hash.js';
import { utf8 } from '../../../../protocol/codec.js';
import { devValidatorKeyPair } from '../../../../protocol/keys.js';
import { NIL_HASH, signVote, type Vote, type VoteType } from '../../../../consensus/bft/messages.js';
import {
  checkProposal, checkVote, decodeSignState, emptySignState, encodeSignState, voteFromRecord, withProposal, withVote, type SignPosition, type SignState,
} from '../../../../consensus/bft/sign-state.js';

const key = devValidatorKeyPair(1);
const X = sha256(utf8('block X'));
const Y = sha256(utf8('block Y'));

function vote(type: VoteType, height: bigint, round: number, blockHash: Uint8Array): Vote {
  return signVote({ type, chainId: 7, height, round, blockHash, validatorIndex: 1 }, key.privateKey);
}

function at(height: bigint, round: number, lockedRound = -1, lockedBlockHash: Uint8Array | null = null): SignPosition {
  return { height, round, step: 'prevote', lockedRound, lockedBlockHash };
}

/** Signs through the guard, as the engine does. */
function sign(s: SignState, type: VoteType, height: bigint, round: number, hash: Uint8Array, lockedRound = -1, locked: Uint8Array | null = null): { state: SignState; sent: Vote | null } {
  const d = checkVote(s, height, round, type, hash);
  if (d.action === 'refuse') return { state: s, sent: null };
  const v = d.action === 'resend' ? voteFromRecord(d.record, 7, height, 1) : vote(type, height, round, hash);
  return { state: withVote(s, at(height, round, lockedRound, locked), v), sent: v };
}

describe('SignState', () => {
  it('round-trips through its encoding, lock and records included', () => {
    let s = emptySignState(5n);
    s = withProposal(s, at(5n, 2), { round: 2, polRound: 1, blockHash: X });
    s = withVote(s, at(5n, 2, 2, X), vote('prevote', 5n, 2, X));
    s = withVote(s, { ...at(5n, 2, 2, X), step: 'precommit' }, vote('precommit', 5n, 2, X));
    const back = decodeSignState(encodeSignState(s));
    expect(back).toEqual(s);
    expect(back.lockedRound).toBe(2);
    expect(back.step).toBe('precommit');
    expect(decodeSignState(encodeSignState(emptySignState(1n)))).toEqual(emptySignState(1n));
  });

  it('rejects truncated, trailing and out-of-range encodings', () => {
    const bytes = encodeSignState(withVote(emptySignState(3n), at(3n, 0), vote('prevote', 3n, 0, X)));
    expect(() => decodeSignState(bytes.subarray(0, bytes.length - 1))).toThrow();
    expect(() => decodeSignState(new Uint8Array([...bytes, 0]))).toThrow();
    const badStep = bytes.slice();
    badStep[1 + 8 + 4] = 9;
    expect(() => decodeSignState(badStep)).toThrow(/step/);
    const badVersion = bytes.slice();
    badVersion[0] = 2;
    expect(() => decodeSignState(badVersion)).toThrow(/version/);
  });

  it('never signs two different votes for one (height, round, type): the first is re-sent, also after a restart', () => {
    let s = emptySignState(4n);
    const first = sign(s, 'prevote', 4n, 0, X);
    s = first.state;
    // "Restart": only the encoded state survives.
    s = decodeSignState(encodeSignState(s));
    const again = sign(s, 'prevote', 4n, 0, Y);
    expect(checkVote(s, 4n, 0, 'prevote', Y)).toMatchObject({ action: 'resend', conflicting: true });
    expect(again.sent!.blockHash).toEqual(X);
    expect(again.sent!.signature).toEqual(first.sent!.signature);
    expect(checkVote(s, 4n, 0, 'prevote', X)).toMatchObject({ action: 'resend', conflicting: false });
    // Other slots are free.
    expect(checkVote(s, 4n, 0, 'precommit', NIL_HASH).action).toBe('sign');
    expect(checkVote(s, 4n, 1, 'prevote', Y).action).toBe('sign');
    expect(checkVote(s, 5n, 0, 'prevote', Y).action).toBe('sign');
  });

  it('refuses to sign below what it remembers: a lower height, or a round older than the kept window', () => {
    let s = emptySignState(4n);
    for (let r = 0; r <= 5; r++) s = sign(s, 'prevote', 4n, r, NIL_HASH).state;
    expect(s.votes.map((v) => v.round)).toEqual([4, 5]);
    expect(checkVote(s, 3n, 9, 'prevote', X).action).toBe('refuse');
    expect(checkVote(s, 4n, 2, 'prevote', X).action).toBe('refuse');
    expect(checkVote(s, 4n, 4, 'prevote', X)).toMatchObject({ action: 'resend', conflicting: true });
    expect(checkVote(s, 4n, 6, 'prevote', X).action).toBe('sign');
    expect(checkProposal(s, 4n, 1, X).action).toBe('refuse');
  });

  it('keeps the lock it was given and never lowers its round', () => {
    let s = sign(emptySignState(2n), 'precommit', 2n, 3, X, 3, X).state;
    expect(s).toMatchObject({ round: 3, lockedRound: 3 });
    s = withVote(s, at(2n, 1, 3, X), vote('prevote', 2n, 1, Y));
    expect(s.round).toBe(3);
    const next = withVote(s, at(3n, 0), vote('prevote', 3n, 0, NIL_HASH));
    expect(next).toMatchObject({ height: 3n, round: 0, lockedRound: -1, lockedBlockHash: null });
    expect(next.votes).toHaveLength(1);
  });

  it('remembers proposals: a second proposal for a round is not signed', () => {
    const s = withProposal(emptySignState(6n), at(6n, 1), { round: 1, polRound: -1, blockHash: X });
    const back = decodeSignState(encodeSignState(s));
    expect(checkProposal(back, 6n, 1, Y)).toMatchObject({ action: 'resend', conflicting: true });
    expect(checkProposal(back, 6n, 2, Y).action).toBe('sign');
  });
});
