/**
 * SignState: what a validator must remember across a crash so that it never signs two
 * different votes (or proposals) for one (height, round, type). It plays the part of
 * CometBFT's privval "last sign state" plus the Tendermint lock, which CometBFT recovers
 * from its WAL: a validator that precommitted a block and restarts must still be locked on it.
 *
 * The engine writes it (BftApp.saveSignState) before it publishes any vote or proposal and
 * reads it once at start. Only rounds >= round - 1 of the one height are kept: the engine
 * never goes back to a lower round or height, so older records can never be asked for again,
 * and `checkVote` refuses anything below what was kept rather than trusting memory.
 *
 *   signState = u8 version(=1) | u64 height | u32 round | u8 step (0 propose, 1 prevote,
 *               2 precommit, 3 commit) | u32 lockedRound + 1 (0 = none) | [32] lockedBlockHash
 *               (all zero when not locked) | u16 n | (u32 round | u32 polRound + 1 | [32] blockHash) * n
 *               | u16 m | (u8 type (1 prevote, 2 precommit) | u32 round | [32] blockHash | [64] signature) * m
 */
import { Reader, Writer } from '../../protocol/codec.js';
import { ProtocolError } from '../../protocol/errors.js';
import { bytesEqual } from '../../protocol/hex.js';
import { NIL_HASH, NO_POL_ROUND, MAX_ROUND, type Vote, type VoteType } from './messages.js';
import type { RoundStep } from './types.js';

export const SIGN_STATE_VERSION = 1;
/** Votes and proposals are kept for rounds >= round - KEPT_PAST_ROUNDS. */
const KEPT_PAST_ROUNDS = 1;
/** A state only ever holds a few records; anything larger is corrupt. */
const MAX_RECORDS = 64;

export interface SignedVoteRecord {
  readonly type: VoteType;
  readonly round: number;
  readonly blockHash: Uint8Array;
  readonly signature: Uint8Array;
}

export interface SignedProposalRecord {
  readonly round: number;
  readonly polRound: number;
  readonly blockHash: Uint8Array;
}

export interface SignState {
  readonly height: bigint;
  readonly round: number;
  readonly step: RoundStep;
  /** NO_POL_ROUND (-1) when not locked. */
  readonly lockedRound: number;
  readonly lockedBlockHash: Uint8Array | null;
  readonly proposals: readonly SignedProposalRecord[];
  readonly votes: readonly SignedVoteRecord[];
}

export function emptySignState(height: bigint): SignState {
  return { height, round: 0, step: 'propose', lockedRound: NO_POL_ROUND, lockedBlockHash: null, proposals: [], votes: [] };
}

const STEPS: readonly RoundStep[] = ['propose', 'prevote', 'precommit', 'commit'];

export function encodeSignState(s: SignState): Uint8Array {
  const w = new Writer(1 + 8 + 4 + 1 + 4 + 32 + 2 + s.proposals.length * 40 + 2 + s.votes.length * 101)
    .u8(SIGN_STATE_VERSION).u64(s.height).u32(s.round).u8(STEPS.indexOf(s.step))
    .u32(s.lockedRound + 1).raw(s.lockedBlockHash ?? NIL_HASH, 32)
    .u16(s.proposals.length);
  for (const p of s.proposals) w.u32(p.round).u32(p.polRound + 1).raw(p.blockHash, 32);
  w.u16(s.votes.length);
  for (const v of s.votes) w.u8(v.type === 'prevote' ? 1 : 2).u32(v.round).raw(v.blockHash, 32).raw(v.signature, 64);
  return w.finish();
}

export function decodeSignState(bytes: Uint8Array): SignState {
  const r = new Reader(bytes, 'sign state');
  const version = r.u8('version');
  if (version !== SIGN_STATE_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', `sign state version ${version} is not supported`);
  const height = r.u64('height');
  const round = checkRound(r.u32('round'));
  const stepCode = r.u8('step');
  const step = STEPS[stepCode];
  if (step === undefined) throw new ProtocolError('INVALID_VALUE', `sign state step ${stepCode} is unknown`);
  const lockedRound = checkRound(r.u32('lockedRound')) - 1;
  const lockedHash = r.raw(32, 'lockedBlockHash');
  if (lockedRound > round) throw new ProtocolError('INVALID_VALUE', `sign state locked round ${lockedRound} is above its round ${round}`);
  const proposals: SignedProposalRecord[] = [];
  const np = r.u16('proposal count');
  if (np > MAX_RECORDS) throw new ProtocolError('INVALID_VALUE', `sign state holds ${np} proposals`);
  for (let i = 0; i < np; i++) {
    proposals.push({ round: checkRound(r.u32('round')), polRound: checkRound(r.u32('polRound')) - 1, blockHash: r.raw(32, 'blockHash') });
  }
  const votes: SignedVoteRecord[] = [];
  const nv = r.u16('vote count');
  if (nv > MAX_RECORDS) throw new ProtocolError('INVALID_VALUE', `sign state holds ${nv} votes`);
  for (let i = 0; i < nv; i++) {
    const t = r.u8('type');
    if (t !== 1 && t !== 2) throw new ProtocolError('INVALID_VALUE', `sign state vote type ${t} is unknown`);
    votes.push({ type: t === 1 ? 'prevote' : 'precommit', round: checkRound(r.u32('round')), blockHash: r.raw(32, 'blockHash'), signature: r.raw(64, 'signature') });
  }
  r.end();
  return {
    height, round, step, lockedRound,
    lockedBlockHash: lockedRound === NO_POL_ROUND ? null : lockedHash,
    proposals, votes,
  };
}

function checkRound(n: number): number {
  if (n > MAX_ROUND + 1) throw new ProtocolError('INVALID_VALUE', `sign state round ${n} exceeds ${MAX_ROUND}`);
  return n;
}

export type SignDecision<R> =
  /** Nothing was signed for this slot: sign. */
  | { readonly action: 'sign' }
  /** Already signed for this slot: send that again, never a second one. `conflicting` if it differs from what was asked. */
  | { readonly action: 'resend'; readonly record: R; readonly conflicting: boolean }
  /** Below what the state still remembers: a vote may have been signed there and forgotten. */
  | { readonly action: 'refuse'; readonly reason: string };

export function checkVote(s: SignState, height: bigint, round: number, type: VoteType, blockHash: Uint8Array): SignDecision<SignedVoteRecord> {
  if (height < s.height) return { action: 'refuse', reason: `height ${height} is below the signed height ${s.height}` };
  if (height > s.height) return { action: 'sign' };
  const record = s.votes.find((v) => v.round === round && v.type === type);
  if (record) return { action: 'resend', record, conflicting: !bytesEqual(record.blockHash, blockHash) };
  if (round < s.round - KEPT_PAST_ROUNDS) return { action: 'refuse', reason: `round ${round} is below the signed round ${s.round}` };
  return { action: 'sign' };
}

export function checkProposal(s: SignState, height: bigint, round: number, blockHash: Uint8Array): SignDecision<SignedProposalRecord> {
  if (height < s.height) return { action: 'refuse', reason: `height ${height} is below the signed height ${s.height}` };
  if (height > s.height) return { action: 'sign' };
  const record = s.proposals.find((p) => p.round === round);
  if (record) return { action: 'resend', record, conflicting: !bytesEqual(record.blockHash, blockHash) };
  if (round < s.round - KEPT_PAST_ROUNDS) return { action: 'refuse', reason: `round ${round} is below the signed round ${s.round}` };
  return { action: 'sign' };
}

/** The engine's position and lock at the moment it signs. */
export interface SignPosition {
  readonly height: bigint;
  readonly round: number;
  readonly step: RoundStep;
  readonly lockedRound: number;
  readonly lockedBlockHash: Uint8Array | null;
}

/** The state after signing `vote` (or re-sending it) at `at`; older rounds are pruned. */
export function withVote(s: SignState, at: SignPosition, vote: Vote): SignState {
  const base = rebase(s, at);
  const kept = base.votes.filter((v) => !(v.round === vote.round && v.type === vote.type));
  const record: SignedVoteRecord = { type: vote.type, round: vote.round, blockHash: vote.blockHash, signature: vote.signature };
  return { ...base, votes: [...kept, record] };
}

export function withProposal(s: SignState, at: SignPosition, proposal: SignedProposalRecord): SignState {
  const base = rebase(s, at);
  const kept = base.proposals.filter((p) => p.round !== proposal.round);
  return { ...base, proposals: [...kept, proposal] };
}

function rebase(s: SignState, at: SignPosition): SignState {
  const same = at.height === s.height;
  // The round never goes down, even if a caller passes a lower one.
  const round = same ? Math.max(s.round, at.round) : at.round;
  const keep = (r: number): boolean => same && r >= round - KEPT_PAST_ROUNDS;
  return {
    height: at.height,
    round,
    step: at.step,
    lockedRound: at.lockedRound,
    lockedBlockHash: at.lockedRound === NO_POL_ROUND ? null : at.lockedBlockHash,
    proposals: s.proposals.filter((p) => keep(p.round)),
    votes: s.votes.filter((v) => keep(v.round)),
  };
}

/** The Vote a record stands for (records omit what the engine knows: chain, height, signer). */
export function voteFromRecord(r: SignedVoteRecord, chainId: number, height: bigint, validatorIndex: number): Vote {
  return { type: r.type, chainId, height, round: r.round, blockHash: r.blockHash, validatorIndex, signature: r.signature };
}
