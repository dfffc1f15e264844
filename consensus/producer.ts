/**
 * BlockProducer: the single-validator devnet consensus. Blocks are built as soon as txs are
 * ready and the previous block has committed, up to `maxBlockTxs`, at least `blockTimeMs`
 * apart (0 = as fast as possible). In `manual` mining mode blocks are only built by
 * `mine()` (JSON-RPC dev_mine), which also builds empty blocks.
 * Block production is strictly serial: one block is proposed and committed at a time.
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

export interface ProducerDeps {
  chain: Chain;
  mempool: Mempool;
  proposer: Uint8Array;
  logger: Logger;
  /** Called with every committed proposal and the txs the mempool dropped after it. */
  onProposalCommitted?: (p: Proposal, dropped: readonly DroppedTx[], commitMs: number) => void;
  /** Fatal errors (e.g. the disk write failed): the node must stop. */
  onFatal: (e: unknown) => void;
  now?: () => number;
}

export class BlockProducer {
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private stopped = true;
  private lastBlockAt = 0;

  constructor(private readonly opts: ProducerOptions, private readonly deps: ProducerDeps) {}

  start(): void {
    this.stopped = false;
    this.notify();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.queue.catch(() => undefined);
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

  /** Build `count` blocks now, empty ones included (dev_mine). */
  mine(count: number): Promise<Block[]> {
    return this.enqueue(async () => {
      const out: Block[] = [];
      for (let i = 0; i < count; i++) {
        const b = await this.produce(true);
        if (b) out.push(b);
      }
      return out;
    });
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    const p = this.queue.then(job);
    this.queue = p.catch((e: unknown) => {
      this.deps.logger.error('block production failed', { error: String(e) });
      this.deps.onFatal(e);
    });
    return p;
  }

  private async produce(force: boolean): Promise<Block | null> {
    if (this.stopped && !force) return null;
    const { chain, mempool } = this.deps;
    const txs = mempool.select(this.opts.maxBlockTxs);
    if (txs.length === 0 && !force) return null;
    const now = BigInt((this.deps.now ?? Date.now)());
    const parentTs = chain.head.header.timestamp;
    const proposal = await chain.propose(txs, now > parentTs ? now : parentTs, this.deps.proposer);
    const removals = txs.map((t) => t.hash);
    const c0 = performance.now();
    await chain.commit(proposal, removals);
    const commitMs = performance.now() - c0;
    this.lastBlockAt = (this.deps.now ?? Date.now)();
    const dropped = mempool.afterBlock(proposal.block.txs, proposal.discarded.map((d) => d.tx));
    this.deps.onProposalCommitted?.(proposal, dropped, commitMs);
    const h = proposal.block.header;
    this.deps.logger.info('block committed', {
      height: Number(h.height), txs: h.txCount, discarded: proposal.discarded.length,
      executeMs: +proposal.timings.executeMs.toFixed(1), rootMs: +proposal.timings.rootMs.toFixed(1), commitMs: +commitMs.toFixed(1),
      executor: proposal.stats.fallback ? `sequential (${proposal.stats.fallback})` : proposal.stats.executor,
    });
    return proposal.block;
  }
}
