/**
 * StateDb: committed state in one LMDB environment that every thread maps (<dataDir>/state).
 * Values, the state tree's bucket records (bucket-tree.ts) and meta (the height the store reflects, its
 * root and size) change together in ONE write transaction per block (`commitBlock`).
 *
 * Reading. Every read goes through an explicit read snapshot (StateSnapshot = one LMDB read
 * transaction): it sees exactly the commits that were visible when it began, whatever is
 * committed afterwards, until its last `release()`. The main thread reads through `latest`,
 * which moves to the new state in the same synchronous step in which `commitBlock` resolves
 * (and in which the tree's cache moves, TreeDelta.committed). A Block-STM worker opens the
 * same directory read-only and takes `beginRead()` per block; its `height` says which blocks
 * it already contains, so the worker applies only the overlay of applied blocks above it.
 *
 * lmdb-js snapshot rules this relies on (lmdb-js 3.5, read.js; docs/EXECUTION.md-style map):
 * - An LMDB read transaction sees the last write transaction committed before it began (or
 *   was renewed), never a later one: MVCC, readers never block the writer nor each other.
 * - lmdb-js keeps ONE implicit read transaction per thread for reads without an explicit
 *   `transaction` option. It is begun lazily and reset on the next macrotask (setTimeout 0)
 *   and after this thread's own commits, so two implicit reads around an `await` may see
 *   different states. StateDb never reads implicitly.
 * - `useReadTransaction()` returns that shared transaction with its reference count raised,
 *   renewing it first only if nobody in this thread holds it. A transaction that is held when
 *   a reset comes is detached (keeps its snapshot, is aborted at its last `done()`), and the
 *   next one starts fresh. `beginRead()` therefore calls `resetReadTxn()` before
 *   `useReadTransaction()`, and reads meta inside the new transaction to report its height.
 * - A held read transaction pins the pages of its snapshot: LMDB cannot reuse pages freed by
 *   later commits while it lives, so the file grows if snapshots are held for long. Release
 *   per block.
 * - `getBinaryFast` returns a buffer that lmdb-js reuses (or a view of the map for large
 *   values): valid only until the next read of any table on the same thread. `get` copies;
 *   `getUnsafe` does not and says so.
 *
 * Writing. `commitBlock` packs the block (state-commit.ts) and hands it to the writer: by
 * default a worker thread of its own (state-writer.ts), so the main thread pays ~0.5 us per
 * entry for packing instead of the transaction's ~10 us (10M accounts, WRITEMAP);
 * `writer: 'inline'` writes on the calling thread (tests, tools). Commits are applied one at a
 * time in call order; each checks height and base root against the stored meta inside its
 * transaction.
 */
import { Worker } from 'node:worker_threads';
import type { Transaction } from 'lmdb';
import { toH32, type H32 } from '../protocol/hash.js';
import { DEFAULT_BUCKET_BITS, MAX_BUCKET_BITS, type BucketSource, type TreeDelta } from './bucket-tree.js';
import { applyPackedCommit, bucketKey, packCommit, readMeta, type StateTables, type StoredMeta } from './state-commit.js';
import { openStateEnv, STATE_ENV_DEFAULTS, type StateEnv, type StateEnvOptions } from './state-env.js';
import { StateError } from './state-error.js';
import type { WriterReply, WriterRequest } from './state-writer.js';
import type { WriteSet } from './types.js';

export interface StateDbOptions extends StateEnvOptions {
  /** Where commits are written: a worker thread of its own (default) or the calling thread. */
  readonly writer?: 'thread' | 'inline';
  /**
   * Bucket bits of the tree (bucket-tree.ts) for a store created now; a store that holds state
   * keeps the bits it was written with. Default 20.
   */
  readonly bucketBits?: number;
}

/** lmdb-js reads with an explicit transaction; its typings omit the options argument. */
type FastGet = (key: string | Uint8Array, options: { transaction: Transaction }) => Uint8Array | undefined;

/**
 * lmdb-js's reusable buffer sets an own `length` (the value's) on a larger typed array: a
 * view of exactly the value, so that typed-array methods (set, hashing) see the right length.
 */
function exact(b: Uint8Array): Uint8Array {
  return Uint8Array.prototype.subarray.call(b, 0, b.length);
}

/** Copies a value into a fresh Uint8Array (small ones live on the V8 heap). */
function copyBytes(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  out.set(exact(b));
  return out;
}

/** One consistent read view of the store: an LMDB read transaction, reference-counted. */
export class StateSnapshot {
  /** Height of the last block in this snapshot; undefined for an empty store. */
  readonly height: bigint | undefined;
  readonly root: Uint8Array;
  /** Number of live keys. */
  readonly size: number;
  /** Bucket bits of the stored tree; undefined for an empty store. */
  readonly bucketBits: number | undefined;
  private refs = 1;
  private readonly read: { transaction: Transaction };
  private readonly bucketKeyScratch = new Uint8Array(4);

  /** @internal */
  constructor(
    private readonly tables: StateTables,
    private txn: Transaction | null,
    /** The store's open/closed flag: after close() the environment ended every transaction. */
    private readonly store: { closed: boolean },
  ) {
    this.read = { transaction: txn! };
    let meta: StoredMeta | undefined;
    try {
      meta = readMeta((k) => this.getFrom(this.tables.meta, k, true));
    } catch (e) {
      txn!.done();
      this.txn = null;
      throw e;
    }
    this.height = meta?.height;
    this.root = meta?.root ?? new Uint8Array(32);
    this.size = meta?.size ?? 0;
    this.bucketBits = meta?.bucketBits;
  }

  private live(): void {
    if (this.txn === null) throw new StateError('STATE_SNAPSHOT_RELEASED', 'read from a state snapshot after its last release()');
    if (this.store.closed) throw new StateError('STATE_CLOSED', 'read from a state snapshot of a closed store');
  }

  private getFrom(db: StateTables['meta'] | StateTables['values'], key: string, copy: boolean): Uint8Array | undefined {
    this.live();
    const b = (db.getBinaryFast as FastGet)(key, this.read);
    return b === undefined ? undefined : copy ? copyBytes(b) : exact(b);
  }

  /** The value of `key` in this snapshot (a copy the caller may keep), or undefined. */
  get(key: string): Uint8Array | undefined {
    return this.getFrom(this.tables.values, key, true);
  }

  /**
   * The value without a copy: valid only until the next read of any table on this thread.
   * For a caller that decodes at once (a balance check) and keeps nothing.
   */
  getUnsafe(key: string): Uint8Array | undefined {
    return this.getFrom(this.tables.values, key, false);
  }

  /** A bucket record of the tree; valid until the next read on this thread. */
  readBucket(index: number): Uint8Array | undefined {
    this.live();
    const b = (this.tables.buckets.getBinaryFast as FastGet)(bucketKey(index, this.bucketKeyScratch), this.read);
    return b === undefined ? undefined : exact(b);
  }

  /** Every bucket record in index order (the tree's start-up scan); records valid during the call. */
  forEachBucket(fn: (index: number, record: Uint8Array) => void): void {
    this.live();
    for (const { key, value } of this.tables.buckets.getRange({ transaction: this.txn! })) {
      const k = key as Uint8Array;
      fn(((k[0]! << 24) | (k[1]! << 16) | (k[2]! << 8) | k[3]!) >>> 0, value);
    }
  }

  /** Every (key, value) in key order (copies). The snapshot is retained until the iterator ends. */
  *entries(): IterableIterator<[string, Uint8Array]> {
    this.live();
    this.retain();
    try {
      for (const { key, value } of this.tables.values.getRange({ transaction: this.txn! })) yield [key as string, copyBytes(value)];
    } finally {
      this.release();
    }
  }

  /** Number of stored bucket records (audits, tests). O(buckets), counted by LMDB's cursor. */
  bucketCount(): number {
    this.live();
    return this.tables.buckets.getCount({ transaction: this.txn! });
  }

  retain(): this {
    this.live();
    this.refs++;
    return this;
  }

  /** Drops one reference; the read transaction ends with the last one. */
  release(): void {
    if (this.txn === null) return;
    if (--this.refs === 0) {
      // A closed store has aborted every read transaction already.
      if (!this.store.closed) this.txn.done();
      this.txn = null;
    }
  }

  get released(): boolean {
    return this.txn === null;
  }
}

interface PendingCommit {
  readonly settled: Promise<void>;
  readonly height: bigint;
  readonly root: H32;
  readonly tree: TreeDelta;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

export class StateDb implements BucketSource {
  readonly path: string;
  readonly readOnly: boolean;
  private readonly env: StateEnv;
  private latestSnap: StateSnapshot;
  /** Shared with the snapshots this store hands out. */
  private readonly state = { closed: false };
  private failure: StateError | null = null;
  /** Height and root after the last commit handed to the writer (the tip commits must extend). */
  private queuedHeight: bigint | undefined;
  private queuedRoot: H32;
  private readonly pending: PendingCommit[] = [];
  /** Commits completed early (seen in a snapshot) whose writer 'done' messages are still to come. */
  private doneAhead = 0;
  private writer: Worker | null = null;
  private writerReady: Promise<void> | null = null;

  private constructor(private readonly opts: StateDbOptions) {
    const bits = opts.bucketBits;
    if (bits !== undefined && (!Number.isInteger(bits) || bits < 1 || bits > MAX_BUCKET_BITS)) throw new StateError('STATE_INVALID_ARGUMENT', `bucketBits must be an integer 1..${MAX_BUCKET_BITS}`);
    this.path = opts.path;
    this.readOnly = opts.readOnly ?? false;
    this.env = openStateEnv(opts);
    try {
      this.latestSnap = this.newSnapshot();
    } catch (e) {
      void this.env.root.close();
      throw e;
    }
    this.queuedHeight = this.latestSnap.height;
    this.queuedRoot = toH32(this.latestSnap.root);
  }

  /**
   * Opens (creating if needed, unless read-only) the store in `path`. O(1): reads meta only.
   * A read-only store can be opened only after a writer created its tables.
   */
  static open(opts: StateDbOptions): StateDb {
    return new StateDb(opts);
  }

  private check(): void {
    if (this.state.closed) throw new StateError('STATE_CLOSED', `the state store at ${this.path} is closed`);
  }

  private newSnapshot(): StateSnapshot {
    // Detach any read transaction this thread holds, so the one we take is fresh.
    this.env.root.resetReadTxn();
    return new StateSnapshot(this.env.tables, this.env.root.useReadTransaction(), this.state);
  }

  /**
   * A new snapshot of the newest committed state (any thread). Release it when done: a held
   * snapshot keeps LMDB from reusing the pages later commits free.
   */
  beginRead(): StateSnapshot {
    this.check();
    return this.newSnapshot();
  }

  /** The snapshot main-thread reads use: the state after the last commit that resolved. Not retained for the caller. */
  get latest(): StateSnapshot {
    this.check();
    return this.latestSnap;
  }

  get height(): bigint | undefined {
    return this.latestSnap.height;
  }

  get root(): Uint8Array {
    return this.latestSnap.root;
  }

  get size(): number {
    return this.latestSnap.size;
  }

  /** The value of `key` as of `latest` (a copy), or undefined. */
  get(key: string): Uint8Array | undefined {
    this.check();
    return this.latestSnap.get(key);
  }

  /** Bucket bits of the tree: the stored ones, or for an empty store the option (default 20). */
  get bucketBits(): number {
    return this.latestSnap.bucketBits ?? this.opts.bucketBits ?? DEFAULT_BUCKET_BITS;
  }

  /** BucketSource for the tree (bucket-tree.ts): bucket records as of `latest`. */
  readBucket(index: number): Uint8Array | undefined {
    return this.latestSnap.readBucket(index);
  }

  forEachBucket(fn: (index: number, record: Uint8Array) => void): void {
    this.latestSnap.forEachBucket(fn);
  }

  /**
   * Writes one block atomically: its write set (sorted or not; each key once), the tree delta
   * of the version that includes it (TreeVersion.delta()), and meta (height, root, size). The
   * block must extend the last commit handed in before it (height + 1, base root = its root),
   * or, on an empty store, may have any height. Resolves once the commit is visible (and, with
   * durability 'power-loss', flushed); by then `latest` shows it and `tree.committed()` has run.
   * A failed write rejects with STATE_WRITE_FAILED and the store refuses later commits; a
   * commit refused before writing (wrong height or base, bad key) rejects and changes nothing.
   */
  commitBlock(height: bigint, writeSet: WriteSet, tree: TreeDelta): Promise<void> {
    let pack: Uint8Array;
    try {
      this.check();
      if (this.readOnly) throw new StateError('STATE_READ_ONLY', `the state store at ${this.path} was opened read-only`);
      if (this.failure) throw this.failure;
      if (this.queuedHeight !== undefined && height !== this.queuedHeight + 1n) {
        throw new StateError('STATE_NOT_NEXT', `state commit of height ${height} does not follow height ${this.queuedHeight}`);
      }
      if (tree.baseRoot !== this.queuedRoot) throw new StateError('STATE_NOT_NEXT', `state commit of height ${height} was computed on another tree than the one it would follow`);
      pack = packCommit(height, writeSet, tree);
    } catch (e) {
      return Promise.reject(e);
    }
    this.queuedHeight = height;
    this.queuedRoot = tree.root;
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.pending.push({ settled: done.then(() => undefined, () => undefined), height, root: tree.root, tree, resolve, reject });
    if ((this.opts.writer ?? 'thread') === 'inline') {
      let error: unknown = null;
      try {
        this.env.root.transactionSync(() => applyPackedCommit(this.env.tables, pack), this.syncFlags());
      } catch (e) {
        error = e;
      }
      this.finish(error);
    } else this.postToWriter(pack);
    return done;
  }

  /** lmdb-js transaction flags: synchronous commit; wait for the flush only with 'power-loss'. */
  private syncFlags(): number {
    const durability = this.opts.durability ?? STATE_ENV_DEFAULTS.durability;
    return durability === 'power-loss' ? 2 : 2 | 0x10000;
  }

  private startWriter(): void {
    const url = new URL('./state-writer.js', import.meta.url);
    const w = new Worker(url);
    this.writer = w;
    this.writerReady = new Promise<void>((resolve, reject) => {
      w.once('message', (m: WriterReply) => (m.type === 'ready' ? resolve() : reject(new StateError('STATE_OPEN_FAILED', m.type === 'error' ? m.message : 'state writer failed to start'))));
      w.once('error', reject);
    });
    w.on('message', (m: WriterReply) => {
      if (m.type === 'done') this.finish(null);
      else if (m.type === 'failed') this.finish(new StateError(m.code === 'STATE_NOT_NEXT' ? 'STATE_NOT_NEXT' : 'STATE_WRITE_FAILED', m.message));
    });
    w.on('error', (e) => this.failAll(e));
    w.on('exit', (code) => {
      if (!this.state.closed) this.failAll(new Error(`state writer thread exited (code ${code})`));
    });
    w.unref();
    const { writer: _w, bucketBits: _b, ...envOpts } = this.opts;
    w.postMessage({ type: 'init', opts: { ...envOpts, readOnly: false } } satisfies WriterRequest);
  }

  private postToWriter(pack: Uint8Array): void {
    if (this.writer === null) this.startWriter();
    this.writer!.ref();
    this.writer!.postMessage({ type: 'commit', pack, flags: this.syncFlags() } satisfies WriterRequest, [pack.buffer as ArrayBuffer]);
  }

  /**
   * The oldest pending commit completed (error null) or failed. The writer thread does not wait
   * for this thread: by the time its 'done' for height N is handled here, it may have committed
   * N+1 and later too. The fresh snapshot then shows them, and every pending commit up to its
   * height completes in this same step (their 'done' messages, still queued, are skipped).
   */
  private finish(error: unknown): void {
    if (this.doneAhead > 0 && error === null) {
      this.doneAhead--;
      return;
    }
    const p = this.pending[0];
    if (p === undefined) return;
    if (error !== null) {
      this.pending.shift();
      if (this.pending.length === 0) this.writer?.unref();
      this.failure ??= error instanceof StateError && error.code === 'STATE_NOT_NEXT' ? error : new StateError('STATE_WRITE_FAILED', `writing state of height ${p.height} failed; nothing of it was written and the store refuses further commits`, { cause: error });
      p.reject(this.failure);
      return;
    }
    // One synchronous step: the new snapshot, then the trees, then the callers.
    const old = this.latestSnap;
    this.latestSnap = this.newSnapshot();
    old.release();
    const h = this.latestSnap.height;
    let n = 0;
    while (n < this.pending.length && h !== undefined && this.pending[n]!.height <= h) n++;
    const last = this.pending[n - 1];
    if (n === 0 || last === undefined || last.height !== h || toH32(this.latestSnap.root) !== last.root) {
      this.pending.shift();
      this.failure = new StateError('STATE_CORRUPT', `after committing height ${p.height} the store shows height ${h}; another process writes to ${this.path}?`);
      p.reject(this.failure);
      return;
    }
    const done = this.pending.splice(0, n);
    this.doneAhead += n - 1;
    if (this.pending.length === 0) this.writer?.unref();
    for (const d of done) {
      try {
        d.tree.committed();
      } catch (e) {
        this.failure = new StateError('STATE_CORRUPT', `height ${d.height} is written but its tree version could not take it over`, { cause: e });
        for (const r of done) r.reject(this.failure);
        return;
      }
    }
    for (const d of done) d.resolve();
  }

  private failAll(e: unknown): void {
    this.failure ??= new StateError('STATE_WRITE_FAILED', `the state writer thread failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    for (const p of this.pending.splice(0)) p.reject(this.failure);
  }

  /** Resolves when the writer thread is running (no-op for inline writers). For benchmarks that time commits. */
  async ready(): Promise<void> {
    if ((this.opts.writer ?? 'thread') === 'inline' || this.readOnly) return;
    if (this.writer === null) this.startWriter();
    // Referenced while waiting, so a process awaiting only this stays alive.
    this.writer!.ref();
    try {
      await this.writerReady;
    } finally {
      if (this.pending.length === 0) this.writer?.unref();
    }
  }

  /** Waits for pending commits, stops the writer thread and closes the environment in this thread. */
  async close(): Promise<void> {
    if (this.state.closed) return;
    await Promise.all(this.pending.map((p) => p.settled));
    this.latestSnap.release();
    this.state.closed = true;
    if (this.writer !== null) {
      const w = this.writer;
      this.writer = null;
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.ref();
      w.postMessage({ type: 'close' } satisfies WriterRequest);
      await exited;
    }
    await this.env.root.close();
  }

  /** Meta as stored now, read in a fresh snapshot (tests, tools). */
  storedMeta(): StoredMeta | undefined {
    const s = this.beginRead();
    try {
      return s.height === undefined ? undefined : { height: s.height, root: s.root, size: s.size, bucketBits: s.bucketBits! };
    } finally {
      s.release();
    }
  }

  /** @internal The environment, for bulk loads and audits in this folder. */
  get envForBulk(): StateEnv {
    this.check();
    return this.env;
  }

  /** @internal After a bulk load wrote the store directly: `latest` and the commit tip move to it. */
  reloadAfterBulk(): void {
    const old = this.latestSnap;
    this.latestSnap = this.newSnapshot();
    old.release();
    this.queuedHeight = this.latestSnap.height;
    this.queuedRoot = toH32(this.latestSnap.root);
  }
}
