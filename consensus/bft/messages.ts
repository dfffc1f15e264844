/**
 * BFT wire messages and the commit certificate (Tendermint terms). Canonical binary encodings;
 * every signature covers a domain tag, the chain id and the fields that matter, so a vote can
 * never be replayed on another chain, height, round or step.
 *
 *   vote        = u8 version(=1) | u8 type (1 prevote, 2 precommit) | u32 chainId | u64 height
 *                 | u32 round | [32] blockHash (all zero = nil) | u16 validatorIndex | [64] signature
 *   vote signing bytes  = domainTag("pel:vote:v1") | u8 type | u32 chainId | u64 height | u32 round | [32] blockHash
 *
 *   proposal    = u8 version(=1) | u32 chainId | u64 height | u32 round | u32 polRound (0xffffffff = none)
 *                 | u16 proposerIndex | [64] signature | u32 len | block
 *   proposal signing bytes = domainTag("pel:proposal:v1") | u32 chainId | u64 height | u32 round
 *                 | u32 polRound | [32] blockHash
 *
 *   certificate = u8 version(=1) | u64 height | u32 round | [32] blockHash | u16 count
 *                 | (u16 validatorIndex | [64] signature) * count    (indices strictly increasing)
 *   A certificate holds >= quorum precommits for blockHash at (height, round).
 */
import { Reader, Writer } from '../../protocol/codec.js';
import { ProtocolError } from '../../protocol/errors.js';
import { domainTag, ZERO_HASH } from '../../protocol/hash.js';
import { bytesEqual } from '../../protocol/hex.js';
import { sign } from '../../protocol/keys.js';
import type { SignatureVerifier } from '../../protocol/verify.js';
import { decodeBlock, encodeBlock, type Block } from '../../protocol/block.js';
import { MAX_GOSSIP_MESSAGE_BYTES } from '../../p2p/types.js';

export const BFT_MESSAGE_VERSION = 1;
export const NIL_HASH = ZERO_HASH;
export const NO_POL_ROUND = -1;
/** Largest proposal on the wire: whatever one gossip message can carry. Proposers cap their blocks to fit (MAX_BLOCK_TX_BYTES). */
export const MAX_PROPOSAL_BYTES = MAX_GOSSIP_MESSAGE_BYTES;
/** Room for the txs of a proposed block: the proposal envelope and block header take well under 1 KiB. */
export const MAX_BLOCK_TX_BYTES = MAX_PROPOSAL_BYTES - 1024;
export const MAX_ROUND = 1_000_000;

export type VoteType = 'prevote' | 'precommit';

export interface Validator {
  readonly index: number;
  readonly publicKey: Uint8Array;
  readonly address: Uint8Array;
}

/**
 * A fixed validator set (from genesis), each with voting power 1. n = 3f + 1 + k tolerates
 * f = floor((n - 1) / 3) faulty; a quorum is any 2f + 1... computed as floor(2n/3) + 1 so that
 * two quorums always share an honest validator.
 */
export class ValidatorSet {
  readonly validators: readonly Validator[];
  readonly quorum: number;
  /** f + 1: enough to contain at least one honest validator (round skipping). */
  readonly weakQuorum: number;

  constructor(validators: readonly { publicKey: Uint8Array; address: Uint8Array }[]) {
    if (validators.length === 0 || validators.length > 0xffff) throw new ProtocolError('INVALID_VALUE', 'a validator set has 1..65535 validators');
    this.validators = validators.map((v, index) => ({ index, publicKey: v.publicKey, address: v.address }));
    const n = validators.length;
    this.quorum = Math.floor((2 * n) / 3) + 1;
    this.weakQuorum = Math.floor((n - 1) / 3) + 1;
  }

  get size(): number {
    return this.validators.length;
  }

  /** Round-robin proposer: validators[(height + round) mod n]. */
  proposer(height: bigint, round: number): Validator {
    const n = BigInt(this.validators.length);
    return this.validators[Number((height + BigInt(round)) % n)]!;
  }

  indexOf(address: Uint8Array): number {
    return this.validators.findIndex((v) => bytesEqual(v.address, address));
  }

  at(index: number): Validator | undefined {
    return this.validators[index];
  }
}

// ------------------------------------------------------------------------------------------
// votes
// ------------------------------------------------------------------------------------------

export interface Vote {
  readonly type: VoteType;
  readonly chainId: number;
  readonly height: bigint;
  readonly round: number;
  /** NIL_HASH for a nil vote. */
  readonly blockHash: Uint8Array;
  readonly validatorIndex: number;
  readonly signature: Uint8Array;
}

const VOTE_TAG = domainTag('pel:vote:v1');
const PROPOSAL_TAG = domainTag('pel:proposal:v1');
const typeCode = (t: VoteType): number => (t === 'prevote' ? 1 : 2);

export function voteSigningBytes(v: Omit<Vote, 'validatorIndex' | 'signature'>): Uint8Array {
  return new Writer(32 + 1 + 4 + 8 + 4 + 32).raw(VOTE_TAG, 32).u8(typeCode(v.type)).u32(v.chainId).u64(v.height).u32(v.round).raw(v.blockHash, 32).finish();
}

export function signVote(v: Omit<Vote, 'signature'>, privateKey: Uint8Array): Vote {
  return { ...v, signature: sign(voteSigningBytes(v), privateKey) };
}

export function encodeVote(v: Vote): Uint8Array {
  return new Writer(1 + 1 + 4 + 8 + 4 + 32 + 2 + 64)
    .u8(BFT_MESSAGE_VERSION).u8(typeCode(v.type)).u32(v.chainId).u64(v.height).u32(v.round).raw(v.blockHash, 32).u16(v.validatorIndex).raw(v.signature, 64)
    .finish();
}

export function decodeVote(bytes: Uint8Array): Vote {
  const r = new Reader(bytes, 'vote');
  const version = r.u8('version');
  if (version !== BFT_MESSAGE_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', `vote version ${version} is not supported`);
  const t = r.u8('type');
  if (t !== 1 && t !== 2) throw new ProtocolError('INVALID_VALUE', `vote type ${t} is neither prevote (1) nor precommit (2)`);
  const v: Vote = {
    type: t === 1 ? 'prevote' : 'precommit',
    chainId: r.u32('chainId'),
    height: r.u64('height'),
    round: r.u32('round'),
    blockHash: r.raw(32, 'blockHash'),
    validatorIndex: r.u16('validatorIndex'),
    signature: r.raw(64, 'signature'),
  };
  r.end();
  if (v.round > MAX_ROUND) throw new ProtocolError('INVALID_VALUE', `vote round ${v.round} exceeds ${MAX_ROUND}`);
  return v;
}

/** Checks the signer is in the set and the signature verifies. Does not check height or round. */
export function verifyVote(v: Vote, set: ValidatorSet, verifier: SignatureVerifier): boolean {
  const val = set.at(v.validatorIndex);
  return val !== undefined && verifier.verify(val.publicKey, voteSigningBytes(v), v.signature);
}

export const isNil = (hash: Uint8Array): boolean => bytesEqual(hash, NIL_HASH);

// ------------------------------------------------------------------------------------------
// proposals
// ------------------------------------------------------------------------------------------

export interface Proposal {
  readonly chainId: number;
  readonly height: bigint;
  readonly round: number;
  /** The round of the proof-of-lock this proposal re-proposes, or NO_POL_ROUND (-1). */
  readonly polRound: number;
  readonly proposerIndex: number;
  readonly signature: Uint8Array;
  readonly block: Block;
}

export function proposalSigningBytes(p: Omit<Proposal, 'proposerIndex' | 'signature' | 'block'> & { blockHash: Uint8Array }): Uint8Array {
  return new Writer(32 + 4 + 8 + 4 + 4 + 32)
    .raw(PROPOSAL_TAG, 32).u32(p.chainId).u64(p.height).u32(p.round).u32(p.polRound < 0 ? 0xffffffff : p.polRound).raw(p.blockHash, 32)
    .finish();
}

export function signProposal(p: Omit<Proposal, 'signature'>, privateKey: Uint8Array): Proposal {
  return { ...p, signature: sign(proposalSigningBytes({ ...p, blockHash: p.block.hash }), privateKey) };
}

export function encodeProposal(p: Proposal): Uint8Array {
  const block = encodeBlock(p.block);
  return new Writer(1 + 4 + 8 + 4 + 4 + 2 + 64 + 4 + block.length)
    .u8(BFT_MESSAGE_VERSION).u32(p.chainId).u64(p.height).u32(p.round).u32(p.polRound < 0 ? 0xffffffff : p.polRound).u16(p.proposerIndex).raw(p.signature, 64)
    .bytes(block)
    .finish();
}

export function decodeProposal(bytes: Uint8Array): Proposal {
  if (bytes.length > MAX_PROPOSAL_BYTES) throw new ProtocolError('INVALID_VALUE', `proposal of ${bytes.length} bytes exceeds ${MAX_PROPOSAL_BYTES}`);
  const r = new Reader(bytes, 'proposal');
  const version = r.u8('version');
  if (version !== BFT_MESSAGE_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', `proposal version ${version} is not supported`);
  const chainId = r.u32('chainId');
  const height = r.u64('height');
  const round = r.u32('round');
  const pol = r.u32('polRound');
  const proposerIndex = r.u16('proposerIndex');
  const signature = r.raw(64, 'signature');
  const block = decodeBlock(r.bytes('block', MAX_PROPOSAL_BYTES));
  r.end();
  const polRound = pol === 0xffffffff ? NO_POL_ROUND : pol;
  if (round > MAX_ROUND) throw new ProtocolError('INVALID_VALUE', `proposal round ${round} exceeds ${MAX_ROUND}`);
  if (polRound >= round) throw new ProtocolError('INVALID_VALUE', `proposal polRound ${polRound} must be below its round ${round}`);
  if (block.header.height !== height) throw new ProtocolError('INVALID_VALUE', `proposal for height ${height} carries block ${block.header.height}`);
  if (block.header.chainId !== chainId) throw new ProtocolError('INVALID_VALUE', `proposal for chain ${chainId} carries a block of chain ${block.header.chainId}`);
  return { chainId, height, round, polRound, proposerIndex, signature, block };
}

/** Checks the signer is the round's proposer and the signature verifies. Does not execute the block. */
export function verifyProposal(p: Proposal, set: ValidatorSet, verifier: SignatureVerifier): boolean {
  const expected = set.proposer(p.height, p.round);
  if (p.proposerIndex !== expected.index) return false;
  return verifier.verify(expected.publicKey, proposalSigningBytes({ ...p, blockHash: p.block.hash }), p.signature);
}

// ------------------------------------------------------------------------------------------
// commit certificates
// ------------------------------------------------------------------------------------------

export interface CommitCertificate {
  readonly height: bigint;
  readonly round: number;
  readonly blockHash: Uint8Array;
  /** Precommits for blockHash at (height, round), sorted by validator index, no duplicates. */
  readonly signatures: readonly { readonly validatorIndex: number; readonly signature: Uint8Array }[];
}

export function encodeCertificate(c: CommitCertificate): Uint8Array {
  const w = new Writer(1 + 8 + 4 + 32 + 2 + c.signatures.length * 66).u8(BFT_MESSAGE_VERSION).u64(c.height).u32(c.round).raw(c.blockHash, 32).u16(c.signatures.length);
  for (const s of c.signatures) w.u16(s.validatorIndex).raw(s.signature, 64);
  return w.finish();
}

export function decodeCertificate(bytes: Uint8Array): CommitCertificate {
  const r = new Reader(bytes, 'commit certificate');
  const version = r.u8('version');
  if (version !== BFT_MESSAGE_VERSION) throw new ProtocolError('UNSUPPORTED_VERSION', `certificate version ${version} is not supported`);
  const height = r.u64('height');
  const round = r.u32('round');
  const blockHash = r.raw(32, 'blockHash');
  const count = r.u16('count');
  const signatures: { validatorIndex: number; signature: Uint8Array }[] = [];
  let last = -1;
  for (let i = 0; i < count; i++) {
    const validatorIndex = r.u16('validatorIndex');
    if (validatorIndex <= last) throw new ProtocolError('INVALID_VALUE', 'certificate validator indices must be strictly increasing');
    last = validatorIndex;
    signatures.push({ validatorIndex, signature: r.raw(64, 'signature') });
  }
  r.end();
  return { height, round, blockHash, signatures };
}

/** Builds a certificate from precommits (any order; must all be for the same height, round and hash). */
export function certificateFromPrecommits(precommits: readonly Vote[]): CommitCertificate {
  const first = precommits[0];
  if (!first) throw new ProtocolError('INVALID_VALUE', 'a certificate needs at least one precommit');
  const sorted = [...precommits].sort((a, b) => a.validatorIndex - b.validatorIndex);
  return { height: first.height, round: first.round, blockHash: first.blockHash, signatures: sorted.map((v) => ({ validatorIndex: v.validatorIndex, signature: v.signature })) };
}

export type CertificateCheck = { ok: true } | { ok: false; reason: string };

/**
 * A certificate commits `blockHash` at `height` iff it names them and holds >= quorum valid
 * precommit signatures from distinct validators of the set.
 */
export function verifyCertificate(
  c: CommitCertificate, set: ValidatorSet, verifier: SignatureVerifier, chainId: number, height: bigint, blockHash: Uint8Array,
): CertificateCheck {
  if (c.height !== height) return { ok: false, reason: `certificate is for height ${c.height}, block is ${height}` };
  if (!bytesEqual(c.blockHash, blockHash)) return { ok: false, reason: 'certificate is for another block hash' };
  if (c.signatures.length < set.quorum) return { ok: false, reason: `certificate has ${c.signatures.length} signatures, quorum is ${set.quorum}` };
  const msg = voteSigningBytes({ type: 'precommit', chainId, height, round: c.round, blockHash });
  let last = -1;
  for (const s of c.signatures) {
    if (s.validatorIndex <= last) return { ok: false, reason: 'validator indices not strictly increasing' };
    last = s.validatorIndex;
    const val = set.at(s.validatorIndex);
    if (!val) return { ok: false, reason: `validator index ${s.validatorIndex} is not in the set` };
    if (!verifier.verify(val.publicKey, msg, s.signature)) return { ok: false, reason: `precommit signature of validator ${s.validatorIndex} does not verify` };
  }
  return { ok: true };
}
