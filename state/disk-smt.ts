/**
 * The state tree on disk: the same canonical sparse Merkle tree as state/smt.ts (same root,
 * docs/PROTOCOL.md "State root"), with its nodes in the state store (state-db.ts) instead of
 * the heap, loaded lazily through a bounded cache (node-cache.ts).
 *
 * Versions. `TreeVersion.withWrites` returns a new version and leaves its base as it was, so
 * several coexist: consensus prepares proposals it may throw away, and the node executes block
 * N+1 on block N's tree before N is durable. A version holds, in memory, only the positions
 * its batch wrote (a node, or null: the position is empty now) and a link to its base; reads
 * walk that chain of unsettled versions down to the durable tree (cache, then disk). A batch
 * of C changes costs O(C log n) node reads and hashes, like the in-memory tree.
 *
 * What a version wrote is exactly the delta its block commit applies to the store: new or
 * changed nodes put at their positions, positions that became empty deleted (stale nodes).
 * The store therefore always holds exactly the nodes of its current tree: no garbage, no
 * pruning pass (the node count equals a fresh build's; test/unit/state/disk-smt.test.ts).
 * When the commit is visible, `committed()` moves the cache to the new tree, drops the
 * version's in-memory nodes and makes it the durable version; its descendants then read
 * through to disk. A version whose base was superseded by another durable tree (a discarded
 * proposal) can no longer read its unchanged nodes: STATE_STALE_VERSION, never a wrong node.
 *
 * Start-up: a DiskSmt is made from the stored root and size (the store's meta): O(1).
 */
import { sha256H32, ZERO_H32, type H32, fromH32, toH32 } from '../protocol/hash.js';
import { NodeCache, type NodeCacheOptions, type NodeCacheStats } from './node-cache.js';
import { stateKeyHashH32, type SmtChange } from './smt.js';
import { StateError } from './state-error.js';
import {
  bitAt, childPos, decodeNode, decodePosKey, depthOfNumeric, InternalNode, LeafNode, MAX_POS_KEY_BYTES, posKeyOfId, treeHashCount,
  type PosId, type TreeNode,
} from './tree-node.js';

/** Where the durable tree's node records are read from (the store's current read snapshot, or memory in tests). */
export interface NodeSource {
  /** The record stored under an LMDB position key; the bytes may be reused by the next read. */
  readNodeRecord(key: Uint8Array): Uint8Array | undefined;
}

/** What a block commit writes into the tree's part of the store (see StateDb.commitBlock). */
export interface TreeDelta {
  /** Root of the tree the delta applies to (the store's, once earlier commits are done). */
  readonly baseRoot: H32;
  readonly root: H32;
  /** Leaves (live keys) after the delta. */
  readonly size: number;
  /** Positions written: the node now there, or null (empty now: delete). */
  readonly writes: ReadonlyMap<PosId, TreeNode | null>;
  /**
   * The store calls this in the same synchronous step in which its read snapshot moves to the
   * tree with this delta applied, before anything else can read.
   */
  committed(): void;
}

export interface DiskSmtOptions {
  readonly cache?: NodeCacheOptions;
  /** Hash every record read from disk and compare it with the hash its parent names (audits, tests). */
  readonly verifyReads?: boolean;
}

export interface DiskSmtStats {
  /** Node lookups by updates and reads (overlay, cache or disk). */
  nodeReads: number;
  /** Lookups that went to the store. */
  storeReads: number;
  /** Node hashes computed by the disk tree module since start. */
  hashes: number;
  cache: NodeCacheStats;
}

const ROOT_POS: PosId = 1;

/** One change of a sorted batch: the key's new value hash, or null to delete it. */
interface Change {
  readonly key: H32;
  readonly value: H32 | null;
}

/** A (key, value) to place in a rebuilt subtree: an existing leaf or a change with a value. */
interface Item {
  readonly key: H32;
  readonly value: H32;
}

function splitPoint(items: readonly { readonly key: H32 }[], lo: number, hi: number, depth: number): number {
  let a = lo;
  let b = hi;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (bitAt(items[mid]!.key, depth) === 0) a = mid + 1;
    else b = mid;
  }
  return a;
}

/** Sort by key and keep the last occurrence of each key (Array#sort is stable). */
function sortedDistinct(items: Change[]): Change[] {
  items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let w = 0;
  for (let r = 0; r < items.length; r++) {
    if (w > 0 && items[w - 1]!.key === items[r]!.key) items[w - 1] = items[r]!;
    else items[w++] = items[r]!;
  }
  items.length = w;
  return items;
}

function checkHash(h: unknown, what: string): Uint8Array {
  if (!(h instanceof Uint8Array) || h.length !== 32) throw new StateError('STATE_INVALID_ARGUMENT', `disk tree: ${what} must be a 32-byte Uint8Array`);
  return h;
}

/** The tree on disk: its cache, its durable version, and the source it reads nodes from. */
export class DiskSmt {
  readonly cache: NodeCache;
  private readonly verifyReads: boolean;
  private current: TreeVersion;
  private nodeReads = 0;
  private storeReads = 0;
  private readonly keyScratch = new Uint8Array(MAX_POS_KEY_BYTES);

  /** `root` and `size`: the tree the source holds now (the store's meta). O(1): nothing is read. */
  constructor(private readonly source: NodeSource, root: Uint8Array, size: number, opts: DiskSmtOptions = {}) {
    this.cache = new NodeCache(opts.cache);
    this.verifyReads = opts.verifyReads ?? false;
    this.current = new TreeVersion(this, toH32(checkHash(root, 'root')), size, null, null);
  }

  /** The durable version: the tree the store holds now. */
  get durable(): TreeVersion {
    return this.current;
  }

  stats(): DiskSmtStats {
    return { nodeReads: this.nodeReads, storeReads: this.storeReads, hashes: treeHashCount(), cache: this.cache.snapshotStats() };
  }

  /** @internal A node of a stored version, from the cache or the source. */
  readStored(v: TreeVersion, pos: PosId, hash: H32): TreeNode {
    if (v !== this.current && v.rootH32 !== this.current.rootH32) {
      throw new StateError('STATE_STALE_VERSION', 'this tree version was superseded: another version became durable in place of its base (a discarded proposal?); prepare again on the current state');
    }
    const cached = this.cache.get(pos);
    if (cached !== undefined) {
      if (cached.hash !== hash) throw new StateError('STATE_CORRUPT', 'tree node cache disagrees with its parent (cache not moved with a commit?)');
      return cached;
    }
    this.storeReads++;
    const len = posKeyOfId(pos, this.keyScratch);
    const rec = this.source.readNodeRecord(this.keyScratch.subarray(0, len));
    if (rec === undefined) throw new StateError('STATE_NODE_MISSING', `tree node at position ${String(pos)} is not in the store though its parent names it`);
    if (this.verifyReads && sha256H32(rec) !== hash) throw new StateError('STATE_CORRUPT', `tree node at position ${String(pos)} does not hash to what its parent names`);
    const node = decodeNode(rec, hash);
    this.cache.putRead(pos, node);
    return node;
  }

  /** @internal */
  countRead(): void {
    this.nodeReads++;
  }

  /** @internal The store made `v` durable: move the cache and make it the current version. */
  markDurable(v: TreeVersion, writes: ReadonlyMap<PosId, TreeNode | null>): void {
    this.cache.applyCommit(writes);
    this.current = v;
  }

  /**
   * Replaces the durable tree wholesale (after a bulk load wrote the store under this tree):
   * the cache is dropped and every version made before is stale.
   */
  reset(root: Uint8Array, size: number): void {
    this.cache.clear();
    this.current = new TreeVersion(this, toH32(checkHash(root, 'root')), size, null, null);
  }
}

export class TreeVersion {
  /** @internal */
  parent: TreeVersion | null;
  /** @internal Positions this version wrote relative to its parent; null once durable. */
  writes: Map<PosId, TreeNode | null> | null;

  /** @internal */
  constructor(
    private readonly smt: DiskSmt,
    readonly rootH32: H32,
    /** Number of leaves (live keys). */
    readonly size: number,
    parent: TreeVersion | null,
    writes: Map<PosId, TreeNode | null> | null,
  ) {
    this.parent = parent;
    this.writes = writes;
  }

  /** The 32-byte root hash (a fresh copy each time). */
  get root(): Uint8Array {
    return fromH32(this.rootH32);
  }

  /**
   * What this version's commit writes: nodes put (new or changed positions) and positions
   * deleted (emptied: stale nodes). Zero for a durable version. O(writes).
   */
  get writeCounts(): { puts: number; deletes: number } {
    let deletes = 0;
    this.writes?.forEach((n) => {
      if (n === null) deletes++;
    });
    return { puts: (this.writes?.size ?? 0) - deletes, deletes };
  }

  /** True once the store holds this version (its commit is visible). */
  get isDurable(): boolean {
    return this.writes === null;
  }

  /** @internal The node at `pos` in this version, whose hash its parent names. */
  nodeAt(pos: PosId, hash: H32): TreeNode {
    this.smt.countRead();
    for (let v: TreeVersion | null = this; v !== null; v = v.parent) {
      if (v.writes === null) return this.smt.readStored(v, pos, hash);
      const n = v.writes.get(pos);
      if (n !== undefined) {
        if (n === null || n.hash !== hash) throw new StateError('STATE_CORRUPT', `tree version overlay disagrees with its parent at position ${String(pos)}`);
        return n;
      }
    }
    throw new StateError('STATE_CORRUPT', 'tree version chain does not end at a durable version');
  }

  /** The value hash stored under `keyHash`, or undefined. O(depth) node reads. */
  get(keyHash: Uint8Array): Uint8Array | undefined {
    const key = toH32(checkHash(keyHash, 'keyHash'));
    if (this.rootH32 === ZERO_H32) return undefined;
    let pos: PosId = ROOT_POS;
    let node = this.nodeAt(pos, this.rootH32);
    let d = 0;
    while (node instanceof InternalNode) {
      const b = bitAt(key, d++);
      const h = b === 0 ? node.left : node.right;
      if (h === ZERO_H32) return undefined;
      pos = childPos(pos, b);
      node = this.nodeAt(pos, h);
    }
    return node.key === key ? fromH32(node.value) : undefined;
  }

  /** Every (keyHash, valueHash) in keyHash order; O(n) reads (audits and tests). */
  *entries(): IterableIterator<readonly [Uint8Array, Uint8Array]> {
    if (this.rootH32 === ZERO_H32) return;
    const stack: [PosId, H32][] = [[ROOT_POS, this.rootH32]];
    while (stack.length > 0) {
      const [pos, hash] = stack.pop()!;
      const n = this.nodeAt(pos, hash);
      if (n instanceof LeafNode) yield [fromH32(n.key), fromH32(n.value)];
      else {
        if (n.right !== ZERO_H32) stack.push([childPos(pos, 1), n.right]);
        if (n.left !== ZERO_H32) stack.push([childPos(pos, 0), n.left]);
      }
    }
  }

  /** Persistent batch update over (keyHash, valueHash | null) pairs; last change of a key wins. */
  withChanges(changes: Iterable<SmtChange>): TreeVersion {
    const batch: Change[] = [];
    for (const [k, v] of changes) {
      batch.push({ key: toH32(checkHash(k, 'keyHash')), value: v === null ? null : toH32(checkHash(v, 'valueHash')) });
    }
    return this.applyBatch(batch);
  }

  /** Persistent batch update over state writes (key, value bytes or null to delete). */
  withWrites(writes: Iterable<readonly [string, Uint8Array | null]>): TreeVersion {
    const batch: Change[] = [];
    for (const [k, v] of writes) batch.push({ key: stateKeyHashH32(k), value: v === null ? null : sha256H32(v) });
    return this.applyBatch(batch);
  }

  private applyBatch(batch: Change[]): TreeVersion {
    if (batch.length === 0) return this;
    sortedDistinct(batch);
    const u = new Update(this, batch);
    const root = u.run();
    if (u.writes.size === 0) return this;
    return new TreeVersion(this.smt, root, this.size + u.sizeDelta, this, u.writes);
  }

  /**
   * What committing this version writes to the store: its nodes relative to its base, which
   * must be the store's tree by then (the store checks the base root). Refused once durable.
   */
  delta(): TreeDelta {
    const writes = this.writes;
    const parent = this.parent;
    if (writes === null || parent === null) throw new StateError('STATE_OUT_OF_ORDER', 'this tree version is already durable; there is nothing to commit');
    return {
      baseRoot: parent.rootH32,
      root: this.rootH32,
      size: this.size,
      writes,
      committed: () => this.becomeDurable(),
    };
  }

  private becomeDurable(): void {
    const writes = this.writes;
    if (writes === null) return;
    this.smt.markDurable(this, writes);
    this.writes = null;
    this.parent = null;
  }
}

/**
 * One batch update (the algorithm of state/smt.ts `update`, over positions): `upd` returns the
 * new subtree at a position and records every position strictly below it that changed; the
 * caller places (or clears) the position itself, because a lone leaf floats up to the highest
 * position where it is alone.
 */
class Update {
  readonly writes = new Map<PosId, TreeNode | null>();
  sizeDelta = 0;

  constructor(
    private readonly base: TreeVersion,
    private readonly changes: readonly Change[],
  ) {}

  run(): H32 {
    const oldRoot = this.base.rootH32;
    const old = oldRoot === ZERO_H32 ? null : this.base.nodeAt(ROOT_POS, oldRoot);
    const top = this.upd(old, ROOT_POS, 0, 0, this.changes.length);
    this.place(ROOT_POS, oldRoot, top);
    return top === null ? ZERO_H32 : top.hash;
  }

  /** Records the node now at `pos` where the base had a node of hash `baseHash` (zero: none). */
  private place(pos: PosId, baseHash: H32, node: TreeNode | null): void {
    if (node === null) {
      if (baseHash !== ZERO_H32) this.writes.set(pos, null);
    } else if (node.hash !== baseHash) this.writes.set(pos, node);
  }

  /** New subtree at `pos` (depth d) from the base node `cur` there and changes[lo, hi). */
  private upd(cur: TreeNode | null, pos: PosId, d: number, lo: number, hi: number): TreeNode | null {
    if (cur instanceof InternalNode) return this.updInternal(cur, pos, d, lo, hi);
    if (hi - lo === 1) return this.updateOne(cur, this.changes[lo]!, pos, d);
    // Empty subtree or a single leaf: merge it with the changes and build this subtree anew.
    const items: Item[] = [];
    let leaf = cur;
    for (let i = lo; i < hi; i++) {
      const c = this.changes[i]!;
      if (leaf !== null) {
        if (leaf.key < c.key) {
          items.push(leaf);
          leaf = null;
        } else if (leaf.key === c.key) {
          if (c.value !== null) items.push(leaf.value === c.value ? leaf : (c as Item));
          else this.sizeDelta--;
          leaf = null;
          continue;
        }
      }
      if (c.value !== null) {
        items.push(c as Item);
        this.sizeDelta++;
      }
    }
    if (leaf !== null) items.push(leaf);
    if (items.length === 1 && items[0] === cur) return cur;
    return this.build(items, 0, items.length, pos, d);
  }

  private updInternal(cur: InternalNode, pos: PosId, d: number, lo: number, hi: number): TreeNode | null {
    const mid = splitPoint(this.changes, lo, hi, d);
    const pos0 = childPos(pos, 0);
    const pos1 = childPos(pos, 1);
    let ln: TreeNode | null | undefined; // undefined: no change on that side
    let rn: TreeNode | null | undefined;
    let lh = cur.left;
    let rh = cur.right;
    if (lo < mid) {
      ln = this.upd(lh === ZERO_H32 ? null : this.base.nodeAt(pos0, lh), pos0, d + 1, lo, mid);
      lh = ln === null ? ZERO_H32 : ln.hash;
    }
    if (mid < hi) {
      rn = this.upd(rh === ZERO_H32 ? null : this.base.nodeAt(pos1, rh), pos1, d + 1, mid, hi);
      rh = rn === null ? ZERO_H32 : rn.hash;
    }
    if (lh === cur.left && rh === cur.right) return cur;
    // Canonical shape: no leaves is empty, a lone leaf floats up to represent the subtree.
    if (lh === ZERO_H32 || rh === ZERO_H32) {
      let only: TreeNode | null = null;
      if (lh !== ZERO_H32) only = ln !== undefined ? ln : this.base.nodeAt(pos0, lh);
      else if (rh !== ZERO_H32) only = rn !== undefined ? rn : this.base.nodeAt(pos1, rh);
      if (only === null || only instanceof LeafNode) {
        this.place(pos0, cur.left, null);
        this.place(pos1, cur.right, null);
        return only;
      }
    }
    if (ln !== undefined) this.place(pos0, cur.left, ln);
    if (rn !== undefined) this.place(pos1, cur.right, rn);
    return new InternalNode(lh, rh);
  }

  /** One change meets an empty subtree or a single leaf: the common case, without arrays. */
  private updateOne(cur: LeafNode | null, c: Change, pos: PosId, d: number): TreeNode | null {
    if (cur === null) {
      if (c.value === null) return null;
      this.sizeDelta++;
      return new LeafNode(c.key, c.value);
    }
    if (cur.key === c.key) {
      if (c.value === null) {
        this.sizeDelta--;
        return null;
      }
      return cur.value === c.value ? cur : new LeafNode(c.key, c.value);
    }
    if (c.value === null) return cur;
    this.sizeDelta++;
    return this.pair(cur, new LeafNode(c.key, c.value), pos, d);
  }

  /** The subtree at `pos` (depth d) holding exactly the two leaves a and b (distinct keys sharing its path). */
  private pair(a: LeafNode, b: LeafNode, pos: PosId, d: number): InternalNode {
    // Positions from `pos` down a's path to depth D, where a and b part.
    const path: PosId[] = [pos];
    let D = d;
    while (bitAt(a.key, D) === bitAt(b.key, D)) {
      path.push(childPos(path[path.length - 1]!, bitAt(a.key, D)));
      D++;
    }
    const at = path[path.length - 1]!;
    const ba = bitAt(a.key, D);
    this.writes.set(childPos(at, ba), a);
    this.writes.set(childPos(at, ba ^ 1), b);
    let node = ba === 0 ? new InternalNode(a.hash, b.hash) : new InternalNode(b.hash, a.hash);
    while (D > d) {
      this.writes.set(path[D - d]!, node);
      D--;
      node = bitAt(a.key, D) === 0 ? new InternalNode(node.hash, ZERO_H32) : new InternalNode(ZERO_H32, node.hash);
    }
    return node;
  }

  /**
   * Bottom-up build of the subtree at `pos` (depth d) from sorted, distinct items[lo, hi) (at
   * least one). Nothing was stored below `pos` (it held a leaf or nothing), so every child is
   * written.
   */
  private build(items: readonly Item[], lo: number, hi: number, pos: PosId, d: number): TreeNode | null {
    const n = hi - lo;
    if (n === 0) return null;
    if (n === 1) {
      const it = items[lo]!;
      return it instanceof LeafNode ? it : new LeafNode(it.key, it.value);
    }
    const mid = splitPoint(items, lo, hi, d);
    const pos0 = childPos(pos, 0);
    const pos1 = childPos(pos, 1);
    const l = this.build(items, lo, mid, pos0, d + 1);
    const r = this.build(items, mid, hi, pos1, d + 1);
    if (l !== null) this.writes.set(pos0, l);
    if (r !== null) this.writes.set(pos1, r);
    return new InternalNode(l === null ? ZERO_H32 : l.hash, r === null ? ZERO_H32 : r.hash);
  }
}

/** Depth of a PosId (tests, audits). */
export function depthOfPos(pos: PosId): number {
  if (typeof pos === 'number') return depthOfNumeric(pos);
  const key = new Uint8Array(MAX_POS_KEY_BYTES);
  return decodePosKey(key.subarray(0, posKeyOfId(pos, key))).depth;
}
