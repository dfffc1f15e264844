/**
 * The test implementation of the disk tree's store: node records in a Map, keyed like the
 * LMDB table (position key bytes as a latin1 string). Applies a TreeDelta the way
 * StateDb.commitBlock does, so disk-smt.ts can be property-tested without LMDB.
 */
import type { NodeSource, TreeDelta } from './disk-smt.js';
import { StateError } from './state-error.js';
import { encodeNode, MAX_POS_KEY_BYTES, NODE_RECORD_BYTES, posKeyOfId } from './tree-node.js';

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');

export class MemoryNodeStore implements NodeSource {
  readonly records = new Map<string, Uint8Array>();
  /** Root of the tree the store holds (hex-free H32 compare through the delta's strings). */
  private rootH32: string | null = null;

  readNodeRecord(key: Uint8Array): Uint8Array | undefined {
    return this.records.get(latin1(key));
  }

  /** Writes a delta and makes it visible, like a block commit. */
  apply(delta: TreeDelta): void {
    if (this.rootH32 !== null && delta.baseRoot !== this.rootH32) throw new StateError('STATE_NOT_NEXT', 'MemoryNodeStore: delta does not apply to the stored tree');
    const key = new Uint8Array(MAX_POS_KEY_BYTES);
    for (const [pos, node] of delta.writes) {
      const k = latin1(key.subarray(0, posKeyOfId(pos, key)));
      if (node === null) this.records.delete(k);
      else {
        const rec = new Uint8Array(NODE_RECORD_BYTES);
        encodeNode(node, rec, 0);
        this.records.set(k, rec);
      }
    }
    this.rootH32 = delta.root;
    delta.committed();
  }

  get count(): number {
    return this.records.size;
  }
}
