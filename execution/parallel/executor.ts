/**
 * ParallelExecutor: Block-STM on a pool of worker threads that lives as long as the node.
 *
 * Per block: the main thread resets the shared scheduler, copies the raw txs into the
 * arena, posts one 'block' message per worker and awaits one 'done' per worker. Then it
 * finalises: outputs are read in order; delta bounds are replayed in tx order against the
 * committed values; from the first tx whose eager result could differ (a bound failure or
 * a failure with pending deltas), the rest of the block is re-executed sequentially on top
 * of the parallel prefix. Blocks below `minParallelTxs`, a run stopped by the incarnation
 * limit or the contention guard, or a state the replicas do not hold, run sequentially:
 * every such fallback is reported in the stats.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { SignedTx } from '../../protocol/tx.js';
import { moduleSet, type ModuleSet } from '../../contracts/registry.js';
import type { Module } from '../../contracts/types.js';
import { sortWriteSet, type StateReader, type WriteSet } from '../../state/types.js';
import { executeBlockSequential } from '../sequential.js';
import type { BlockContext, BlockExecution, BlockExecutor, TxOutcome } from '../types.js';
import { ABORT_REASON, ABORT_REASON_NAMES, allocateBuffers, capacityFor, CTL, FINAL_STRIDE, firstEagerTx, MAX_WORKERS, RUN_STRIDE, SharedViews, TX, type SharedBuffers } from './layout.js';
import { FINAL, MultiVersionMemory } from './mvmemory.js';
import { decodeOutcome, INGEST_STRIDE, lazyIncluded, OUTPUT_INCLUDED, packEntries, packRawTxs, totalGasUsed } from './outputs.js';
import { Scheduler } from './scheduler.js';
import type { WorkerHeap, WorkerMessage, WorkerReply } from './worker.js';

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
};

/** A state the executor can keep worker replicas of: WorldState has `version` bumped per commit. */
interface VersionedState extends StateReader {
  readonly version?: number;
  entries?(): Iterable<readonly [string, Uint8Array]>;
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
/** Each worker's young-generation cap (Worker resourceLimits); see startWorkers. */
export const WORKER_YOUNG_GENERATION_MB = 8;

/**
 * What the pool's workers spend their time on: Block-STM execution, validation and output
 * finalisation of parallel blocks, and the signature checks of ingestion (`ingestBatch`) and
 * of blocks from peers (`verifyBatch`).
 */
export type WorkerWork = 'execute' | 'validate' | 'finalise' | 'ingest' | 'verify';
export const WORKER_WORK: readonly WorkerWork[] = ['execute', 'validate', 'finalise', 'ingest', 'verify'];

export interface WorkerPoolStats {
  /** Workers in service: 0 once the pool is lost (see `poolAvailable`). */
  readonly workers: number;
  /** Worker-thread ms spent working since the pool started, summed over workers. */
  readonly busyMs: Readonly<Record<WorkerWork, number>>;
  /** Each worker's heap after its latest block or job; null before its first. */
  readonly heaps: readonly (WorkerHeap | null)[];
}
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
  private readonly workers: Worker[] = [];
  private readonly modules: ReadonlyMap<string, Module>;
  private buffers: SharedBuffers;
  private views: SharedViews;
  /** The main thread's view of the multi-version memory (its key-string cache persists). */
  private mv: MultiVersionMemory;
  private epoch = 0;
  private replicaOf: VersionedState | null = null;
  private replicaVersion = -1;
  private pending = new Map<number, { left: number; errors: string[]; resolve: () => void }>();
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
  private readonly poolJobs = new Map<number, { work: 'verify' | 'ingest'; resolve: (out: Uint8Array) => void; reject: (e: Error) => void }>();
  /** Why the pool stopped working (a worker exited), or null while it works. */
  private lost: string | null = null;
  /** Called once, when the pool is lost (the node logs it). */
  onPoolLost: ((reason: string) => void) | null = null;
  private nextJob = 0;
  private nextWorker = 0;
  /** Worker-thread ms spent working since the pool started, summed over workers, by work. */
  private readonly busy: Record<WorkerWork, number> = { execute: 0, validate: 0, finalise: 0, ingest: 0, verify: 0 };
  /** Each worker's heap as it reported it last (null before its first block or job). */
  private readonly heaps: (WorkerHeap | null)[] = [];

  private constructor(opts: ParallelOptions) {
    this.opts = opts;
    this.modules = moduleSet(opts.modules);
    this.buffers = allocateBuffers(capacityFor(1024));
    this.views = new SharedViews(this.buffers);
    this.mv = new MultiVersionMemory(this.views);
  }

  static async create(opts: Partial<ParallelOptions> = {}): Promise<ParallelExecutor> {
    const o = { ...DEFAULT_PARALLEL_OPTIONS, ...opts };
    if (o.workers <= 0) o.workers = Math.max(1, availableParallelism());
    o.workers = Math.min(o.workers, MAX_WORKERS);
    const ex = new ParallelExecutor(o);
    await ex.startWorkers();
    return ex;
  }

  /** The shared key table: its generation (bumped when cleared) and interned key count. */
  get keyTable(): { generation: number; keys: number } {
    return { generation: this.views.ctl[CTL.KEY_GEN]!, keys: this.views.ctl[CTL.KEY_COUNT]! };
  }

  get workerCount(): number {
    return this.workers.length;
  }

  private async startWorkers(): Promise<void> {
    const url = new URL('./worker.js', import.meta.url);
    const ready: Promise<void>[] = [];
    for (let w = 0; w < this.opts.workers; w++) {
      // The young generation is capped at 8 MB, the size V8 starts a worker's at, so it never
      // grows. V8 enlarges a young generation each time the bytes surviving its collections add
      // up to its size; in a worker those are mostly the decoded txs of the block being executed,
      // so over a long run any higher cap is reached, slowly: with 32 MB both workers' young
      // generations went 8 -> 32 MB over a 1,000,000-tx run, half of the node's RSS growth after
      // the first 100,000 txs. 8 and 32 ran alike in bench executor and bench rpc. A process-wide
      // --max-semi-space-size would override this cap (see node/heap.ts).
      const worker = new Worker(url, { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
      ready.push(
        new Promise<void>((resolve, reject) => {
          const onMsg = (m: WorkerReply): void => {
            if (m.type === 'ready') {
              worker.off('message', onMsg);
              resolve();
            }
          };
          worker.on('message', onMsg);
          worker.once('error', reject);
        }),
      );
      this.heaps.push(null);
      worker.on('message', (m: WorkerReply) => {
        if (m.type === 'ready') return;
        this.heaps[w] = m.heap;
        if (m.type === 'job') {
          const job = this.poolJobs.get(m.id);
          this.poolJobs.delete(m.id);
          if (!job) return;
          this.busy[job.work] += m.busyMs;
          job.resolve(m.out);
          return;
        }
        const p = this.pending.get(m.epoch);
        if (!p) return;
        if (m.error) p.errors.push(m.error);
        if (--p.left === 0) p.resolve();
      });
      worker.on('error', (e) => {
        for (const p of this.pending.values()) {
          p.errors.push(String(e));
          p.resolve();
        }
      });
      worker.on('exit', (code) => {
        if (!this.closed) this.loseWorkers(`worker ${w} exited (code ${code})`);
      });
      worker.postMessage({ type: 'init', modules: this.opts.modules, buffers: this.buffers, index: w } satisfies WorkerMessage);
      this.workers.push(worker);
    }
    await Promise.all(ready);
  }

  /**
   * A worker died (an uncaught error or out of memory; it is a bug either way). Blocks and
   * signature checks can no longer count on every worker answering, so the pool is out of
   * service for good: what waits on it fails now, blocks run sequentially ('pool-lost') and
   * callers of the pool jobs check `poolAvailable` and do the work on their own thread.
   */
  private loseWorkers(reason: string): void {
    if (this.lost !== null) return;
    this.lost = reason;
    for (const p of this.pending.values()) {
      p.errors.push(reason);
      p.left = 0;
      p.resolve();
    }
    const jobs = [...this.poolJobs.values()];
    this.poolJobs.clear();
    for (const j of jobs) j.reject(new Error(`worker pool lost: ${reason}`));
    this.onPoolLost?.(reason);
  }

  /** False once a worker has died (see loseWorkers); then the pool takes no more jobs. */
  get poolAvailable(): boolean {
    return this.lost === null && !this.closed;
  }

  /** Tests only: stop worker `i` as if it had crashed. */
  async killWorkerForTest(i: number): Promise<void> {
    await this.workers[i]!.terminate();
  }

  private post(msg: WorkerMessage): void {
    for (const w of this.workers) w.postMessage(msg);
  }

  /** Give the workers a full copy of `state` (startup, or a state they do not hold). */
  private syncReplicas(state: VersionedState): boolean {
    if (!state.entries || state.version === undefined) return false;
    this.post({ type: 'state', packed: packEntries(state.entries()), reset: true });
    this.replicaOf = state;
    this.replicaVersion = state.version;
    return true;
  }

  onCommit(writeSet: WriteSet): void {
    if (this.replicaOf === null || this.workers.length === 0) return;
    this.post({ type: 'state', packed: packEntries(writeSet), reset: false });
    this.replicaVersion++;
  }

  private ensureCapacity(n: number, rawBytes: number): void {
    const c = this.buffers.capacity;
    const need = capacityFor(n);
    if (n <= c.txs && rawBytes * 2 + n * 2048 <= c.bytes) return;
    need.bytes = Math.max(need.bytes, rawBytes * 2 + n * 2048);
    this.buffers = allocateBuffers(need);
    this.views = new SharedViews(this.buffers);
    this.mv = new MultiVersionMemory(this.views);
    this.post({ type: 'buffers', buffers: this.buffers });
  }

  /**
   * Signature checks of decoded txs (a block from a peer) on the worker pool: one VERIFY
   * code per raw tx, in order (UNDECODABLE for bytes too short to hold key and signature).
   */
  verifyBatch(raws: readonly Uint8Array[]): Promise<Uint8Array> {
    return this.poolJob('verify', raws, 1);
  }

  /**
   * Ingestion on the worker pool: each raw tx is decoded (the full check of decodeTx),
   * hashed and signature-checked there. Per tx, INGEST_STRIDE bytes: a VERIFY code and the
   * hash (node/ingest.ts turns them into txs without decoding on this thread).
   */
  ingestBatch(raws: readonly Uint8Array[]): Promise<Uint8Array> {
    return this.poolJob('ingest', raws, INGEST_STRIDE);
  }

  /**
   * The batch is split into one chunk per worker, each posted as packed bytes (one message
   * per chunk, never per tx); `stride` result bytes per tx come back, in order. Workers busy
   * with a block answer after it.
   */
  private async poolJob(type: 'verify' | 'ingest', raws: readonly Uint8Array[], stride: number): Promise<Uint8Array> {
    if (!this.poolAvailable) throw new Error(`worker pool unavailable: ${this.lost ?? 'closed'}`);
    if (raws.length === 0) return new Uint8Array(0);
    const chunks = Math.min(this.workers.length, Math.ceil(raws.length / 16));
    const size = Math.ceil(raws.length / chunks);
    const parts = await Promise.all(
      Array.from({ length: chunks }, (_, c) => {
        const id = this.nextJob++;
        const packed = packRawTxs(raws.slice(c * size, (c + 1) * size));
        const worker = this.workers[this.nextWorker++ % this.workers.length]!;
        return new Promise<Uint8Array>((resolve, reject) => {
          this.poolJobs.set(id, { work: type, resolve, reject });
          worker.postMessage({ type, id, packed } satisfies WorkerMessage, [packed.buffer as ArrayBuffer]);
        });
      }),
    );
    if (parts.length === 1) return parts[0]!;
    const out = new Uint8Array(raws.length * stride);
    parts.forEach((p, c) => out.set(p, c * size * stride));
    return out;
  }

  /** The pool's size, its cumulative busy time by work and each worker's latest heap (for metrics). */
  poolStats(): WorkerPoolStats {
    return { workers: this.lost === null ? this.workers.length : 0, busyMs: { ...this.busy }, heaps: [...this.heaps] };
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
    const reason = this.lost !== null ? 'pool-lost' : this.choose(txs.length);
    if (reason !== null) {
      const r = this.sequential(ctx, txs, state, reason);
      if (reason !== 'small-block' && reason !== 'pool-lost') this.learn('seq', r.stats.durationMs, txs.length);
      return r;
    }
    const r = await this.executeParallel(ctx, txs, state);
    // The cost of trying parallel counts (aborted runs included); a block that never reached
    // the workers does not.
    if (r.stats.fallback !== 'state-not-replicated') this.learn('par', r.stats.durationMs, txs.length);
    return r;
  }

  private async executeParallel(ctx: BlockContext, txs: readonly SignedTx[], state: StateReader): Promise<BlockExecution> {
    const s = state as VersionedState;
    if (this.replicaOf !== s || this.replicaVersion !== s.version) {
      if (!this.syncReplicas(s)) return this.sequential(ctx, txs, state, 'state-not-replicated');
    }
    const start = performance.now();
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
    const epoch = ++this.epoch;
    const done = new Promise<{ errors: string[] }>((resolve) => {
      const entry = { left: this.workers.length, errors: [] as string[], resolve: () => resolve(entry) };
      this.pending.set(epoch, entry);
    });
    const t0 = performance.now();
    this.post({ type: 'block', epoch, ctx, n, workers: this.workers.length, contentionPct: this.opts.contentionPct, contentionMinSample: Math.max(this.opts.contentionMinSample, n >> 4) });
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
      this.pending.delete(epoch);
      throw e;
    }
    this.prepareSplit = { resetMs: tr1 - tr0, copyTxsMs: performance.now() - t0 };
    const { errors } = await done;
    this.pending.delete(epoch);
    const t1 = performance.now();
    this.busy.execute += v.ctl[CTL.EXEC_US]! / 1000;
    this.busy.validate += v.ctl[CTL.VALIDATE_US]! / 1000;
    this.busy.finalise += v.ctl[CTL.FINALISE_US]! / 1000;
    const abort = Atomics.load(v.ctl, CTL.ABORT);
    const counters = {
      incarnations: v.ctl[CTL.INCARNATIONS]!,
      validations: v.ctl[CTL.VALIDATIONS]!,
      dependencyWaits: v.ctl[CTL.DEPENDENCY_WAITS]!,
    };
    if (errors.length > 0 || abort !== 0) {
      // A worker error is a bug; the block still gets the reference result.
      const reason = errors.length > 0 ? `worker-error: ${errors[0]!.split('\n')[0]}` : ABORT_REASON_NAMES[abort] ?? `abort-${abort}`;
      const seqStart = performance.now();
      const r = this.sequential(ctx, txs, state, reason);
      return { ...r, stats: { ...r.stats, ...counters, incarnations: counters.incarnations + n, durationMs: performance.now() - start, timings: { prepareMs: t0 - start, parallelMs: t1 - t0, finaliseMs: performance.now() - seqStart } } };
    }
    const fin = this.finalise(ctx, txs, state);
    const t2 = performance.now();
    const workersMs = this.workers.length * (t1 - t0);
    return {
      outcomes: fin.outcomes,
      writeSet: fin.writeSet,
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
      const rest = executeBlockSequential(ctx, txs.slice(cut), overlay, this.modules);
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
    const W = this.workers.length;
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
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
