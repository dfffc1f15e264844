/**
 * WorldState: the state held in memory plus its sparse Merkle tree. The node does not use it
 * (its state is DiskWorldState over the LMDB store, disk-world.ts); it stays as the reference
 * model and in-memory double of unit tests (disk-world.test.ts checks one against the other),
 * and `StateView` is the read interface both implement. A block's write set is first `prepare`d (root computed on a new persistent
 * tree, nothing mutated) and then committed; consensus can prepare a proposal and throw it
 * away.
 *
 * Two ways to commit:
 *   commit(p)   the block is already durable (its batch is on disk): adopt it.
 *   apply(p)    adopt it now, before it is durable, remembering what it replaced, until
 *               `settle()` says its batch is on disk. Meanwhile `durable` still shows the
 *               state without it, so readers that must not see an unwritten block (RPC)
 *               read `durable` while the next block executes on the applied state.
 */
import { SparseMerkleTree } from './smt.js';
import type { StateReader, WriteSet } from './types.js';

export interface PreparedState {
  readonly base: SparseMerkleTree;
  readonly tree: SparseMerkleTree;
  readonly writeSet: WriteSet;
  readonly root: Uint8Array;
}

/** A whole state to read: values, their root, and every entry (audits). */
export interface StateView extends StateReader {
  readonly root: Uint8Array;
  entries(): IterableIterator<[string, Uint8Array]>;
}

/** What one applied-but-unsettled block replaced: the tree before it and the old value of every key it wrote. */
interface UndoLayer {
  readonly tree: SparseMerkleTree;
  readonly values: Map<string, Uint8Array | undefined>;
}

export class WorldState implements StateView {
  /** Bumped on every commit or apply. */
  version = 0;
  /** Oldest first; empty when every adopted block is durable. */
  private readonly undo: UndoLayer[] = [];
  /** The state without the applied blocks that are not settled yet (this state itself when there are none). */
  readonly durable: StateView;

  private constructor(private readonly values: Map<string, Uint8Array>, private tree: SparseMerkleTree) {
    this.durable = new DurableView(values, this.undo, () => this.tree);
  }

  static empty(): WorldState {
    return new WorldState(new Map(), SparseMerkleTree.empty());
  }

  /** Rebuild from all entries (startup). O(n) hashing once. */
  static fromEntries(entries: Map<string, Uint8Array>): WorldState {
    return new WorldState(entries, SparseMerkleTree.ofState(entries));
  }

  get(key: string): Uint8Array | undefined {
    return this.values.get(key);
  }

  entries(): IterableIterator<[string, Uint8Array]> {
    return this.values.entries();
  }

  get root(): Uint8Array {
    return this.tree.root;
  }

  get size(): number {
    return this.values.size;
  }

  /** Blocks applied and not settled yet. */
  get unsettled(): number {
    return this.undo.length;
  }

  prepare(writeSet: WriteSet): PreparedState {
    const tree = this.tree.withWrites(writeSet);
    return { base: this.tree, tree, writeSet, root: tree.root };
  }

  /** Adopts a block that is already durable. Refused while applied blocks are unsettled (they are durable first). */
  commit(p: PreparedState): void {
    if (this.undo.length > 0) throw new Error(`WorldState.commit: ${this.undo.length} applied block(s) are not settled yet; a durable block cannot overtake them`);
    this.adopt(p, null);
  }

  /** Adopts a block before it is durable; `durable` keeps showing the state without it until `settle()`. */
  apply(p: PreparedState): void {
    const layer: UndoLayer = { tree: this.tree, values: new Map() };
    this.adopt(p, layer.values);
    this.undo.push(layer);
  }

  /** The oldest applied block is durable now: `durable` includes it. */
  settle(): void {
    if (this.undo.shift() === undefined) throw new Error('WorldState.settle: no applied block to settle');
  }

  private adopt(p: PreparedState, replaced: Map<string, Uint8Array | undefined> | null): void {
    if (p.base !== this.tree) throw new Error('WorldState.commit: prepared against a different state (another block was committed in between)');
    for (const [k, v] of p.writeSet) {
      // A write set names each key once, so this is the value from before the block.
      if (replaced) replaced.set(k, this.values.get(k));
      if (v === null) this.values.delete(k);
      else this.values.set(k, v);
    }
    this.tree = p.tree;
    this.version++;
  }
}

/**
 * The applied state seen through the undo layers: a key an unsettled block wrote reads as
 * its value from before the oldest such block. O(1) per read; `entries()` walks the state.
 */
class DurableView implements StateView {
  constructor(
    private readonly values: Map<string, Uint8Array>,
    private readonly undo: readonly UndoLayer[],
    private readonly liveTree: () => SparseMerkleTree,
  ) {}

  get(key: string): Uint8Array | undefined {
    for (const layer of this.undo) if (layer.values.has(key)) return layer.values.get(key);
    return this.values.get(key);
  }

  get root(): Uint8Array {
    return (this.undo[0]?.tree ?? this.liveTree()).root;
  }

  *entries(): IterableIterator<[string, Uint8Array]> {
    if (this.undo.length === 0) {
      yield* this.values.entries();
      return;
    }
    const old = new Map<string, Uint8Array | undefined>();
    for (const layer of this.undo) for (const [k, v] of layer.values) if (!old.has(k)) old.set(k, v);
    for (const e of this.values) if (!old.has(e[0])) yield e;
    for (const [k, v] of old) if (v !== undefined) yield [k, v];
  }
}
