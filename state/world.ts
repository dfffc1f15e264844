/**
 * WorldState: the committed state held in memory (execution reads it synchronously) plus
 * its sparse Merkle tree. A block's write set is first `prepare`d (root computed on a new
 * persistent tree, nothing mutated) and then `commit`ted; consensus can prepare a proposal
 * and throw it away.
 */
import { SparseMerkleTree, stateKeyHash, stateValueHash, type SmtChange } from './smt.js';
import type { StateReader, WriteSet } from './types.js';

export interface PreparedState {
  readonly base: SparseMerkleTree;
  readonly tree: SparseMerkleTree;
  readonly writeSet: WriteSet;
  readonly root: Uint8Array;
}

export class WorldState implements StateReader {
  /** Bumped on every commit: lets executors that keep replicas tell whether they are current. */
  version = 0;

  private constructor(private readonly values: Map<string, Uint8Array>, private tree: SparseMerkleTree) {}

  static empty(): WorldState {
    return new WorldState(new Map(), SparseMerkleTree.empty());
  }

  /** Rebuild from all entries (startup). O(n) hashing once. */
  static fromEntries(entries: Map<string, Uint8Array>): WorldState {
    const leaves: (readonly [Uint8Array, Uint8Array])[] = [];
    for (const [k, v] of entries) leaves.push([stateKeyHash(k), stateValueHash(v)]);
    return new WorldState(entries, SparseMerkleTree.build(leaves));
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

  prepare(writeSet: WriteSet): PreparedState {
    const changes: SmtChange[] = [];
    for (const [k, v] of writeSet) changes.push([stateKeyHash(k), v === null ? null : stateValueHash(v)]);
    const tree = this.tree.withChanges(changes);
    return { base: this.tree, tree, writeSet, root: tree.root };
  }

  commit(p: PreparedState): void {
    if (p.base !== this.tree) throw new Error('WorldState.commit: prepared against a different state (another block was committed in between)');
    for (const [k, v] of p.writeSet) {
      if (v === null) this.values.delete(k);
      else this.values.set(k, v);
    }
    this.tree = p.tree;
    this.version++;
  }
}
