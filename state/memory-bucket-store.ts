/**
 * The test implementation of the tree's store: bucket records in a Map. Applies a TreeDelta
 * the way StateDb.commitBlock does, so bucket-tree.ts can be property-tested without LMDB.
 */
import type { BucketSource, TreeDelta } from './bucket-tree.js';
import { StateError } from './state-error.js';

export class MemoryBucketStore implements BucketSource {
  readonly records = new Map<number, Uint8Array>();
  /** Root of the tree the store holds (H32); null before the first delta. */
  private rootH32: string | null = null;

  readBucket(index: number): Uint8Array | undefined {
    return this.records.get(index);
  }

  forEachBucket(fn: (index: number, record: Uint8Array) => void): void {
    for (const i of [...this.records.keys()].sort((a, b) => a - b)) fn(i, this.records.get(i)!);
  }

  /** Writes a delta and makes it visible, like a block commit. */
  apply(delta: TreeDelta): void {
    if (this.rootH32 !== null && delta.baseRoot !== this.rootH32) throw new StateError('STATE_NOT_NEXT', 'MemoryBucketStore: delta does not apply to the stored tree');
    for (const [i, rec] of delta.writes) {
      if (rec === null) this.records.delete(i);
      else this.records.set(i, Uint8Array.prototype.slice.call(rec));
    }
    this.rootH32 = delta.root;
    delta.committed();
  }

  get count(): number {
    return this.records.size;
  }
}
