/**
 * BlockProducer: the single-validator devnet consensus. Blocks are built as soon as txs are
 * ready, up to `maxBlockTxs`, at least `blockTimeMs` apart (0 = as fast as possible). In
 * `manual` mining mode blocks are only built by `mine()` (JSON-RPC dev_mine), which also
 * builds empty blocks.
 *
 * Production is pipelined, depth 1: block N is applied in memory (Chain.apply) and its batch
 * written in the background while block N+1 is selected, executed and its state root
 * computed on top of N. Ordering, per block N:
 *   1. N+1 may be proposed (execute + state root) while N's batch is being written.
 *   2. N+1 is applied only after N's write completed and N was reported: at most one block is
 *      ever ahead of disk, and batches are written one at a time in height order.
 *   3. N is reported (Chain `block` event, then `onProposalCommitted`, then the log line) only
 *      after its batch is on disk. Its txs leave the mempool at apply time (so N+1 does not
 *      select them again); their journal entries are deleted in N's own batch, so a crash
 *      before it lands re-admits them at restart.
 *   4. A failed write is fatal: `onFatal` is called once, nothing later is applied or
 *      reported, and the Chain refuses further work (WRITE_FAILED).
 * `mine()` resolves only once every block it built is written; `stop()` waits for the last
 * write before the node closes the store.
 */
import type { Logger } from '../protocol/logger.js';
import type { Block } from '../protocol/block.js';
import type { Chain, Proposal } from './chain.js';
import type { DroppedTx, Mempool } from './mempool.js';

export interface ProducerOptions {
  blockTimeMs: number;
  maxBlockTxs: number;
  mining: 'auto' | 'manual';
}

/** Time of a block's commit stages that the pipeline adds (ms). */
export interface PipelineTimings {
  /**
   * How long this block, executed and ready, waited for its parent's write to finish before
   * it could be applied: the part of the parent's write that execution did not hide.
   */
  parentWriteWaitMs: number;
}

export interface ProducerDeps {
  chain: Chain;
  mempool: Mempool;
  proposer: Uint8Array;
  logger: Logger;
  /**
   * Called with every committed proposal, once its batch is on disk, in height order, with
   * the txs the mempool dropped after it and the time from apply to written (`commitMs`).
   */
  onProposalCommitted?: (p: Proposal, dropped: readonly DroppedTx[], commitMs: number, pipeline: PipelineTimings) => void;
  /** Fatal errors (e.g. the disk write failed): the node must stop. Called at most once. */
  onFatal: (e: unknown) => void;
  now?: () => number;
}

export class BlockProducer {
  private queue: Promise<unknown> = Promise.resolve();
  /** The last applied block's write and report; never rejects (a failure goes to fail()). */
  private lastWrite: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private stopped = true;
  private lastBlockAt = 0;

  constructor(private readonly opts: ProducerOptions, private readonly deps: ProducerDeps) {}

  start(): void {
    if (this.failure) return;
    this.stopped = false;
    this.notify();
  }

  /** Stops producing and waits for the block being built and the last write. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.queue.catch(() => undefined);
    await this.lastWrite;
  }

  /** New txs arrived (or a block finished): schedule a block if auto mining. */
  notify(): void {
    if (this.stopped || this.opts.mining !== 'auto' || this.scheduled) return;
    if (this.deps.mempool.size === 0) return;
    this.scheduled = true;
    const now = (this.deps.now ?? Date.now)();
    const wait = Math.max(0, this.lastBlockAt + this.opts.blockTimeMs - now);
    const run = (): void => {
      this.timer = null;
      this.enqueue(async () => {
        this.scheduled = false;
        const b = await this.produce(false);
        if (b) this.notify();
      });
    };
    if (wait > 0) this.timer = setTimeout(run, wait);
    else setImmediate(run);
  }

  /** Build `count` blocks now, empty ones included (dev_mine). Resolves once all are written. */
  mine(count: number): Promise<Block[]> {
    return this.enqueue(async () => {
      const out: Block[] = [];
      for (let i = 0; i < count; i++) {
        const b = await this.produce(true);
        if (b) out.push(b);
      }
      await this.lastWrite;
      this.throwIfFailed();
      return out;
    });
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const p = this.queue.then(job);
    this.queue = p.catch((e: unknown) => this.fail(e));
    return p;
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  /** The first failure stops production and is reported once. */
  private fail(e: unknown): void {
    if (this.failure) return;
    this.failure = { error: e };
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.deps.logger.error('block production failed', { error: String(e) });
    this.deps.onFatal(e);
  }

  /** Proposes the next block (overlapping the previous block's write), then applies it once that write is done. */
  private async produce(force: boolean): Promise<Block | null> {
    this.throwIfFailed();
    if (this.stopped && !force) return null;
    const { chain, mempool } = this.deps;
    const txs = mempool.select(this.opts.maxBlockTxs);
    if (txs.length === 0 && !force) return null;
    const now = BigInt((this.deps.now ?? Date.now)());
    const parentTs = chain.appliedHead.header.timestamp;
    const proposal = await chain.propose(txs, now > parentTs ? now : parentTs, this.deps.proposer);
    // Depth 1: the parent must be on disk (and reported) before this block is applied.
    const w0 = performance.now();
    await this.lastWrite;
    const parentWriteWaitMs = performance.now() - w0;
    this.throwIfFailed();
    const c0 = performance.now();
    const { written } = chain.apply(proposal, txs.map((t) => t.hash));
    this.lastBlockAt = (this.deps.now ?? Date.now)();
    // Out of the pool now, so the next block does not select them; still in the journal until this batch lands.
    const dropped = mempool.afterBlock(proposal.block.txs, proposal.discarded.map((d) => d.tx));
    this.lastWrite = written
      .then(() => this.committed(proposal, dropped, performance.now() - c0, { parentWriteWaitMs }))
      .catch((e: unknown) => this.fail(e));
    return proposal.block;
  }

  /** Runs once the block's batch is on disk (the Chain has emitted `block` already). */
  private committed(proposal: Proposal, dropped: readonly DroppedTx[], commitMs: number, pipeline: PipelineTimings): void {
    this.deps.onProposalCommitted?.(proposal, dropped, commitMs, pipeline);
    const h = proposal.block.header;
    this.deps.logger.info('block committed', {
      height: Number(h.height), txs: h.txCount, discarded: proposal.discarded.length,
      executeMs: +proposal.timings.executeMs.toFixed(1), rootMs: +proposal.timings.rootMs.toFixed(1), commitMs: +commitMs.toFixed(1),
      parentWriteWaitMs: +pipeline.parentWriteWaitMs.toFixed(1),
      executor: proposal.stats.fallback ? `sequential (${proposal.stats.fallback})` : proposal.stats.executor,
    });
  }
}
