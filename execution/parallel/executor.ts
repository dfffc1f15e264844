/**
 * ParallelExecutor: Block-STM on a pool of worker threads that lives as long as the node
 * (WorkerPool, pool.ts: it starts the threads and replaces one that dies).
 *
 * Per block: the main thread resets the shared scheduler, copies the raw txs into the
 * arena, posts one 'block' message per worker and awaits one 'done' per worker. Then it
 * finalises: outputs are read in order; delta bounds are replayed in tx order against the
 * committed values; from the first tx whose eager result could differ (a bound failure or
 * a failure with pending deltas), the rest of the block is re-executed sequentially on top
 * of the parallel prefix. Blocks below `minParallelTxs`, a run stopped by the incarnation
 * limit or the contention guard, a state that is not in a store the workers can open, or a
 * pool that is not complete (a worker died or is being replaced), run sequentially: every
 * such fallback is reported in the stats.
 *
 * State. Workers keep no copy of the state. The block's pre-block state is a DiskWorldState
 * (state/disk-world.ts): its committed part is in the LMDB store every worker opens
 * read-only; what the main thread has applied but not yet written is the state's overlay,
 * packed into the block message. Each worker reads a snapshot it takes when the block
 * arrives, through that overlay, and releases it at the block's end.
 */
import { availableParallelism } from 'node:os';
import type { Logger } from '../../protocol/logger.js';
import type { SignedTx } from '../../protocol/tx.js';
import { moduleSet, type ModuleSet } from '../../contracts/registry.js';
import type { Module } from '../../contracts/types.js';
import type { StateOverlay } from '../../state/disk-world.js';
import { sortWriteSet, type StateReader, type WriteSet } from '../../state/types.js';
import { runBlockEnd } from '../blockend.js';
import { executeBlockSequential, executeTxsSequential } from '../sequential.js';
import type { BlockContext, BlockExecution, BlockExecutor, TxOutcome } from '../types.js';
import { ABORT_REASON, ABORT_REASON_NAMES, allocateBuffers, capacityFor, CTL, FINAL_STRIDE, firstEagerTx, MAX_WORKERS, RUN_STRIDE, SharedViews, TX, type SharedBuffers } from './layout.js';
import { FINAL, MultiVersionMemory } from './mvmemory.js';
import { lazyIncluded } from '../outcome.js';
import { decodeOutcome, INGEST_STRIDE, OUTPUT_INCLUDED, packEntries, totalGasUsed } from './outputs.js';
import { DEFAULT_WORKER_POOL_OPTIONS, WorkerPool, type WorkerPoolDeps, type WorkerPoolStats } from './pool.js';
import { Scheduler } from './scheduler.js';
import { collectBlockStm } from './stats.js';

export { WORKER_WORK, WORKER_YOUNG_GENERATION_MB, type WorkerPoolStats, type WorkerWork } from './pool.js';

export interface ParallelOptions {
  /** Worker threads; 0 = one per core. */
  workers: number;
  /** Blocks with fewer txs run sequentially. */
  minParallelTxs: number;
  /** An incarnation number at or above this stops the run (runaway re-execution guard). */
  incarnationLimit: number;
  /** Abort when more than this percentage of started incarnations were aborted... */
  contentionPct: number;
  /** ...once at least this many incarnations (or block size / 16, if larger) have started. */
  contentionMinSample: number;
  modules: ModuleSet;
  /**
   * Choose per block between parallel and sequential from running estimates of each one's
   * cost per tx (probing the other one every `probeEvery` blocks). Off: always parallel
   * (above minParallelTxs). Timing picks the executor only; both give the same bytes.
   */
  adaptive: boolean;
  probeEvery: number;
  /** Worker restarts allowed within `workerRestartWindowMs` before the pool goes out of service (crash-loop guard, execution/parallel/pool.ts). */
  maxWorkerRestarts: number;
  workerRestartWindowMs: number;
}

export const DEFAULT_PARALLEL_OPTIONS: ParallelOptions = {
  workers: 0,
  minParallelTxs: 64,
  incarnationLimit: 32,
  contentionPct: 35,
  contentionMinSample: 128,
  modules: 'builtin',
  adaptive: true,
  probeEvery: 16,
  maxWorkerRestarts: DEFAULT_WORKER_POOL_OPTIONS.maxRestarts,
  workerRestartWindowMs: DEFAULT_WORKER_POOL_OPTIONS.restartWindowMs,
};

/** What the executor is handed: a logger for its worker pool, and the pool's test seams. */
export interface ParallelExecutorDeps {
  logger?: Logger | null;
  now?: WorkerPoolDeps['now'];
  spawnWorker?: WorkerPoolDeps['spawnWorker'];
}

/**
 * A state the workers can read: its committed part in an LMDB store (`db.path`) and the
 * blocks applied over it as an overlay (DiskWorldState). Any other StateReader (an in-memory
 * test double) runs sequentially ('state-not-shared').
 */
interface SharedState extends StateReader {
  readonly db: { readonly path: string };
  overlay(): StateOverlay;
}

function sharedState(s: StateReader): SharedState | null {
  const c = s as Partial<SharedState>;
  return typeof c.overlay === 'function' && typeof c.db?.path === 'string' ? (s as SharedState) : null;
}

/**
 * A value copied out of shared memory. Small ones (the common case: u64 nonces, u128
 * balances) go into a fresh on-heap typed array: no ArrayBuffer and backing store per value,
 * which slice() would allocate and the GC would then have to track.
 */
function copyOut(bytes: Uint8Array, offset: number, length: number): Uint8Array {
  if (length > 64) return bytes.slice(offset, offset + length);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = bytes[offset + i]!;
  return out;
}

/**
 * The adaptive policy runs this many txs in parallel before it starts measuring: the
 * workers' first blocks run cold (JIT tiers, heaps growing to steady state; ~3 blocks of
 * 10,000 txs on the dev machine), and cold measurements would lock in the sequential path
 * for `probeEvery` blocks at a time.
 */
const WARMUP_PARALLEL_TXS = 30_000;
/** Samples kept per path, and how many each needs before the policy compares. */
const SAMPLES = 5;
const MIN_SAMPLES = { par: 3, seq: 2 } as const;

function medianOf(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export class ParallelExecutor implements BlockExecutor {
  readonly name = 'parallel' as const;
  readonly opts: ParallelOptions;
  private pool!: WorkerPool;
  private readonly modules: ReadonlyMap<string, Module>;
  private buffers: SharedBuffers;
  private views: SharedViews;
  /** The main thread's view of the multi-version memory (its key-string cache persists). */
  private mv: MultiVersionMemory;
  private closed = false;
  /** The adaptive policy's recent measurements (us per tx), newest last, at most SAMPLES each. */
  private readonly seqSamples: number[] = [];
  private readonly parSamples: number[] = [];
  /** Txs run in parallel so far (see WARMUP_PARALLEL_TXS). */
  private parallelTxs = 0;
  private sinceProbe = 0;
  private finaliseSplit: Record<string, number> = {};
  private prepareSplit: Record<string, number> = {};
  private queue: Promise<unknown> = Promise.resolve();
  /** Called once, when the worker pool goes out of service (crash loop; the pool logs it). */
  onPoolLost: ((reason: string) => void) | null = null;

  private constructor(opts: ParallelOptions) {
    this.opts = opts;
    this.modules = moduleSet(opts.modules);
    this.buffers = allocateBuffers(capacityFor(1024));
    this.views = new SharedViews(this.buffers);
    this.mv = new MultiVersionMemory(this.views);
  }

  static async create(opts: Partial<ParallelOptions> = {}, deps: ParallelExecutorDeps = {}): Promise<ParallelExecutor> {
    const o = { ...DEFAULT_PARALLEL_OPTIONS, ...opts };
    if (o.workers <= 0) o.workers = Math.max(1, availableParallelism());
    o.workers = Math.min(o.workers, MAX_WORKERS);
    const ex = new ParallelExecutor(o);
    ex.pool = await WorkerPool.start(
      { workers: o.workers, modules: o.modules, maxRestarts: o.maxWorkerRestarts, restartWindowMs: o.workerRestartWindowMs },
      { logger: deps.logger ?? null, now: deps.now, spawnWorker: deps.spawnWorker, onLost: (reason) => ex.onPoolLost?.(reason) },
      ex.buffers,
    );
    return ex;
  }

  /** The shared key table: its generation (bumped when cleared) and interned key count. */
  get keyTable(): { generation: number; keys: number } {
    return { generation: this.views.ctl[CTL.KEY_GEN]!, keys: this.views.ctl[CTL.KEY_COUNT]! };
  }

  /** Workers the pool is configured with (a block runs on all of them). */
  get workerCount(): number {
    return this.pool.size;
  }

  /** False once the pool is out of service (crash loop, see execution/parallel/pool.ts) or closed; then it takes no jobs. */
  get poolAvailable(): boolean {
    return this.pool.available && !this.closed;
  }

  /** Tests only: stop worker `i` as if it had crashed (the pool replaces it). */
  killWorkerForTest(i: number): Promise<void> {
    return this.pool.killWorkerForTest(i);
  }

  private ensureCapacity(n: number, rawBytes: number): void {
    const c = this.buffers.capacity;
    const need = capacityFor(n);
    if (n <= c.txs && rawBytes * 2 + n * 2048 <= c.bytes) return;
    need.bytes = Math.max(need.bytes, rawBytes * 2 + n * 2048);
    this.buffers = allocateBuffers(need);
    this.views = new SharedViews(this.buffers);
    this.mv = new MultiVersionMemory(this.views);
    this.pool.setBuffers(this.buffers);
  }

  /**
   * Signature checks of decoded txs (a block from a peer) on the worker pool: one VERIFY
   * code per raw tx, in order (UNDECODABLE for bytes too short to hold key and signature).
   */
  verifyBatch(raws: readonly Uint8Array[]): Promise<Uint8Array> {
    return this.pool.job('verify', raws, 1);
  }

  /**
   * Ingestion on the worker pool: each raw tx is decoded (the full check of decodeTx),
   * hashed and signature-checked there. Per tx, INGEST_STRIDE bytes: a VERIFY code and the
   * hash (node/ingest.ts turns them into txs without decoding on this thread). Rejects with a
   * WorkerPoolError when the pool cannot do it (a worker exited or failed the job, the pool
   * is lost): the caller then decodes and verifies on its own thread.
   */
  ingestBatch(raws: readonly Uint8Array[]): Promise<Uint8Array> {
    return this.pool.job('ingest', raws, INGEST_STRIDE);
  }

  /** The pool's size, restarts, cumulative busy time by work and each worker's latest heap (for metrics and health). */
  poolStats(): WorkerPoolStats {
    return this.pool.stats();
  }

  /** Estimates the adaptive policy works from (for stats and benchmarks). */
  get estimates(): { sequentialUsPerTx: number; parallelUsPerTx: number; settled: boolean } {
    return { sequentialUsPerTx: medianOf(this.seqSamples), parallelUsPerTx: medianOf(this.parSamples), settled: this.parSamples.length >= MIN_SAMPLES.par && this.seqSamples.length >= MIN_SAMPLES.seq };
  }

  private learn(kind: 'seq' | 'par', ms: number, n: number): void {
    const us = (ms * 1000) / n;
    const into = kind === 'seq' ? this.seqSamples : this.parSamples;
    if (kind === 'par') {
      const warm = this.parallelTxs >= WARMUP_PARALLEL_TXS;
      this.parallelTxs += n;
      if (!warm) return;
    }
    into.push(us);
    if (into.length > SAMPLES) into.shift();
  }

  /** null = run in parallel; otherwise the reason to run sequentially. */
  private choose(n: number): string | null {
    if (n < this.opts.minParallelTxs) return 'small-block';
    if (!this.opts.adaptive) return null;
    // Warm the workers up, then measure parallel, then sequential, then compare the medians
    // of the recent samples (one outlier block must not decide for the next probeEvery).
    if (this.parSamples.length < MIN_SAMPLES.par) return null;
    if (this.seqSamples.length < MIN_SAMPLES.seq) return 'probe-sequential';
    const parallelWins = medianOf(this.parSamples) < medianOf(this.seqSamples);
    if (++this.sinceProbe >= this.opts.probeEvery) {
      this.sinceProbe = 0;
      return parallelWins ? 'probe-sequential' : null;
    }
    return parallelWins ? null : 'parallel-slower';
  }

  /**
   * One block at a time: the shared buffers and the workers serve a single block, so
   * overlapping calls are queued (the node never overlaps them; the guard makes misuse safe).
   */
  execute(ctx: BlockContext, txs: readonly SignedTx[], state: StateReader): Promise<BlockExecution> {
    if (this.closed) return Promise.reject(new Error('parallel executor is closed'));
    const run = this.queue.then(() => this.executeOne(ctx, txs, state));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async executeOne(ctx: BlockContext, txs: readonly SignedTx[], state: StateReader): Promise<BlockExecution> {
    const reason = !this.pool.available ? 'pool-lost' : !this.pool.complete ? 'pool-restarting' : this.choose(txs.length);
    if (reason !== null) {
      const r = this.sequential(ctx, txs, state, reason);
      if (reason !== 'small-block' && reason !== 'pool-lost' && reason !== 'pool-restarting') this.learn('seq', r.stats.durationMs, txs.length);
      return r;
    }
    const r = await this.executeParallel(ctx, txs, state);
    // The cost of trying parallel counts (aborted runs included); a block that never reached
    // the workers, or lost one, does not.
    if (r.stats.fallback !== 'state-not-shared' && r.stats.fallback !== 'worker-exited') this.learn('par', r.stats.durationMs, txs.length);
    // Stats only (debug_blockExecution): read from the shared memory the run left behind.
    if (r.stats.fallback === 'state-not-shared') return r;
    const stopped = Atomics.load(this.views.ctl, CTL.ABORT) !== 0 || r.stats.fallback === 'worker-exited' || r.stats.fallback?.startsWith('worker-error') === true;
    return { ...r, stats: { ...r.stats, blockStm: collectBlockStm(this.views, (id) => this.mv.keyString(id), txs.length, !stopped) } };
  }

  private async executeParallel(ctx: BlockContext, txs: readonly SignedTx[], state: StateReader): Promise<BlockExecution> {
    const shared = sharedState(state);
    if (shared === null) return this.sequential(ctx, txs, state, 'state-not-shared');
    const start = performance.now();
    // What the workers lay over their own snapshot of the store: the applied blocks not yet
    // written (with the pipelined producer, at most the previous block's write set).
    const overlay = shared.overlay();
    const packedOverlay = overlay.writes.size > 0 ? packEntries(overlay.writes) : null;
    const n = txs.length;
    let rawBytes = 0;
    for (const t of txs) rawBytes += t.raw.length + 52;
    this.ensureCapacity(n, rawBytes);
    const v = this.views;
    const tr0 = performance.now();
    Scheduler.reset(v, n);
    MultiVersionMemory.prepareKeyTable(v);
    this.mv.beginBlock();
    const tr1 = performance.now();
    v.ctl[CTL.INCARNATION_LIMIT] = this.opts.incarnationLimit;
    v.ctl[CTL.FAIL_AT] = n;
    // The raw txs go first in the arena, each as raw | hash (32) | sender (20) so workers
    // decode without hashing again. The block is posted first and the copy published in
    // chunks (CTL.TXS_READY): workers start on the first txs while the rest is copied.
    v.ctl[CTL.BYTES_USED] = rawBytes;
    const t0 = performance.now();
    // A worker that exits during the run: the others are stopped through the scheduler and
    // the run ends once each has left it (never while one is still on the shared buffers).
    // (A refusal cannot happen: executeOne checked the pool in this same tick. Were it to, the
    // block would fall back like one a worker failed.)
    const done = this.pool
      .runBlock(
        {
          ctx, n, contentionPct: this.opts.contentionPct, contentionMinSample: Math.max(this.opts.contentionMinSample, n >> 4),
          statePath: shared.db.path, overlay: packedOverlay, overlayBase: overlay.minHeight,
        },
        () => new Scheduler(v).abort(ABORT_REASON.WORKER_EXITED),
      )
      .catch((e: unknown) => ({ errors: [`the pool refused the block: ${e instanceof Error ? e.message : String(e)}`], exited: 0 }));
    const bytes = v.bytes;
    const txw = v.tx;
    let off = 0;
    try {
      for (let i = 0; i < n; i++) {
        const t = txs[i]!;
        const len = t.raw.length;
        txw[i * TX.STRIDE + TX.TX_START] = off;
        txw[i * TX.STRIDE + TX.TX_LEN] = len;
        bytes.set(t.raw, off);
        bytes.set(t.hash, off + len);
        bytes.set(t.sender, off + len + 32);
        off += len + 52;
        if ((i & 63) === 63 || i === n - 1) {
          Atomics.store(v.ctl, CTL.TXS_READY, i + 1);
          Atomics.notify(v.ctl, CTL.TXS_READY);
        }
      }
    } catch (e) {
      // Stop the workers (they must not wait for the rest), then let the block fall back.
      new Scheduler(v).abort(ABORT_REASON.WORKER_ERROR);
      await done;
      throw e;
    }
    this.prepareSplit = { resetMs: tr1 - tr0, copyTxsMs: performance.now() - t0 };
    const { errors, exited } = await done;
    const t1 = performance.now();
    this.pool.addBusy('execute', v.ctl[CTL.EXEC_US]! / 1000);
    this.pool.addBusy('validate', v.ctl[CTL.VALIDATE_US]! / 1000);
    this.pool.addBusy('finalise', v.ctl[CTL.FINALISE_US]! / 1000);
    const abort = Atomics.load(v.ctl, CTL.ABORT);
    const counters = {
      incarnations: v.ctl[CTL.INCARNATIONS]!,
      validations: v.ctl[CTL.VALIDATIONS]!,
      dependencyWaits: v.ctl[CTL.DEPENDENCY_WAITS]!,
    };
    if (errors.length > 0 || abort !== 0) {
      // A worker error is a bug, a worker exit too (the pool replaces the thread); the block
      // still gets the reference result.
      const reason = exited > 0 ? 'worker-exited' : errors.length > 0 ? `worker-error: ${errors[0]!.split('\n')[0]}` : ABORT_REASON_NAMES[abort] ?? `abort-${abort}`;
      const seqStart = performance.now();
      const r = this.sequential(ctx, txs, state, reason);
      return { ...r, stats: { ...r.stats, ...counters, incarnations: counters.incarnations + n, durationMs: performance.now() - start, timings: { prepareMs: t0 - start, parallelMs: t1 - t0, finaliseMs: performance.now() - seqStart } } };
    }
    const fin = this.finalise(ctx, txs, state);
    // The block-end phase, on the main thread over the final result (as the sequential executor).
    const tEnd = performance.now();
    const end = runBlockEnd(ctx, txs, fin.outcomes, fin.writeSet, state, this.modules);
    const t2 = performance.now();
    const workersMs = this.pool.size * (t1 - t0);
    return {
      outcomes: end.outcomes,
      writeSet: end.writeSet,
      gasUsed: fin.gasUsed,
      stats: {
        executor: 'parallel',
        txs: n,
        durationMs: t2 - start,
        incarnations: counters.incarnations + fin.reexecuted,
        validations: counters.validations,
        dependencyWaits: counters.dependencyWaits,
        fallback: fin.reexecuted > 0 ? `suffix-from-${n - fin.reexecuted}` : null,
        timings: {
          prepareMs: t0 - start,
          parallelMs: t1 - t0,
          finaliseMs: t2 - t1,
          ...this.prepareSplit,
          ...this.finaliseSplit,
          blockEndMs: t2 - tEnd,
          executeShare: workersMs > 0 ? v.ctl[CTL.EXEC_US]! / 1000 / workersMs : 0,
          validateShare: workersMs > 0 ? v.ctl[CTL.VALIDATE_US]! / 1000 / workersMs : 0,
          finaliseShare: workersMs > 0 ? v.ctl[CTL.FINALISE_US]! / 1000 / workersMs : 0,
          idleShare: workersMs > 0 ? v.ctl[CTL.IDLE_US]! / 1000 / workersMs : 0,
        },
      },
    };
  }

  private sequential(ctx: BlockContext, txs: readonly SignedTx[], state: StateReader, reason: string): BlockExecution {
    const r = executeBlockSequential(ctx, txs, state, this.modules);
    return { ...r, stats: { ...r.stats, executor: 'parallel', fallback: reason } };
  }

  /**
   * In tx order: outputs, the first tx that must be re-executed eagerly, and every key's
   * final value with delta bounds replayed exactly as the sequential executor applies them.
   * Normally the workers have replayed and sorted their share of the keys already, and the
   * main thread merges their runs; from a tx that needs eager re-execution or a failed
   * bound on, it finishes the block sequentially on top of the prefix.
   */
  private finalise(ctx: BlockContext, txs: readonly SignedTx[], state: StateReader): { outcomes: TxOutcome[]; writeSet: WriteSet; gasUsed: bigint; reexecuted: number } {
    const v = this.views;
    const mv = this.mv;
    const n = txs.length;
    let cut = firstEagerTx(v, n);
    const tReplay = performance.now();
    const failAt = v.ctl[CTL.FAIL_AT]!;
    let writeSet: WriteSet | null = null;
    let values: Map<string, Uint8Array | null> | null = null;
    if (cut === n && failAt >= n) writeSet = this.mergeRuns();
    else {
      // Rare: replay every touched key on this thread, up to the first tx whose result may differ.
      const storage = (id: number): Uint8Array | undefined => state.get(mv.keyString(id));
      const keys = mv.touchedKeys();
      const replay = (limit: number): { values: Map<string, Uint8Array | null>; failAt: number } => {
        const out = new Map<string, Uint8Array | null>();
        let fail = n;
        for (const k of keys) {
          const f = mv.replayKey(k, limit, storage);
          if (f.kind === FINAL.FAILED) fail = Math.min(fail, f.failTx);
          else if (f.kind === FINAL.VALUE) out.set(mv.keyString(k), copyOut(v.bytes, f.offset, f.length));
          else if (f.kind === FINAL.DELETED) out.set(mv.keyString(k), null);
          else if (f.kind === FINAL.COMPUTED) out.set(mv.keyString(k), f.computed!);
        }
        return { values: out, failAt: fail };
      };
      let r = replay(cut);
      if (r.failAt < cut) {
        cut = r.failAt;
        r = replay(cut);
      }
      values = r.values;
    }
    const tOutputs = performance.now();
    // Every output copied out of shared memory into one buffer (one allocation, not one per tx).
    let outBytes = 0;
    for (let i = 0; i < cut; i++) outBytes += v.tx[i * TX.STRIDE + TX.OUT_LEN]!;
    const outBuf = new Uint8Array(outBytes);
    const outcomes: TxOutcome[] = new Array(cut);
    for (let i = 0, at = 0; i < cut; i++) {
      const b = i * TX.STRIDE;
      const start = v.tx[b + TX.OUT_START]!;
      const len = v.tx[b + TX.OUT_LEN]!;
      if (v.bytes[start] === OUTPUT_INCLUDED) {
        // The encoded receipt, without the tag byte: one view, decoded on first access.
        outBuf.set(v.bytes.subarray(start + 1, start + len), at);
        outcomes[i] = lazyIncluded(outBuf.subarray(at, at + len - 1));
      } else {
        outBuf.set(v.bytes.subarray(start, start + len), at);
        outcomes[i] = decodeOutcome(outBuf.subarray(at, at + len));
      }
      at += len;
    }
    let gasUsed = totalGasUsed(outcomes);
    if (cut < n) {
      // The eager semantics may differ from here on: finish sequentially on top of the prefix.
      const prefix = values!;
      const overlay = { get: (k: string): Uint8Array | undefined => (prefix.has(k) ? prefix.get(k) ?? undefined : state.get(k)) };
      const rest = executeTxsSequential(ctx, txs.slice(cut), overlay, this.modules);
      for (const o of rest.outcomes) outcomes.push(o);
      for (const [k, val] of rest.writeSet) prefix.set(k, val);
      gasUsed += rest.gasUsed;
    }
    const tSort = performance.now();
    if (writeSet === null) writeSet = sortWriteSet(values!);
    const tEnd = performance.now();
    this.finaliseSplit = { replayMs: tOutputs - tReplay, outputsMs: tSort - tOutputs, sortMs: tEnd - tSort };
    return { outcomes, writeSet, gasUsed, reexecuted: n - cut };
  }

  /** The workers' sorted runs of final values (CTL.RUNS, `final`), merged into one write set. */
  private mergeRuns(): WriteSet {
    const v = this.views;
    const mv = this.mv;
    const W = this.pool.size;
    const pos: number[] = [];
    const end: number[] = [];
    let total = 0;
    for (let w = 0; w < W; w++) {
      const start = v.ctl[CTL.RUNS + RUN_STRIDE * w]!;
      const count = v.ctl[CTL.RUNS + RUN_STRIDE * w + 1]!;
      pos.push(start);
      end.push(start + count);
      total += count;
    }
    const F = v.final;
    const heads: (string | null)[] = pos.map((p, w) => (p < end[w]! ? mv.keyString(F[p * FINAL_STRIDE]!) : null));
    const out: (readonly [string, Uint8Array | null])[] = new Array(total);
    for (let j = 0; j < total; j++) {
      let best = -1;
      for (let w = 0; w < W; w++) {
        const h = heads[w];
        if (h !== null && (best === -1 || h < heads[best]!)) best = w;
      }
      const r = pos[best]! * FINAL_STRIDE;
      const len = F[r + 2]!;
      out[j] = [heads[best]!, len < 0 ? null : copyOut(v.bytes, F[r + 1]!, len)];
      const p = ++pos[best]!;
      heads[best] = p < end[best]! ? mv.keyString(F[p * FINAL_STRIDE]!) : null;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    await this.pool.close();
  }
}
