/**
 * DiskWorldState: WorldState's contract (state/world.ts) over the LMDB store (state-db.ts) and
 * the bucketed tree (bucket-tree.ts). Nothing of the state lives on the heap but the blocks
 * that are applied and not yet written (their write sets and the tree positions they changed,
 * bounded by the number of unsettled blocks) and the tree's top levels (typed arrays).
 *
 * The same operations as WorldState, and one more, because the state is written by this
 * facade rather than by the chain's LevelDB batch:
 *   prepare(ws)         root of the block on a new tree version; nothing changes
 *   write(p, height)    the block's ONE LMDB transaction (values, bucket records, meta)
 *   commit(p)           adopt a block whose write has resolved (BFT, sync, tests)
 *   apply(p)            adopt a block before its write has resolved (pipelining)
 *   settle()            the oldest applied block's write has resolved: `durable` includes it
 *
 * Reads are exact at every step, whatever the timing of writes: the applied state is the
 * blocks applied but not yet written (in memory, newest first) over a read snapshot of the
 * last written block this facade adopted; `durable` reads a snapshot of the last settled (or
 * committed) block. Snapshots move only inside these calls, never by a write landing.
 */
import { join } from 'node:path';
import { toH32 } from '../protocol/hash.js';
import { BucketTree, type BucketTreeOptions, type TreeDelta, type TreeVersion } from './bucket-tree.js';
import type { StateDb, StateSnapshot } from './state-db.js';
import { StateError } from './state-error.js';
import type { WriteSet } from './types.js';
import type { StateView } from './world.js';

/** The tree's top checkpoint, next to the store's files (BucketTree.saveCheckpoint). */
export const TOP_CHECKPOINT = 'tree-top.ckpt';

export interface DiskPreparedState {
  readonly base: TreeVersion;
  readonly tree: TreeVersion;
  readonly writeSet: WriteSet;
  readonly root: Uint8Array;
}

/** An applied block that is not settled yet. */
interface Layer {
  readonly prepared: DiskPreparedState;
  readonly values: ReadonlyMap<string, Uint8Array | null>;
  /** Snapshot of the store right after this block's write; null until the write resolves. */
  written: StateSnapshot | null;
}

/**
 * What a Block-STM worker needs besides its own read snapshot to see the applied state: the
 * writes of the applied blocks whose LMDB write had not resolved when this was taken (newest
 * wins), and the height its snapshot must have reached (taken after this, it always has).
 */
export interface StateOverlay {
  readonly minHeight: bigint | undefined;
  readonly writes: ReadonlyMap<string, Uint8Array | null>;
}

/** Reads a snapshot through an overlay (what a worker does per block). */
export class OverlayReader {
  constructor(
    private readonly snapshot: StateSnapshot,
    private readonly overlay: StateOverlay,
  ) {
    const h = snapshot.height;
    const min = overlay.minHeight;
    if (min !== undefined && (h === undefined || h < min)) {
      throw new StateError('STATE_OUT_OF_ORDER', `read snapshot at height ${h} is older than the overlay's base ${min}: take the snapshot after receiving the overlay`);
    }
  }

  get(key: string): Uint8Array | undefined {
    const v = this.overlay.writes.get(key);
    if (v !== undefined) return v ?? undefined;
    return this.snapshot.get(key);
  }
}

/** Merges a sorted snapshot stream with sorted overlay writes (overlay wins; null deletes). */
function* mergeSorted(base: IterableIterator<[string, Uint8Array]>, overlay: ReadonlyMap<string, Uint8Array | null>): IterableIterator<[string, Uint8Array]> {
  const keys = [...overlay.keys()].sort();
  let i = 0;
  for (const e of base) {
    while (i < keys.length && keys[i]! < e[0]) {
      const v = overlay.get(keys[i]!)!;
      if (v !== null) yield [keys[i]!, v];
      i++;
    }
    if (i < keys.length && keys[i] === e[0]) {
      const v = overlay.get(keys[i]!)!;
      if (v !== null) yield [keys[i]!, v];
      i++;
    } else yield e;
  }
  for (; i < keys.length; i++) {
    const v = overlay.get(keys[i]!)!;
    if (v !== null) yield [keys[i]!, v];
  }
}

class DurableView implements StateView {
  constructor(private readonly world: DiskWorldState) {}
  get(key: string): Uint8Array | undefined {
    return this.world.durableSnapshot.get(key);
  }
  get root(): Uint8Array {
    return this.world.durableRoot;
  }
  entries(): IterableIterator<[string, Uint8Array]> {
    return this.world.durableSnapshot.entries();
  }
}

export class DiskWorldState implements StateView {
  /** Bumped on every commit or apply (executors that cache state tell whether they are current). */
  version = 0;
  /** The state without the applied blocks that are not settled yet. */
  readonly durable: StateView;
  readonly smt: BucketTree;
  private tree: TreeVersion;
  /** Oldest first; empty when every adopted block is settled. */
  private readonly layers: Layer[] = [];
  /** Written blocks not adopted yet (the commit path: write, then commit). */
  private readonly writtenAhead = new Map<DiskPreparedState, StateSnapshot>();
  /** Snapshot under the applied state: the last written block this facade adopted. */
  private appliedSnap: StateSnapshot;
  /** @internal Snapshot of the durable view. */
  durableSnapshot: StateSnapshot;
  private closed = false;
  private readonly checkpointPath: string;

  private constructor(readonly db: StateDb, opts: BucketTreeOptions) {
    this.checkpointPath = opts.checkpointPath ?? join(db.path, TOP_CHECKPOINT);
    this.smt = BucketTree.open(db, db.root, db.size, db.bucketBits, { ...opts, checkpointPath: this.checkpointPath });
    this.tree = this.smt.durable;
    this.appliedSnap = db.latest.retain();
    this.durableSnapshot = db.latest.retain();
    this.durable = new DurableView(this);
  }

  /**
   * The facade over the store's latest state: reads meta and the tree's top (from the
   * checkpoint a clean close left, else by scanning every bucket record's hash: BucketTree.open).
   */
  static open(db: StateDb, opts: BucketTreeOptions = {}): DiskWorldState {
    return new DiskWorldState(db, opts);
  }

  /** Height of the last block written to the store (undefined: empty store). */
  get storedHeight(): bigint | undefined {
    return this.db.height;
  }

  get(key: string): Uint8Array | undefined {
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const l = this.layers[i]!;
      if (l.written !== null) break; // this and older layers are in appliedSnap
      const v = l.values.get(key);
      if (v !== undefined) return v ?? undefined;
    }
    return this.appliedSnap.get(key);
  }

  /** Every (key, value) of the applied state, in key order (streams from LMDB). */
  entries(): IterableIterator<[string, Uint8Array]> {
    return mergeSorted(this.appliedSnap.entries(), this.overlay().writes);
  }

  get root(): Uint8Array {
    return this.tree.root;
  }

  /** Number of live keys. */
  get size(): number {
    return this.tree.size;
  }

  /** Blocks applied and not settled yet. */
  get unsettled(): number {
    return this.layers.length;
  }

  /** @internal Root of the durable view. */
  get durableRoot(): Uint8Array {
    return (this.layers[0]?.prepared.base ?? this.tree).root;
  }

  /** The applied blocks a worker must lay over its own read snapshot (see StateOverlay). */
  overlay(): StateOverlay {
    const writes = new Map<string, Uint8Array | null>();
    for (const l of this.layers) if (l.written === null) for (const [k, v] of l.values) writes.set(k, v);
    return { minHeight: this.appliedSnap.height, writes };
  }

  prepare(writeSet: WriteSet): DiskPreparedState {
    this.check();
    const tree = this.tree.withWrites(writeSet);
    return { base: this.tree, tree, writeSet, root: tree.root };
  }

  /**
   * Writes a prepared block to the store in one transaction. Blocks are written in the order
   * they extend each other (a block's base must be written, or handed to write, first).
   * Resolves when the block is visible in the store; adopting it is commit() or apply().
   */
  async write(p: DiskPreparedState, height: bigint): Promise<void> {
    this.check();
    // An empty or no-op block changes no node; the store still records its height.
    const d: TreeDelta = p.tree === p.base ? { baseRoot: toH32(p.root), root: toH32(p.root), size: p.tree.size, bits: this.smt.bits, writes: new Map(), committed: () => {} } : p.tree.delta();
    // The snapshot right after this commit, taken in the store's own completion step: a later
    // commit may land before this function resumes.
    let snap: StateSnapshot | null = null;
    await this.db.commitBlock(height, p.writeSet, {
      ...d,
      committed: () => {
        d.committed();
        snap = this.db.latest.retain();
      },
    });
    const written = snap as StateSnapshot | null;
    if (written === null) throw new StateError('STATE_CORRUPT', 'state commit resolved without reporting its snapshot');
    if (this.closed) {
      written.release();
      return;
    }
    const layer = this.layers.find((l) => l.prepared === p);
    if (layer !== undefined) {
      layer.written = written;
      this.moveApplied(written);
    } else this.writtenAhead.set(p, written);
  }

  private moveApplied(snap: StateSnapshot): void {
    const old = this.appliedSnap;
    this.appliedSnap = snap.retain();
    old.release();
  }

  private moveDurable(snap: StateSnapshot): void {
    const old = this.durableSnapshot;
    this.durableSnapshot = snap.retain();
    old.release();
  }

  /** Adopts a block whose write has resolved. Refused while applied blocks are unsettled. */
  commit(p: DiskPreparedState): void {
    this.check();
    if (this.layers.length > 0) throw new StateError('STATE_OUT_OF_ORDER', `DiskWorldState.commit: ${this.layers.length} applied block(s) are not settled yet; a durable block cannot overtake them`);
    if (p.base !== this.tree) throw new StateError('STATE_OUT_OF_ORDER', 'DiskWorldState.commit: prepared against a different state (another block was committed in between)');
    const snap = this.writtenAhead.get(p);
    if (snap === undefined) throw new StateError('STATE_OUT_OF_ORDER', 'DiskWorldState.commit: the block is not written yet; await write(p, height) first, or apply(p) to adopt it before');
    this.writtenAhead.delete(p);
    this.tree = p.tree;
    this.moveApplied(snap);
    this.moveDurable(snap);
    snap.release();
    this.version++;
  }

  /** Adopts a block before its write resolves; `durable` keeps showing the state without it until settle(). */
  apply(p: DiskPreparedState): void {
    this.check();
    if (p.base !== this.tree) throw new StateError('STATE_OUT_OF_ORDER', 'DiskWorldState.apply: prepared against a different state (another block was committed in between)');
    const written = this.writtenAhead.get(p) ?? null;
    this.writtenAhead.delete(p);
    this.layers.push({ prepared: p, values: new Map(p.writeSet), written });
    this.tree = p.tree;
    if (written !== null) this.moveApplied(written);
    this.version++;
  }

  /** The oldest applied block is written: `durable` includes it. */
  settle(): void {
    this.check();
    const l = this.layers[0];
    if (l === undefined) throw new StateError('STATE_OUT_OF_ORDER', 'DiskWorldState.settle: no applied block to settle');
    if (l.written === null) throw new StateError('STATE_OUT_OF_ORDER', 'DiskWorldState.settle: the oldest applied block is not written yet (await write(p, height) first)');
    this.layers.shift();
    this.moveDurable(l.written);
    l.written.release();
  }

  private check(): void {
    if (this.closed) throw new StateError('STATE_CLOSED', 'DiskWorldState is closed');
  }

  /** Releases the read snapshots this facade holds (the store stays open). */
  close(): void {
    if (this.closed) return;
    // A clean stop leaves the tree's top for the next start (BucketTree.saveCheckpoint), when
    // the store holds exactly the durable tree (nothing applied or written ahead).
    if (!this.db.readOnly && this.layers.length === 0 && this.writtenAhead.size === 0 && toH32(this.db.root) === this.smt.durable.rootH32) {
      try {
        this.smt.saveCheckpoint(this.checkpointPath);
      } catch {
        // Only the next start's speed depends on it.
      }
    }
    this.closed = true;
    this.appliedSnap.release();
    this.durableSnapshot.release();
    for (const l of this.layers) l.written?.release();
    for (const s of this.writtenAhead.values()) s.release();
    this.writtenAhead.clear();
  }
}
