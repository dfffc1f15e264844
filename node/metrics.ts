/**
 * Prometheus metrics, created in one place (served at GET /metrics on the RPC port).
 * Optional: parts take `Metrics | null` and never depend on it for correctness.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Proposal } from '../consensus/chain.js';
import { WORKER_WORK, type WorkerPoolStats } from '../execution/parallel/pool.js';

export class Metrics {
  readonly registry = new Registry();
  readonly blocks = new Counter({ name: 'pel_blocks_committed_total', help: 'Blocks committed', registers: [this.registry] });
  readonly txs = new Counter({ name: 'pel_txs_committed_total', help: 'Transactions committed (included in blocks)', registers: [this.registry] });
  readonly discarded = new Counter({ name: 'pel_txs_discarded_total', help: 'Transactions left out of a block at execution (invalid by then)', labelNames: ['code'], registers: [this.registry] });
  readonly height = new Gauge({ name: 'pel_chain_height', help: 'Height of the head block', registers: [this.registry] });
  readonly mempool = new Gauge({ name: 'pel_mempool_size', help: 'Transactions in the mempool', registers: [this.registry] });
  readonly executorBlocks = new Counter({
    name: 'pel_executor_blocks_total',
    help: 'Blocks executed, by executor path: parallel, or the reason the parallel executor ran the block sequentially',
    labelNames: ['executor', 'path'],
    registers: [this.registry],
  });
  readonly incarnations = new Counter({ name: 'pel_executor_incarnations_total', help: 'Transaction executions, re-executions included', registers: [this.registry] });
  readonly validations = new Counter({ name: 'pel_executor_validations_total', help: 'Block-STM read-set validations', registers: [this.registry] });
  readonly dependencyWaits = new Counter({ name: 'pel_executor_dependency_waits_total', help: 'Block-STM suspensions on an ESTIMATE', registers: [this.registry] });
  readonly stage = new Histogram({
    name: 'pel_block_stage_seconds',
    help: 'Time per block stage',
    labelNames: ['stage'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly blockInterval = new Histogram({
    name: 'pel_block_interval_seconds',
    help: 'Time from one committed block to the next (block time), as this node saw the commits',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });
  private lastCommitAt: number | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'pel_process_' });
  }

  /**
   * The worker pool's figures, read at each scrape: the workers in service, the restarts since
   * the pool started, the seconds its workers spent working by kind of work (utilisation =
   * rate(pel_worker_busy_seconds_total[1m]) summed over `work`, divided by pel_workers), and
   * each worker's heap. Busy time counts from this call, so the start-up warm-up, which runs
   * before it, is not in it.
   */
  trackWorkers(source: () => WorkerPoolStats): void {
    const base = source().busyMs;
    new Gauge({
      name: 'pel_workers',
      help: 'Worker threads in service in the execution and signature-check pool (below the configured size while a replacement starts, 0 once the pool is lost)',
      registers: [this.registry],
      collect() {
        this.set(source().workers);
      },
    });
    new Counter({
      name: 'pel_worker_restarts_total',
      help: 'Pool workers replaced after they exited (a crash, out of memory or a bug; each is logged with its reason)',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(source().restarts);
      },
    });
    new Counter({
      name: 'pel_worker_busy_seconds_total',
      help: 'Worker-thread seconds spent working, summed over the pool, by work: execute, validate, finalise (Block-STM), ingest (decode and verify submitted txs), verify (signatures of blocks from peers)',
      labelNames: ['work'],
      registers: [this.registry],
      collect() {
        const busy = source().busyMs;
        this.reset();
        for (const work of WORKER_WORK) this.inc({ work }, Math.max(0, busy[work] - base[work]) / 1000);
      },
    });
    new Gauge({
      name: 'pel_worker_heap_bytes',
      help: 'Each pool worker\'s V8 heap after its latest block or job: space="new" and "old" are the young and old generation sizes, "used" the live bytes',
      labelNames: ['worker', 'space'],
      registers: [this.registry],
      collect() {
        this.reset();
        source().heaps.forEach((h, i) => {
          if (!h) return;
          const worker = String(i);
          this.set({ worker, space: 'new' }, h.newSpace);
          this.set({ worker, space: 'old' }, h.oldSpace);
          this.set({ worker, space: 'used' }, h.used);
        });
      },
    });
  }

  /**
   * `commitMs`: apply + durable write of the block. `parentWriteWaitMs` (pipelined producer
   * only): how long the executed block waited for its parent's write, i.e. the part of that
   * write its execution did not overlap.
   */
  onProposal(p: Proposal, commitMs: number, parentWriteWaitMs?: number): void {
    const now = performance.now();
    if (this.lastCommitAt !== null) this.blockInterval.observe((now - this.lastCommitAt) / 1000);
    this.lastCommitAt = now;
    this.blocks.inc();
    this.txs.inc(p.block.txs.length);
    this.height.set(Number(p.block.header.height));
    for (const d of p.discarded) this.discarded.inc({ code: d.code });
    const s = p.stats;
    this.executorBlocks.inc({ executor: s.executor, path: s.fallback ?? 'parallel' });
    this.incarnations.inc(s.incarnations);
    this.validations.inc(s.validations);
    this.dependencyWaits.inc(s.dependencyWaits);
    this.stage.observe({ stage: 'execute' }, p.timings.executeMs / 1000);
    this.stage.observe({ stage: 'state_root' }, p.timings.rootMs / 1000);
    this.stage.observe({ stage: 'commit' }, commitMs / 1000);
    if (parentWriteWaitMs !== undefined) this.stage.observe({ stage: 'parent_write_wait' }, parentWriteWaitMs / 1000);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
