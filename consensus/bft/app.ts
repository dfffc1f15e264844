/**
 * ChainBftApp: the BFT engine's view of the node (BftApp over Chain + Mempool + ChainStore),
 * and the one door through which blocks of other validators get in: the engine's commits and
 * block sync's imports both go through it.
 *
 * Every operation that reads or moves the chain's state (build, execute, commit, import) runs
 * on ONE serialising queue. An execution must never overlap a commit (it would read a state
 * that changes under it), and two commits must never race for the same height; the queue
 * gives both, and a commit whose block no longer extends the head (sync got there first, or
 * the engine did) is refused with ChainError NOT_NEXT_BLOCK before anything is written.
 * Tx signatures are checked off the queue (they do not read state), before execution.
 */
import type { Block } from '../../protocol/block.js';
import { bytesEqual, toHex } from '../../protocol/hex.js';
import type { Logger } from '../../protocol/logger.js';
import { decodeTx, txSignatureValid } from '../../protocol/tx.js';
import { createVerifier, type SignatureVerifier } from '../../protocol/verify.js';
import { VERIFY } from '../../execution/parallel/outputs.js';
import type { ChainStore } from '../../state/store.js';
import { ChainError, type Chain, type Proposal } from '../chain.js';
import type { DroppedTx, Mempool } from '../mempool.js';
import { encodeCertificate, MAX_BLOCK_TX_BYTES, ValidatorSet, type CommitCertificate } from './messages.js';
import { BlockValidationError, type BftApp } from './types.js';

/**
 * Checks the signatures of raw signed txs: one VERIFY code per tx, in order. The node passes
 * the worker pool's `ParallelExecutor.verifyBatch`; `sameThreadVerifyTxs` is the default.
 */
export type VerifyTxs = (raws: readonly Uint8Array[]) => Promise<Uint8Array>;

export function sameThreadVerifyTxs(verifier: SignatureVerifier): VerifyTxs {
  return async (raws) =>
    Uint8Array.from(raws, (raw) => {
      let tx;
      try {
        tx = decodeTx(raw);
      } catch {
        return VERIFY.UNDECODABLE;
      }
      return txSignatureValid(verifier, tx) ? VERIFY.OK : VERIFY.BAD_SIGNATURE;
    });
}

export class BftAppError extends Error {
  /** APP_CLOSED: the node is shutting down. VERIFIER_FAILED: verifyTxs broke its contract (a bug, not a bad block). */
  readonly code: 'APP_CLOSED' | 'VERIFIER_FAILED';
  constructor(code: BftAppError['code'], message: string) {
    super(message);
    this.name = 'BftAppError';
    this.code = code;
  }
}

export interface ChainBftAppOptions {
  /** Most txs a block this node proposes may carry. */
  maxBlockTxs: number;
}

export const DEFAULT_CHAIN_BFT_APP_OPTIONS: ChainBftAppOptions = { maxBlockTxs: 10_000 };

export interface ChainBftAppDeps {
  chain: Chain;
  mempool: Mempool;
  store: ChainStore;
  logger: Logger;
  /** Tx signature checks; default sameThreadVerifyTxs(createVerifier()). */
  verifyTxs?: VerifyTxs;
  /**
   * Every committed block (from consensus or sync) with the txs the mempool dropped after it
   * (stale nonce, expired) and the time the store batch took. The node cleans the mempool
   * journal of `dropped`, updates metrics and wakes tx waiters here.
   */
  onCommitted?: (p: Proposal, dropped: readonly DroppedTx[], commitMs: number) => void;
}

export type ImportResult = 'committed' | 'known';

export class ChainBftApp implements BftApp<Proposal> {
  readonly chainId: number;
  readonly validators: ValidatorSet;
  private readonly opts: ChainBftAppOptions;
  private readonly verifyTxs: VerifyTxs;
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(opts: Partial<ChainBftAppOptions>, private readonly deps: ChainBftAppDeps) {
    this.opts = { ...DEFAULT_CHAIN_BFT_APP_OPTIONS, ...opts };
    this.chainId = deps.chain.genesis.chainId;
    this.validators = new ValidatorSet(deps.chain.genesis.validators);
    this.verifyTxs = deps.verifyTxs ?? sameThreadVerifyTxs(createVerifier());
  }

  head(): { height: bigint; hash: Uint8Array; timestamp: bigint } {
    const h = this.deps.chain.head;
    return { height: h.header.height, hash: h.hash, timestamp: h.header.timestamp };
  }

  /** A block for head + 1 from the mempool, as the single-validator producer builds one. */
  buildBlock(timestamp: bigint, proposer: Uint8Array): Promise<Proposal> {
    return this.serial(async () => {
      const { chain, mempool } = this.deps;
      const parentTs = chain.head.header.timestamp;
      // The proposal must fit one gossip message. A prefix of the round-robin selection keeps
      // each sender's txs contiguous in nonce order, so cutting it is always valid.
      const txs = mempool.select(this.opts.maxBlockTxs);
      let bytes = 0;
      let n = 0;
      while (n < txs.length && bytes + txs[n]!.raw.length + 4 <= MAX_BLOCK_TX_BYTES) bytes += txs[n++]!.raw.length + 4;
      // Validators refuse a block older than its parent, so a slow local clock must not produce one.
      return chain.propose(n === txs.length ? txs : txs.slice(0, n), timestamp > parentTs ? timestamp : parentTs, proposer);
    });
  }

  /** Checks tx signatures (a proposer could include a forged tx), then re-executes and checks the header. */
  async executeBlock(block: Block): Promise<Proposal> {
    await this.checkSignatures(block);
    return this.serial(() => this.deps.chain.executeBlock(block));
  }

  commitBlock(executed: Proposal, certificate: CommitCertificate): Promise<void> {
    const b = executed.block;
    if (certificate.height !== b.header.height || !bytesEqual(certificate.blockHash, b.hash)) {
      return Promise.reject(new BlockValidationError(`certificate for height ${certificate.height} (${toHex(certificate.blockHash)}) does not certify block ${b.header.height} (${toHex(b.hash)})`));
    }
    const encoded = encodeCertificate(certificate);
    return this.serial(() => this.commitNow(executed, encoded));
  }

  /**
   * Block sync: executes and commits a block for head + 1 in one queue job, so nothing can
   * commit in between. `certificate` must already be verified against `validators` (sync does,
   * so that it knows which peer to penalise). A block at or below the head that is the one
   * already committed there is 'known' (the engine got there first). Throws
   * BlockValidationError for an invalid block and ChainError NOT_NEXT_BLOCK for one above head + 1.
   */
  async importBlock(block: Block, certificate: CommitCertificate): Promise<ImportResult> {
    await this.checkSignatures(block);
    const encoded = encodeCertificate(certificate);
    return this.serial(async () => {
      const { chain } = this.deps;
      const height = block.header.height;
      if (height <= chain.height) {
        const ours = await chain.getBlock(height);
        if (ours && bytesEqual(ours.block.hash, block.hash)) return 'known';
        throw new BlockValidationError(`block ${height} (${toHex(block.hash)}) conflicts with the committed block ${ours ? toHex(ours.block.hash) : '(missing)'}`);
      }
      if (height > chain.height + 1n) throw new ChainError('NOT_NEXT_BLOCK', `block ${height} is not the next block (head is ${chain.height})`);
      const executed = await chain.executeBlock(block);
      await this.commitNow(executed, encoded);
      return 'committed';
    });
  }

  loadSignState(): Promise<Uint8Array | undefined> {
    return this.deps.store.getSignState();
  }

  saveSignState(state: Uint8Array): Promise<void> {
    return this.deps.store.putSignState(state);
  }

  /** Refuses new work and waits for queued work to finish (call before closing the store). */
  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new BftAppError('APP_CLOSED', 'the BFT app is closed (node shutting down)'));
    const run = this.tail.then(job);
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Runs on the queue only. */
  private async commitNow(p: Proposal, certificate: Uint8Array): Promise<void> {
    const { chain, mempool, logger } = this.deps;
    // Discarded txs only occur in a block this node built; the producer drops them the same way.
    const discarded = p.discarded.map((d) => d.tx);
    const removals = [...p.block.txs, ...discarded].map((t) => t.hash);
    const c0 = performance.now();
    await chain.commit(p, removals, certificate);
    const commitMs = performance.now() - c0;
    const dropped = mempool.afterBlock(p.block.txs, discarded);
    try {
      this.deps.onCommitted?.(p, dropped, commitMs);
    } catch (e) {
      // The block is committed whatever a listener does; a failing listener is a bug to see, not a failed commit.
      logger.error('onCommitted listener failed', { error: String(e) });
    }
    const h = p.block.header;
    logger.info('block committed', {
      height: Number(h.height), txs: h.txCount, discarded: p.discarded.length, dropped: dropped.length,
      executeMs: +p.timings.executeMs.toFixed(1), rootMs: +p.timings.rootMs.toFixed(1), commitMs: +commitMs.toFixed(1),
    });
  }

  /**
   * A tx this node's mempool holds was verified when it was admitted, and its hash is the
   * SHA-256 of its raw bytes (signature included), so the same hash means the same verdict:
   * only the txs the mempool does not know are verified here. With tx gossip that is usually
   * none, which keeps a 10,000-tx proposal from costing every validator 10,000 signature checks
   * inside the propose timeout.
   */
  private async checkSignatures(block: Block): Promise<void> {
    const { mempool } = this.deps;
    const unknown: number[] = [];
    block.txs.forEach((t, i) => {
      if (!mempool.has(t.hash)) unknown.push(i);
    });
    if (unknown.length === 0) return;
    const codes = await this.verifyTxs(unknown.map((i) => block.txs[i]!.raw));
    if (codes.length !== unknown.length) throw new BftAppError('VERIFIER_FAILED', `verifyTxs returned ${codes.length} codes for ${unknown.length} txs`);
    const k = codes.findIndex((c) => c !== VERIFY.OK);
    if (k >= 0) {
      const bad = unknown[k]!;
      const why = codes[k] === VERIFY.UNDECODABLE ? 'is undecodable' : 'has a signature that does not verify';
      throw new BlockValidationError(`block ${block.header.height}: tx ${bad} (${toHex(block.txs[bad]!.hash)}) ${why}`);
    }
  }
}
