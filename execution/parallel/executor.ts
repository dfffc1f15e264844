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
import { decodeU128, encodeU128 } from '../../protocol/codec.js';
import type { SignedTx } from '../../protocol/tx.js';
import { moduleSet, type ModuleSet } from '../../contracts/registry.js';
import type { Module } from '../../contracts/types.js';
import { sortWriteSet, type StateReader, type WriteSet } from '../../state/types.js';
import { executeBlockSequential } from '../sequential.js';
import type { BlockContext, BlockExecution, BlockExecutor, TxOutcome } from '../types.js';
import { ABORT_REASON_NAMES, allocateBuffers, capacityFor, CTL, ENTRY, KIND, SharedViews, TX, TXF, type SharedBuffers } from './layout.js';
import { MultiVersionMemory, replayDeltaOps } from './mvmemory.js';
import { decodeOutcome, packEntries, packRawTxs, receiptGasUsed } from './outputs.js';
import { Scheduler } from './scheduler.js';
import type { WorkerMessage, WorkerReply } from './worker.js';

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

export class ParallelExecutor implements BlockExecutor {
  readonly name = 'parallel' as const;
  readonly opts: ParallelOptions;
  private readonly workers: Worker[] = [];
  private readonly modules: ReadonlyMap<string, Module>;
  private buffers: SharedBuffers;
  private views: SharedViews;
  private epoch = 0;
  private replicaOf: VersionedState | null = null;
  private replicaVersion = -1;
  private pending = new Map<number, { left: number; errors: string[]; resolve: () => void }>();
  private closed = false;
  /** Running estimates (EWMA, us per tx) for the adaptive policy; NaN until measured. */
  private seqUsPerTx = Number.NaN;
  private parUsPerTx = Number.NaN;
  private sinceProbe = 0;
  private finaliseSplit: Record<string, number> = {};
  private prepareSplit: Record<string, number> = {};
  private queue: Promise<unknown> = Promise.resolve();
  private readonly verifyJobs = new Map<number, (codes: Uint8Array) => void>();
  private nextJob = 0;
  private nextWorker = 0;

  private constructor(opts: ParallelOptions) {
    this.opts = opts;
    this.modules = moduleSet(opts.modules);
    this.buffers = allocateBuffers(capacityFor(1024));
    this.views = new SharedViews(this.buffers);
  }

  static async create(opts: Partial<ParallelOptions> = {}): Promise<ParallelExecutor> {
    const o = { ...DEFAULT_PARALLEL_OPTIONS, ...opts };
    if (o.workers <= 0) o.workers = Math.max(1, availableParallelism());
    const ex = new ParallelExecutor(o);
    await ex.startWorkers();
    return ex;
  }

  get workerCount(): number {
    return this.workers.length;
  }

  private async startWorkers(): Promise<void> {
    const url = new URL('./worker.js', import.meta.url);
    const ready: Promise<void>[] = [];
    for (let w = 0; w < this.opts.workers; w++) {
      // A large young generation: a block allocates many short-lived objects per tx, and
      // scavenges cost per live object, so fewer of them is cheaper (measured in docs/EXECUTION.md).
      const worker = new Worker(url, { resourceLimits: { maxYoungGenerationSizeMb: 96 } });
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
      worker.on('message', (m: WorkerReply) => {
        if (m.type === 'verified') {
          this.verifyJobs.get(m.id)?.(m.codes);
          this.verifyJobs.delete(m.id);
          return;
        }
        if (m.type !== 'done') return;
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
      worker.postMessage({ type: 'init', modules: this.opts.modules, buffers: this.buffers } satisfies WorkerMessage);
      this.workers.push(worker);
    }
    await Promise.all(ready);
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
    this.post({ type: 'buffers', buffers: this.buffers });
  }

  /**
   * Signature checks for ingestion on the worker pool: the batch is split into one chunk
   * per worker, each posted as packed bytes (one message per chunk, never per tx). Returns
   * one VERIFY code per raw tx, in order. Workers busy with a block answer after it.
   */
  async verifyBatch(raws: readonly Uint8Array[]): Promise<Uint8Array> {
    if (raws.length === 0) return new Uint8Array(0);
    const chunks = Math.min(this.workers.length, Math.ceil(raws.length / 16));
    const size = Math.ceil(raws.length / chunks);
    const parts = await Promise.all(
      Array.from({ length: chunks }, (_, c) => {
        const id = this.nextJob++;
        const packed = packRawTxs(raws.slice(c * size, (c + 1) * size));
        const worker = this.workers[this.nextWorker++ % this.workers.length]!;
        return new Promise<Uint8Array>((resolve) => {
          this.verifyJobs.set(id, resolve);
          worker.postMessage({ type: 'verify', id, packed } satisfies WorkerMessage, [packed.buffer as ArrayBuffer]);
        });
      }),
    );
    const out = new Uint8Array(raws.length);
    parts.forEach((p, c) => out.set(p, c * size));
    return out;
  }

  /** Estimates the adaptive policy works from (for stats and benchmarks). */
  get estimates(): { sequentialUsPerTx: number; parallelUsPerTx: number } {
    return { sequentialUsPerTx: this.seqUsPerTx, parallelUsPerTx: this.parUsPerTx };
  }

  private learn(kind: 'seq' | 'par', ms: number, n: number): void {
    const us = (ms * 1000) / n;
    if (kind === 'seq') this.seqUsPerTx = Number.isNaN(this.seqUsPerTx) ? us : 0.7 * this.seqUsPerTx + 0.3 * us;
    else this.parUsPerTx = Number.isNaN(this.parUsPerTx) ? us : 0.7 * this.parUsPerTx + 0.3 * us;
  }

  /** null = run in parallel; otherwise the reason to run sequentially. */
  private choose(n: number): string | null {
    if (n < this.opts.minParallelTxs) return 'small-block';
    if (!this.opts.adaptive) return null;
    if (Number.isNaN(this.parUsPerTx)) return null;
    if (Number.isNaN(this.seqUsPerTx)) return 'probe-sequential';
    const parallelWins = this.parUsPerTx < this.seqUsPerTx;
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
    const reason = this.choose(txs.length);
    if (reason !== null) {
      const r = this.sequential(ctx, txs, state, reason);
      if (reason !== 'small-block') this.learn('seq', r.stats.durationMs, txs.length);
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
    v.slots.fill(0);
    const tr1 = performance.now();
    v.ctl[CTL.INCARNATION_LIMIT] = this.opts.incarnationLimit;
    // Raw txs first in the arena, as raw | hash (32) | sender (20) so workers decode
    // without hashing again. One native concat and one copy into shared memory: many
    // small set() calls on a SharedArrayBuffer view cost ~1 us each.
    const parts: Uint8Array[] = new Array(n * 3);
    let off = 0;
    for (let i = 0; i < n; i++) {
      const t = txs[i]!;
      parts[3 * i] = t.raw;
      parts[3 * i + 1] = t.hash;
      parts[3 * i + 2] = t.sender;
      v.tx[i * TX.STRIDE + TX.TX_START] = off;
      v.tx[i * TX.STRIDE + TX.TX_LEN] = t.raw.length;
      off += t.raw.length + 52;
    }
    v.bytes.set(Buffer.concat(parts, off), 0);
    v.ctl[CTL.BYTES_USED] = off;
    this.prepareSplit = { resetMs: tr1 - tr0, copyTxsMs: performance.now() - tr1 };
    const epoch = ++this.epoch;
    const done = new Promise<{ errors: string[] }>((resolve) => {
      const entry = { left: this.workers.length, errors: [] as string[], resolve: () => resolve(entry) };
      this.pending.set(epoch, entry);
    });
    const t0 = performance.now();
    this.post({ type: 'block', epoch, ctx, n, contentionPct: this.opts.contentionPct, contentionMinSample: Math.max(this.opts.contentionMinSample, n >> 4) });
    const { errors } = await done;
    this.pending.delete(epoch);
    const t1 = performance.now();
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
   */
  private finalise(ctx: BlockContext, txs: readonly SignedTx[], state: StateReader): { outcomes: TxOutcome[]; writeSet: WriteSet; gasUsed: bigint; reexecuted: number } {
    const v = this.views;
    const mv = new MultiVersionMemory(v);
    const n = txs.length;
    let cut = n;
    for (let i = 0; i < n; i++) {
      if (v.tx[i * TX.STRIDE + TX.FLAGS]! & TXF.NEEDS_EAGER) {
        cut = i;
        break;
      }
    }
    // Replay every key's entries in tx order, up to `limit`; deltas are applied with their
    // bounds exactly as the eager path applies them (parsed in place, encoded once).
    const kc = mv.keyCount();
    const E = v.entries;
    const replay = (limit: number): { values: Map<string, Uint8Array | null>; failAt: number } => {
      const values = new Map<string, Uint8Array | null>();
      let failAt = n;
      for (let id = 0; id < kc; id++) {
        const list = mv.entriesAscending(id);
        if (list.length === 0) continue;
        let key: string | null = null;
        let cur: Uint8Array | null | undefined = undefined; // undefined: not read from storage yet
        let acc: bigint | null = null; // pending delta result, not yet encoded
        let wrote = false;
        for (const e of list) {
          const b = e * ENTRY.STRIDE;
          const tx = E[b + ENTRY.TX]!;
          if (tx >= limit) break;
          const kind = E[b + ENTRY.VER]! & 7;
          if (kind === KIND.ABSENT) continue;
          wrote = true;
          if (kind === KIND.VALUE) {
            cur = mv.bytesAt(E[b + ENTRY.VAL_OFFSET]!, E[b + ENTRY.VAL_LEN]!);
            acc = null;
          } else if (kind === KIND.DELETED) {
            cur = null;
            acc = null;
          } else if (kind === KIND.DELTA) {
            if (acc === null) {
              if (cur === undefined) cur = state.get((key ??= mv.keyString(id))) ?? null;
              acc = decodeU128(cur ?? undefined);
            }
            const next = replayDeltaOps(v.bytes, E[b + ENTRY.VAL_OFFSET]!, acc);
            if (next === null) {
              if (tx < failAt) failAt = tx;
              break;
            }
            acc = next;
          } else throw new Error(`parallel executor: entry of tx ${tx} is still ${kind === KIND.ESTIMATE ? 'ESTIMATE' : kind} after completion`);
        }
        if (!wrote) continue;
        if (acc !== null) cur = encodeU128(acc);
        if (cur !== undefined) values.set((key ??= mv.keyString(id)), cur);
      }
      return { values, failAt };
    };
    const tReplay = performance.now();
    let { values, failAt } = replay(cut);
    if (failAt < cut) {
      cut = failAt;
      ({ values } = replay(cut));
    }
    const tOutputs = performance.now();
    const outcomes: TxOutcome[] = [];
    let gasUsed = 0n;
    for (let i = 0; i < cut; i++) {
      const b = i * TX.STRIDE;
      const o = decodeOutcome(mv.bytesAt(v.tx[b + TX.OUT_START]!, v.tx[b + TX.OUT_LEN]!));
      if (o.kind === 'included') gasUsed += receiptGasUsed(o.encoded);
      outcomes.push(o);
    }
    if (cut < n) {
      // The eager semantics may differ from here on: finish sequentially on top of the prefix.
      const overlay = { get: (k: string): Uint8Array | undefined => (values.has(k) ? values.get(k) ?? undefined : state.get(k)) };
      const rest = executeBlockSequential(ctx, txs.slice(cut), overlay, this.modules);
      for (const o of rest.outcomes) outcomes.push(o);
      for (const [k, val] of rest.writeSet) values.set(k, val);
      gasUsed += rest.gasUsed;
    }
    const tSort = performance.now();
    const writeSet = sortWriteSet(values);
    const tEnd = performance.now();
    this.finaliseSplit = { replayMs: tOutputs - tReplay, outputsMs: tSort - tOutputs, sortMs: tEnd - tSort };
    return { outcomes, writeSet, gasUsed, reexecuted: n - cut };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
