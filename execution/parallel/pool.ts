/**
 * WorkerPool: the threads the parallel executor runs Block-STM on, which also decode and
 * verify txs for ingestion and check the signatures of blocks from peers. It owns the
 * threads and their lifecycle, not Block-STM: a block is one message to every worker and one
 * 'done' back from each (runBlock); a job is a batch of raw txs cut into one chunk per worker.
 *
 * Healing. A worker that exits (out of memory, a bug, `terminate()`) is replaced at the same
 * index: the new thread gets `init` with the current shared buffers and serves again once it
 * reports ready. Only what was on the dead thread fails: its jobs reject with a
 * WorkerPoolError (callers do them on their own thread), and a block it was in counts it as
 * done after `stop` has aborted the run for the survivors, so the block falls back to the
 * sequential result only once no survivor is left inside it. Workers hold no state: a
 * replacement opens the state store the last block named (in its `init`) and serves. Each
 * replacement bumps `generation`. While a slot is empty the pool is in service but not
 * `complete`: jobs go to the workers that are, blocks run sequentially.
 *
 * Crash loops. A replacement that exits (or reports itself broken) before it is ready, or
 * does not get ready within `readyTimeoutMs`, or a death past `maxRestarts` restarts within
 * `restartWindowMs`, puts the pool out of service for good ("lost"): every worker is stopped,
 * blocks run sequentially and callers do their jobs on their own thread. The clock only
 * decides pool operations (restart or not), never anything that reaches state.
 */
import { Worker } from 'node:worker_threads';
import type { ModuleSet } from '../../contracts/registry.js';
import { silentLogger, type Logger } from '../../protocol/logger.js';
import type { SharedBuffers } from './layout.js';
import { packRawTxs } from './outputs.js';
import type { BlockMessage, WorkerHeap, WorkerMessage, WorkerReply } from './worker.js';

/**
 * What the pool's workers spend their time on: Block-STM execution, validation and output
 * finalisation of parallel blocks, and the signature checks of ingestion (`ingest` jobs) and
 * of blocks from peers (`verify` jobs).
 */
export type WorkerWork = 'execute' | 'validate' | 'finalise' | 'ingest' | 'verify';
export const WORKER_WORK: readonly WorkerWork[] = ['execute', 'validate', 'finalise', 'ingest', 'verify'];
export type JobKind = 'verify' | 'ingest';

/** Each worker's young-generation cap (Worker resourceLimits); see spawnPoolWorker. */
export const WORKER_YOUNG_GENERATION_MB = 8;

export interface WorkerPoolOptions {
  /** Threads the pool keeps in service (>= 1). */
  workers: number;
  modules: ModuleSet;
  /** Crash-loop guard: a worker death when this many restarts happened in the last `restartWindowMs` puts the pool out of service. */
  maxRestarts: number;
  restartWindowMs: number;
  /** A worker that has not reported ready this long after it was started counts as failed to start. */
  readyTimeoutMs: number;
}

export const DEFAULT_WORKER_POOL_OPTIONS: Omit<WorkerPoolOptions, 'workers' | 'modules'> = {
  maxRestarts: 5,
  restartWindowMs: 60_000,
  readyTimeoutMs: 30_000,
};

export interface WorkerPoolDeps {
  logger?: Logger | null;
  /** Milliseconds from a monotonic clock, for the restart budget (default performance.now). */
  now?: () => number;
  /** Makes the thread for slot `index` (default spawnPoolWorker); tests pass threads that fail. */
  spawnWorker?: (index: number, restart: boolean) => Worker;
  /** Called once, when the pool goes out of service, with the reason. */
  onLost?: (reason: string) => void;
}

export interface WorkerPoolStats {
  /** Workers the pool was configured with. */
  readonly configured: number;
  /** Workers in service (started, ready, not exited): below `configured` while a replacement starts, 0 once the pool is lost. */
  readonly workers: number;
  /** Replacement workers started since the pool started. */
  readonly restarts: number;
  /** Why the pool went out of service, or null while it serves. */
  readonly lost: string | null;
  /** Worker-thread ms spent working since the pool started, summed over workers, by work. */
  readonly busyMs: Readonly<Record<WorkerWork, number>>;
  /** Each worker's heap after its latest block or job; null before its first (and for an empty slot). */
  readonly heaps: readonly (WorkerHeap | null)[];
}

export type WorkerPoolErrorCode =
  /** The worker a job was on exited before answering. */
  | 'WORKER_EXITED'
  /** The worker answered the job with an error (bad input it should have survived, or a bug). */
  | 'JOB_FAILED'
  /** No worker is in service right now (every slot is being replaced). */
  | 'NO_WORKER'
  /** The pool is out of service (crash loop) or closed. */
  | 'POOL_LOST'
  | 'CLOSED'
  /** A worker did not get ready (start-up, or a replacement). */
  | 'START_FAILED'
  /** runBlock while a slot has no worker in service. */
  | 'NOT_COMPLETE'
  /** runBlock while another block runs (the executor queues blocks: a bug). */
  | 'BLOCK_RUNNING';

/** A pool operation that failed; callers of jobs do the work on their own thread instead. */
export class WorkerPoolError extends Error {
  readonly code: WorkerPoolErrorCode;
  constructor(code: WorkerPoolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkerPoolError';
    this.code = code;
  }

  /** By name, not instanceof: tests load the pool from dist/ and its callers from the sources. */
  static is(e: unknown): e is WorkerPoolError {
    return e instanceof Error && e.name === 'WorkerPoolError';
  }
}

/** The block run's outcome: workers' error messages, and how many workers left it unfinished (exited or broke). */
export interface BlockRun {
  readonly errors: readonly string[];
  readonly exited: number;
}

/** The real worker thread for a slot (compiled worker.js next to this file). */
export function spawnPoolWorker(): Worker {
  // The young generation is capped at 8 MB, the size V8 starts a worker's at, so it never
  // grows. V8 enlarges a young generation each time the bytes surviving its collections add
  // up to its size; in a worker those are mostly the decoded txs of the block being executed,
  // so over a long run any higher cap is reached, slowly: with 32 MB both workers' young
  // generations went 8 -> 32 MB over a 1,000,000-tx run, half of the node's RSS growth after
  // the first 100,000 txs. 8 and 32 ran alike in bench executor and bench rpc. A process-wide
  // --max-semi-space-size would override this cap (see node/heap.ts).
  return new Worker(new URL('./worker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
}

interface Slot {
  readonly index: number;
  /** The slot's current thread (starting or in service); null once it exited. */
  worker: Worker | null;
  /** Reported ready and has not exited since. */
  inService: boolean;
  heap: WorkerHeap | null;
  /** The thread's uncaught error, when its 'error' event came before its exit. */
  lastError: Error | null;
}

interface Job {
  readonly worker: Worker;
  readonly slot: number;
  readonly work: JobKind;
  readonly resolve: (out: Uint8Array) => void;
  readonly reject: (e: Error) => void;
}

interface RunningBlock {
  readonly epoch: number;
  /** Workers that have not answered yet (a worker that exits is taken out and counted). */
  readonly waiting: Set<Worker>;
  readonly errors: string[];
  exited: number;
  readonly stop: () => void;
  readonly resolve: (r: BlockRun) => void;
}

export class WorkerPool {
  readonly opts: WorkerPoolOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly spawnWorker: (index: number, restart: boolean) => Worker;
  private readonly onLost: ((reason: string) => void) | null;
  private readonly slots: Slot[] = [];
  private buffers: SharedBuffers;
  /** The state store the last block read: a replacement opens it at init. */
  private statePath: string | null = null;
  private readonly jobs = new Map<number, Job>();
  private nextJob = 0;
  private nextWorker = 0;
  private epoch = 0;
  private block: RunningBlock | null = null;
  private lostReason: string | null = null;
  private closed = false;
  private restartCount = 0;
  /** When each recent restart happened (now()), oldest first: the crash-loop budget. */
  private readonly restartTimes: number[] = [];
  private workerGeneration = 0;
  private readonly readyTimers = new Set<NodeJS.Timeout>();
  private readonly busy: Record<WorkerWork, number> = { execute: 0, validate: 0, finalise: 0, ingest: 0, verify: 0 };

  private constructor(opts: WorkerPoolOptions, deps: WorkerPoolDeps, buffers: SharedBuffers) {
    this.opts = opts;
    this.log = deps.logger ?? silentLogger;
    this.now = deps.now ?? (() => performance.now());
    this.spawnWorker = deps.spawnWorker ?? (() => spawnPoolWorker());
    this.onLost = deps.onLost ?? null;
    this.buffers = buffers;
  }

  /** Starts every worker and resolves once all are ready; if one fails, stops the others and rejects. */
  static async start(opts: Pick<WorkerPoolOptions, 'workers' | 'modules'> & Partial<WorkerPoolOptions>, deps: WorkerPoolDeps, buffers: SharedBuffers): Promise<WorkerPool> {
    const o: WorkerPoolOptions = { ...DEFAULT_WORKER_POOL_OPTIONS, ...opts };
    if (!Number.isInteger(o.workers) || o.workers < 1) throw new RangeError(`a worker pool needs at least one worker, got ${o.workers}`);
    const pool = new WorkerPool(o, deps, buffers);
    for (let i = 0; i < o.workers; i++) pool.slots.push({ index: i, worker: null, inService: false, heap: null, lastError: null });
    const started = await Promise.allSettled(pool.slots.map((s) => pool.spawn(s, false)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await pool.close();
      throw failed.reason;
    }
    return pool;
  }

  /** Workers the pool was configured with (the Block-STM run always uses all of them). */
  get size(): number {
    return this.slots.length;
  }

  /** False once the pool is lost or closed; then it takes no jobs and runs no blocks. */
  get available(): boolean {
    return this.lostReason === null && !this.closed;
  }

  /** Every worker is in service: a block can run. */
  get complete(): boolean {
    return this.available && this.slots.every((s) => s.inService);
  }

  /** Bumped whenever a worker is replaced. */
  get generation(): number {
    return this.workerGeneration;
  }

  get lost(): string | null {
    return this.lostReason;
  }

  stats(): WorkerPoolStats {
    const inService = this.available ? this.slots.filter((s) => s.inService).length : 0;
    return { configured: this.size, workers: inService, restarts: this.restartCount, lost: this.lostReason, busyMs: { ...this.busy }, heaps: this.slots.map((s) => s.heap) };
  }

  /** Adds Block-STM time, which the executor reads from the shared counters. */
  addBusy(work: WorkerWork, ms: number): void {
    this.busy[work] += ms;
  }

  /** New shared buffers for every worker now, and for every replacement from now on. */
  setBuffers(buffers: SharedBuffers): void {
    this.buffers = buffers;
    this.broadcast({ type: 'buffers', buffers });
  }

  /** One message to every live worker (buffers). */
  broadcast(msg: WorkerMessage): void {
    for (const s of this.slots) s.worker?.postMessage(msg);
  }

  /**
   * One block on every worker: resolves when each has answered or exited. When a worker exits
   * during the run, `stop` is called (it must make the others leave the run: the executor
   * aborts the shared scheduler) and the run resolves only after every survivor has answered.
   */
  runBlock(msg: Omit<BlockMessage, 'type' | 'epoch' | 'workers'>, stop: () => void): Promise<BlockRun> {
    if (!this.complete) return Promise.reject(new WorkerPoolError('NOT_COMPLETE', 'a block needs every worker in service'));
    if (this.block !== null) return Promise.reject(new WorkerPoolError('BLOCK_RUNNING', 'a block is already running on the pool'));
    const epoch = ++this.epoch;
    this.statePath = msg.statePath;
    return new Promise<BlockRun>((resolve) => {
      const waiting = new Set<Worker>();
      this.block = { epoch, waiting, errors: [], exited: 0, stop, resolve };
      const full: BlockMessage = { ...msg, type: 'block', epoch, workers: this.size };
      for (const s of this.slots) {
        waiting.add(s.worker!);
        s.worker!.postMessage(full satisfies WorkerMessage);
      }
    });
  }

  /**
   * A batch of raw txs on the workers in service, one chunk (one message) per worker, never
   * one message per tx; `stride` result bytes per tx come back, in order. Workers busy with a
   * block answer after it. Rejects with a WorkerPoolError when the pool cannot do it (the
   * caller then does the work on its own thread).
   */
  async job(work: JobKind, raws: readonly Uint8Array[], stride: number): Promise<Uint8Array> {
    if (!this.available) throw new WorkerPoolError(this.closed ? 'CLOSED' : 'POOL_LOST', `worker pool unavailable: ${this.lostReason ?? 'closed'}`);
    if (raws.length === 0) return new Uint8Array(0);
    const ready = this.slots.filter((s) => s.inService);
    if (ready.length === 0) throw new WorkerPoolError('NO_WORKER', 'no worker in service: replacements are starting');
    const chunks = Math.min(ready.length, Math.ceil(raws.length / 16));
    const size = Math.ceil(raws.length / chunks);
    const parts = await Promise.all(
      Array.from({ length: chunks }, (_, c) => {
        const id = this.nextJob++;
        const packed = packRawTxs(raws.slice(c * size, (c + 1) * size));
        const slot = ready[this.nextWorker++ % ready.length]!;
        const worker = slot.worker!;
        return new Promise<Uint8Array>((resolve, reject) => {
          this.jobs.set(id, { worker, slot: slot.index, work, resolve, reject });
          worker.postMessage({ type: work, id, packed } satisfies WorkerMessage, [packed.buffer as ArrayBuffer]);
        });
      }),
    );
    if (parts.length === 1) return parts[0]!;
    const out = new Uint8Array(raws.length * stride);
    parts.forEach((p, c) => out.set(p, c * size * stride));
    return out;
  }

  /** Tests only: stop worker `i` as if it had crashed; resolves once its exit was handled. */
  async killWorkerForTest(i: number): Promise<void> {
    await this.slots[i]?.worker?.terminate();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.readyTimers) clearTimeout(t);
    this.readyTimers.clear();
    this.failJobs(() => true, (j) => new WorkerPoolError('CLOSED', `worker pool closed while a ${j.work} job was on worker ${j.slot}`));
    await Promise.all(this.slots.map((s) => s.worker?.terminate()));
  }

  // ---- lifecycle ------------------------------------------------------------------------

  /** Starts the slot's thread; resolves when it reports ready, rejects if it exits or breaks first. */
  private spawn(slot: Slot, restart: boolean): Promise<void> {
    const worker = this.spawnWorker(slot.index, restart);
    slot.worker = worker;
    slot.inService = false;
    slot.heap = null;
    slot.lastError = null;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        this.readyTimers.delete(timer);
        if (ready || slot.worker !== worker) return;
        slot.lastError = new WorkerPoolError('START_FAILED', `worker ${slot.index} did not report ready within ${this.opts.readyTimeoutMs} ms`);
        void worker.terminate();
      }, this.opts.readyTimeoutMs);
      timer.unref();
      this.readyTimers.add(timer);
      const started = (): void => {
        clearTimeout(timer);
        this.readyTimers.delete(timer);
      };
      worker.on('message', (m: WorkerReply) => {
        if (m.type === 'ready') {
          if (slot.worker !== worker || this.closed) return;
          ready = true;
          started();
          slot.inService = true;
          resolve();
          return;
        }
        this.onReply(slot, worker, m);
      });
      worker.on('error', (e) => {
        if (slot.worker === worker) slot.lastError = e;
      });
      worker.on('exit', (code) => {
        started();
        const cause = slot.worker === worker ? slot.lastError : null;
        if (!ready) reject(new WorkerPoolError('START_FAILED', `worker ${slot.index} exited (code ${code}) before it was ready${cause ? `: ${cause.message}` : ''}`, { cause }));
        this.onExit(slot, worker, code, ready);
      });
      worker.postMessage({ type: 'init', modules: this.opts.modules, buffers: this.buffers, index: slot.index, statePath: this.statePath } satisfies WorkerMessage);
    });
  }

  private onReply(slot: Slot, worker: Worker, m: WorkerReply): void {
    if (slot.worker !== worker) return;
    switch (m.type) {
      case 'job': {
        slot.heap = m.heap;
        const job = this.jobs.get(m.id);
        if (!job) return;
        this.jobs.delete(m.id);
        this.busy[job.work] += m.busyMs;
        job.resolve(m.out);
        return;
      }
      case 'job-failed': {
        slot.heap = m.heap;
        const job = this.jobs.get(m.id);
        this.log.error('worker job failed; the caller does it on its own thread', { worker: slot.index, work: job?.work, error: m.error });
        if (!job) return;
        this.jobs.delete(m.id);
        job.reject(new WorkerPoolError('JOB_FAILED', `worker ${slot.index} failed its ${job.work} job: ${m.error.split('\n')[0]}`));
        return;
      }
      case 'done': {
        slot.heap = m.heap;
        const b = this.block;
        if (b === null || b.epoch !== m.epoch || !b.waiting.delete(worker)) return;
        if (m.error !== undefined) b.errors.push(m.error);
        if (b.waiting.size === 0) this.finishBlock(b);
        return;
      }
      case 'broken':
        // Its view of the shared buffers (or of the state store) is not what the executor thinks: a
        // thread that must not run blocks. Out of service now (a block it is in falls back,
        // whatever it answers), then replaced (its exit takes the usual path).
        slot.lastError = new Error(`worker reported itself broken: ${m.error}`);
        slot.inService = false;
        this.log.error('worker reported itself broken; replacing it', { worker: slot.index, error: m.error });
        this.leaveBlock(worker, `worker ${slot.index} is broken: ${m.error.split('\n')[0]}`);
        void worker.terminate();
        return;
      case 'ready':
        return;
    }
  }

  private finishBlock(b: RunningBlock): void {
    if (this.block === b) this.block = null;
    b.resolve({ errors: b.errors, exited: b.exited });
  }

  /** A worker leaves the running block without finishing it: stop the others, count it as done. */
  private leaveBlock(worker: Worker, reason: string): void {
    const b = this.block;
    if (b === null || !b.waiting.delete(worker)) return;
    b.errors.push(reason);
    b.exited++;
    b.stop();
    if (b.waiting.size === 0) this.finishBlock(b);
  }

  private onExit(slot: Slot, worker: Worker, code: number, wasReady: boolean): void {
    if (slot.worker !== worker) return;
    const cause = slot.lastError;
    slot.worker = null;
    slot.inService = false;
    slot.heap = null;
    slot.lastError = null;
    const reason = `worker ${slot.index} exited (code ${code})${cause ? `: ${cause.message}` : ''}`;
    this.failJobs((j) => j.worker === worker, (j) => new WorkerPoolError('WORKER_EXITED', `${reason} during a ${j.work} job`, { cause }));
    this.leaveBlock(worker, reason);
    // A replacement that died before it was ready: its start's rejection puts the pool out of service.
    if (this.closed || this.lostReason !== null || !wasReady) return;
    this.replace(slot, reason, cause);
  }

  private replace(slot: Slot, reason: string, cause: Error | null): void {
    const now = this.now();
    while (this.restartTimes.length > 0 && now - this.restartTimes[0]! >= this.opts.restartWindowMs) this.restartTimes.shift();
    if (this.restartTimes.length >= this.opts.maxRestarts) {
      this.lose(`${reason}, after ${this.restartTimes.length} restarts within ${this.opts.restartWindowMs / 1000} s (crash loop)`, cause);
      return;
    }
    this.restartTimes.push(now);
    this.restartCount++;
    this.workerGeneration++;
    this.log.error('worker exited; starting a replacement (its jobs run on the calling thread, a block it was in runs sequentially)', {
      worker: slot.index, reason, restarts: this.restartCount, ...(cause?.stack ? { stack: cause.stack } : {}),
    });
    this.spawn(slot, true).then(
      () => this.log.warn('replacement worker in service', { worker: slot.index, restarts: this.restartCount }),
      (e: unknown) => this.lose(`the replacement for worker ${slot.index} failed to start: ${e instanceof Error ? e.message : String(e)}`, e),
    );
  }

  /** Out of service for good: fail every job, stop every worker (a block in flight ends as they exit). */
  private lose(reason: string, cause: unknown): void {
    if (this.lostReason !== null || this.closed) return;
    this.lostReason = reason;
    const stack = cause instanceof Error ? cause.stack : undefined;
    this.log.error('worker pool out of service: blocks now run sequentially and signatures are checked on the calling thread; restart the process to get the pool back', {
      reason, restarts: this.restartCount, ...(stack ? { stack } : {}),
    });
    this.failJobs(() => true, (j) => new WorkerPoolError('POOL_LOST', `worker pool lost while a ${j.work} job was on worker ${j.slot}: ${reason}`));
    this.block?.stop();
    for (const s of this.slots) {
      s.inService = false;
      void s.worker?.terminate();
    }
    this.onLost?.(reason);
  }

  private failJobs(match: (j: Job) => boolean, error: (j: Job) => Error): void {
    for (const [id, j] of [...this.jobs]) {
      if (!match(j)) continue;
      this.jobs.delete(id);
      j.reject(error(j));
    }
  }
}
