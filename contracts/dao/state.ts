/**
 * DAO state: layout, canonical encodings and the read helpers the dao and staking modules
 * share (docs/MODULES.md). <dao>, <proposal>, <token>, <voter> are 40 lower-case hex
 * digits.
 *
 *   dao/info/<dao>                      [20] token | string name | [20] creator        (immutable)
 *   dao/params/<dao>                    u128 quorum | u64 approvalBps | u64 votingPeriod
 *   dao/escrow/<token>/<dao>            u128 governance tokens locked in votes (delta counter)
 *   dao/proposal/<dao>/<proposal>       [20] proposer | u64 kind | bytes payload | string description
 *                                       | u64 start | u64 end | u128 quorum | u64 approvalBps  (immutable)
 *   dao/closed/<dao>/<proposal>         u8: 1 executed, 2 cancelled; missing = open
 *   dao/yes/<dao>/<proposal>            u128 yes tally (delta counter)
 *   dao/no/<dao>/<proposal>             u128 no tally (delta counter)
 *   dao/vote/<dao>/<proposal>/<voter>   u8 support | u128 amount | u8 unlocked
 *
 * The treasury is the account whose address is the DAO id: coin/balance/<dao> and
 * token/balance/<token>/<dao>.
 *
 * Why the split: a vote reads only immutable records (info, proposal) and the small
 * `closed` flag, and touches its own vote key, its voter's balance and delta counters, so
 * votes on one proposal never conflict with each other under Block-STM; changing the
 * parameters (kind 2) rewrites only dao/params, which votes do not read.
 */
import { decodeU128, Reader, U64_MAX, utf8, Writer } from '../../protocol/codec.js';
import { ProtocolError } from '../../protocol/errors.js';
import { addressHex } from '../../protocol/hex.js';
import { ExecutionFailure, type StateView } from '../types.js';

export const PROPOSAL_PAYOUT = 1n;
export const PROPOSAL_PARAMS = 2n;
export const PROPOSAL_CALL = 3n;

export const MAX_NAME_BYTES = 64;
export const MAX_DESCRIPTION_BYTES = 2_048;
/** Longest voting period; keeps `height + votingPeriod` far from u64 overflow, so a DAO can always propose. */
export const MAX_VOTING_PERIOD = 1n << 32n;
export const BPS = 10_000n;

export interface DaoInfo {
  readonly token: Uint8Array;
  readonly name: string;
  readonly creator: Uint8Array;
}

export interface DaoParams {
  /** Minimum yes + no, in governance-token units. */
  readonly quorum: bigint;
  /** Minimum yes share of the votes cast, in basis points. */
  readonly approvalBps: bigint;
  /** Blocks a proposal stays open for voting. */
  readonly votingPeriod: bigint;
}

export interface Proposal {
  readonly proposer: Uint8Array;
  readonly kind: bigint;
  readonly payload: Uint8Array;
  readonly description: string;
  /** Height of the block that created it. */
  readonly start: bigint;
  /** Voting is open while height < end. */
  readonly end: bigint;
  /** The DAO's quorum and approval threshold when the proposal was made (a later kind-2 change does not move the goalposts). */
  readonly quorum: bigint;
  readonly approvalBps: bigint;
}

export type ProposalClosed = 'open' | 'executed' | 'cancelled';

export interface Vote {
  readonly support: boolean;
  readonly amount: bigint;
  readonly unlocked: boolean;
}

// ---- keys -------------------------------------------------------------------------------

export const daoInfoKey = (dao: Uint8Array): string => `dao/info/${addressHex(dao)}`;
export const daoParamsKey = (dao: Uint8Array): string => `dao/params/${addressHex(dao)}`;
export const daoEscrowKey = (token: Uint8Array, dao: Uint8Array): string => `dao/escrow/${addressHex(token)}/${addressHex(dao)}`;
export const proposalKey = (dao: Uint8Array, p: Uint8Array): string => `dao/proposal/${addressHex(dao)}/${addressHex(p)}`;
export const proposalClosedKey = (dao: Uint8Array, p: Uint8Array): string => `dao/closed/${addressHex(dao)}/${addressHex(p)}`;
export const yesKey = (dao: Uint8Array, p: Uint8Array): string => `dao/yes/${addressHex(dao)}/${addressHex(p)}`;
export const noKey = (dao: Uint8Array, p: Uint8Array): string => `dao/no/${addressHex(dao)}/${addressHex(p)}`;
export const voteKey = (dao: Uint8Array, p: Uint8Array, voter: Uint8Array): string => `dao/vote/${addressHex(dao)}/${addressHex(p)}/${addressHex(voter)}`;
/** Prefix of every escrow key of `token` (conservation checks sum over it). */
export const daoEscrowPrefix = (token: Uint8Array): string => `dao/escrow/${addressHex(token)}/`;

// ---- encodings ----------------------------------------------------------------------------

export function encodeDaoInfo(d: DaoInfo): Uint8Array {
  return new Writer(64 + d.name.length).raw(d.token, 20).string(d.name).raw(d.creator, 20).finish();
}

export function decodeDaoInfo(b: Uint8Array): DaoInfo {
  const r = new Reader(b, 'dao info');
  const d = { token: r.raw(20), name: r.string(), creator: r.raw(20) };
  r.end();
  return d;
}

export function encodeDaoParams(p: DaoParams): Uint8Array {
  return new Writer(32).u128(p.quorum).u64(p.approvalBps).u64(p.votingPeriod).finish();
}

export function decodeDaoParams(b: Uint8Array): DaoParams {
  const r = new Reader(b, 'dao params');
  const p = { quorum: r.u128(), approvalBps: r.u64(), votingPeriod: r.u64() };
  r.end();
  return p;
}

export function encodeProposal(p: Proposal): Uint8Array {
  return new Writer(128 + p.payload.length + p.description.length)
    .raw(p.proposer, 20)
    .u64(p.kind)
    .bytes(p.payload)
    .string(p.description)
    .u64(p.start)
    .u64(p.end)
    .u128(p.quorum)
    .u64(p.approvalBps)
    .finish();
}

export function decodeProposal(b: Uint8Array): Proposal {
  const r = new Reader(b, 'dao proposal');
  const p = {
    proposer: r.raw(20),
    kind: r.u64(),
    payload: r.bytes(),
    description: r.string(),
    start: r.u64(),
    end: r.u64(),
    quorum: r.u128(),
    approvalBps: r.u64(),
  };
  r.end();
  return p;
}

const CLOSED_CODES: Record<Exclude<ProposalClosed, 'open'>, number> = { executed: 1, cancelled: 2 };

export function encodeClosed(c: Exclude<ProposalClosed, 'open'>): Uint8Array {
  return new Uint8Array([CLOSED_CODES[c]]);
}

export function decodeClosed(b: Uint8Array | undefined): ProposalClosed {
  if (b === undefined) return 'open';
  if (b.length === 1 && b[0] === 1) return 'executed';
  if (b.length === 1 && b[0] === 2) return 'cancelled';
  throw new ProtocolError('DECODE_ERROR', 'dao proposal state: expected one byte 1 or 2');
}

export function encodeVote(v: Vote): Uint8Array {
  return new Writer(18).u8(v.support ? 1 : 0).u128(v.amount).u8(v.unlocked ? 1 : 0).finish();
}

export function decodeVote(b: Uint8Array): Vote {
  const r = new Reader(b, 'dao vote');
  const s = r.u8('support');
  const amount = r.u128('amount');
  const u = r.u8('unlocked');
  r.end();
  if (s > 1 || u > 1) throw new ProtocolError('DECODE_ERROR', 'dao vote: flags must be 0 or 1');
  return { support: s === 1, amount, unlocked: u === 1 };
}

// ---- reads --------------------------------------------------------------------------------

type Reads = Pick<StateView, 'get'>;

export function getDaoInfo(view: Reads, dao: Uint8Array): DaoInfo | undefined {
  const b = view.get(daoInfoKey(dao));
  return b ? decodeDaoInfo(b) : undefined;
}

/** The DAO's fixed record, or fails the call with DAO_NOT_FOUND. */
export function requireDao(view: Reads, dao: Uint8Array): DaoInfo {
  const d = getDaoInfo(view, dao);
  if (!d) throw new ExecutionFailure('DAO_NOT_FOUND', `no DAO ${addressHex(dao)}`);
  return d;
}

export function getDaoParams(view: Reads, dao: Uint8Array): DaoParams {
  const b = view.get(daoParamsKey(dao));
  if (!b) throw new ExecutionFailure('DAO_NOT_FOUND', `no parameters for DAO ${addressHex(dao)}`);
  return decodeDaoParams(b);
}

export function getProposal(view: Reads, dao: Uint8Array, p: Uint8Array): Proposal | undefined {
  const b = view.get(proposalKey(dao, p));
  return b ? decodeProposal(b) : undefined;
}

/** The proposal, or fails the call with PROPOSAL_NOT_FOUND. */
export function requireProposal(view: Reads, dao: Uint8Array, p: Uint8Array): Proposal {
  const r = getProposal(view, dao, p);
  if (!r) throw new ExecutionFailure('PROPOSAL_NOT_FOUND', `no proposal ${addressHex(p)} in DAO ${addressHex(dao)}`);
  return r;
}

export function getClosed(view: Reads, dao: Uint8Array, p: Uint8Array): ProposalClosed {
  return decodeClosed(view.get(proposalClosedKey(dao, p)));
}

export function getVote(view: Reads, dao: Uint8Array, p: Uint8Array, voter: Uint8Array): Vote | undefined {
  const b = view.get(voteKey(dao, p, voter));
  return b ? decodeVote(b) : undefined;
}

export function getTally(view: Reads, dao: Uint8Array, p: Uint8Array): { yes: bigint; no: bigint } {
  return { yes: decodeU128(view.get(yesKey(dao, p))), no: decodeU128(view.get(noKey(dao, p))) };
}

/** Quorum and approval rule: yes + no >= quorum and yes * 10000 >= (yes + no) * approvalBps. */
export function tallyVerdict(p: Pick<Proposal, 'quorum' | 'approvalBps'>, yes: bigint, no: bigint): 'passed' | 'QUORUM_NOT_REACHED' | 'NOT_APPROVED' {
  const cast = yes + no;
  if (cast < p.quorum) return 'QUORUM_NOT_REACHED';
  if (yes * BPS < cast * p.approvalBps) return 'NOT_APPROVED';
  return 'passed';
}

// ---- checks -------------------------------------------------------------------------------

/** Parameter rules, shared by `create` and kind-2 proposals; fails with INVALID_PARAMS. */
export function checkDaoParams(p: DaoParams): void {
  if (p.quorum < 1n) throw new ExecutionFailure('INVALID_PARAMS', 'quorum must be at least 1 (a quorum of 0 would pass proposals nobody voted on)');
  if (p.approvalBps < 1n || p.approvalBps > BPS) throw new ExecutionFailure('INVALID_PARAMS', `approval_bps must be 1..10000, got ${p.approvalBps}`);
  if (p.votingPeriod < 1n || p.votingPeriod > MAX_VOTING_PERIOD) {
    throw new ExecutionFailure('INVALID_PARAMS', `voting_period must be 1..${MAX_VOTING_PERIOD} blocks, got ${p.votingPeriod}`);
  }
}

export function checkDaoName(name: string): void {
  const n = utf8(name).length;
  if (n < 1 || n > MAX_NAME_BYTES) throw new ExecutionFailure('INVALID_NAME', `DAO name must be 1..${MAX_NAME_BYTES} bytes of UTF-8, got ${n}`);
}

/** Voting ends at start + votingPeriod; with periods bounded by MAX_VOTING_PERIOD this only overflows at absurd heights. */
export function votingEnd(height: bigint, period: bigint): bigint {
  const end = height + period;
  if (end > U64_MAX) throw new ExecutionFailure('ARITHMETIC_OVERFLOW', `voting would end past the last u64 height`);
  return end;
}
