/**
 * What the BFT engine needs from the rest of the node. The engine decides *which* block is
 * committed at each height; the app builds, executes and persists blocks. `E` is the app's
 * handle for an executed block (the chain's Proposal: block + receipts + prepared state), so a
 * block that was executed to vote on it is not executed again to commit it.
 */
import type { Block } from '../../protocol/block.js';
import type { CommitCertificate, ValidatorSet } from './messages.js';

export interface ExecutedBlock {
  readonly block: Block;
}

export interface BftApp<E extends ExecutedBlock = ExecutedBlock> {
  readonly chainId: number;
  readonly validators: ValidatorSet;
  /** The committed head. */
  head(): { height: bigint; hash: Uint8Array; timestamp: bigint };
  /** Proposer: a block for head + 1 from the mempool (may be empty), executed. */
  buildBlock(timestamp: bigint, proposer: Uint8Array): Promise<E>;
  /**
   * Executes a proposed block for head + 1 and checks every header field against the result
   * (parent, height, chain id, proposer, tx root, receipts root, state root, gas used, no
   * discarded tx, timestamp >= parent's). Throws BlockValidationError when it does not hold.
   */
  executeBlock(block: Block): Promise<E>;
  /** Persists an executed block for head + 1 with its certificate (one LevelDB batch). */
  commitBlock(executed: E, certificate: CommitCertificate): Promise<void>;
  /** Durable engine state (see SignState); written before any vote or proposal is sent. */
  loadSignState(): Promise<Uint8Array | undefined>;
  saveSignState(state: Uint8Array): Promise<void>;
}

export class BlockValidationError extends Error {
  readonly code: 'BAD_BLOCK';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BlockValidationError';
    this.code = 'BAD_BLOCK';
  }
}

/** Timeouts (ms); round r waits base + r * delta, capped at max. */
export interface BftTimeouts {
  proposeMs: number;
  proposeDeltaMs: number;
  prevoteMs: number;
  prevoteDeltaMs: number;
  precommitMs: number;
  precommitDeltaMs: number;
  maxMs: number;
  /** After a commit, wait until `blockTimeMs` has passed since the previous commit before round 0 of the next height (CometBFT timeout_commit). */
  blockTimeMs: number;
}

export const DEFAULT_BFT_TIMEOUTS: BftTimeouts = {
  proposeMs: 3_000,
  proposeDeltaMs: 500,
  prevoteMs: 500,
  prevoteDeltaMs: 250,
  precommitMs: 500,
  precommitDeltaMs: 250,
  maxMs: 10_000,
  blockTimeMs: 1_000,
};

export type RoundStep = 'propose' | 'prevote' | 'precommit' | 'commit';

export interface ConsensusStatus {
  readonly height: bigint;
  readonly round: number;
  readonly step: RoundStep;
  readonly lockedRound: number;
  readonly lockedBlockHash: Uint8Array | null;
  readonly validRound: number;
  readonly proposer: Uint8Array;
  readonly lastCommit: { height: bigint; round: number; blockHash: Uint8Array; signers: number } | null;
}
