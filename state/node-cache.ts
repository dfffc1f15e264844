/**
 * NodeCache: decoded tree nodes of the DURABLE tree (what the store holds now), by position.
 *
 * Two tiers, both bounded:
 * - pinned: every node at depth < pinnedDepth, in an array indexed by its numeric PosId
 *   (2^d + prefix). At most 2^pinnedDepth - 1 entries. A block of C random changes rewrites
 *   nearly all nodes above depth log2(C), so these are read by every block. Filled lazily
 *   (start-up loads nothing) and kept current at each commit.
 * - below them, at most `lruNodes` recently written nodes (the paths of the keys the last blocks
 *   changed, put there at commit), which pays off when blocks touch the same accounts again
 *   (hot accounts, fee sinks). Nodes read from disk below the pinned levels are not cached.
 *   Approximate LRU in two generations (young, old: a hit in old moves to young; when young
 *   holds half the budget, old is dropped and young becomes old). A Map used as an exact LRU
 *   (delete + re-insert, evict `keys().next()`) was measured quadratic: V8 leaves deleted
 *   entries as holes that every `keys().next()` walks past until the table is rehashed, and
 *   the cache made a 200k-account block 6x slower than no cache at all.
 *
 * Entries are by position, so they are only valid for one tree: `applyCommit` moves the cache
 * from one durable tree to the next, in the same synchronous step as the store's read snapshot
 * (see DiskSmt.committed).
 */
import type { PosId, TreeNode } from './tree-node.js';

export interface NodeCacheOptions {
  /** Depths 0 .. pinnedDepth-1 are pinned (<= 24). Default 16: at most 65,535 nodes, ~12 MB. */
  readonly pinnedDepth?: number;
  /** Entries of the LRU below the pinned levels. Default 131,072 (~25 MB). 0 disables it. */
  readonly lruNodes?: number;
}

export const NODE_CACHE_DEFAULTS: Required<NodeCacheOptions> = { pinnedDepth: 16, lruNodes: 131_072 };

export interface NodeCacheStats {
  pinnedHits: number;
  lruHits: number;
  misses: number;
  pinned: number;
  lru: number;
}

export class NodeCache {
  readonly pinnedDepth: number;
  readonly lruNodes: number;
  private readonly pinned: (TreeNode | undefined)[];
  /** Numeric ids below this are pinned. */
  private readonly pinnedLimit: number;
  private pinnedCount = 0;
  /** Recently used (young) and used before that (old); together at most lruNodes. */
  private young = new Map<PosId, TreeNode>();
  private old = new Map<PosId, TreeNode>();
  readonly stats: NodeCacheStats = { pinnedHits: 0, lruHits: 0, misses: 0, pinned: 0, lru: 0 };

  constructor(opts: NodeCacheOptions = {}) {
    const o = { ...NODE_CACHE_DEFAULTS, ...opts };
    if (!Number.isInteger(o.pinnedDepth) || o.pinnedDepth < 0 || o.pinnedDepth > 24) throw new RangeError('NodeCache: pinnedDepth must be an integer in 0..24');
    if (!Number.isInteger(o.lruNodes) || o.lruNodes < 0) throw new RangeError('NodeCache: lruNodes must be a non-negative integer');
    this.pinnedDepth = o.pinnedDepth;
    this.lruNodes = o.lruNodes;
    this.pinnedLimit = 2 ** o.pinnedDepth;
    this.pinned = new Array<TreeNode | undefined>(o.pinnedDepth === 0 ? 0 : this.pinnedLimit);
  }

  private isPinned(pos: PosId): pos is number {
    return typeof pos === 'number' && pos < this.pinnedLimit;
  }

  get(pos: PosId): TreeNode | undefined {
    if (this.isPinned(pos)) {
      const n = this.pinned[pos];
      if (n !== undefined) this.stats.pinnedHits++;
      else this.stats.misses++;
      return n;
    }
    let n = this.young.get(pos);
    if (n === undefined) {
      n = this.old.get(pos);
      if (n === undefined) {
        this.stats.misses++;
        return undefined;
      }
      this.old.delete(pos);
      this.insertYoung(pos, n);
    }
    this.stats.lruHits++;
    return n;
  }

  private insertYoung(pos: PosId, node: TreeNode): void {
    this.young.set(pos, node);
    if (this.young.size * 2 >= this.lruNodes) {
      this.old = this.young;
      this.young = new Map();
    }
  }

  /**
   * A node just read from disk: kept only if pinned. Below the pinned levels a node read by an
   * update is replaced by the version's new node when that version commits (which caches it),
   * so caching the read one would cost a Map insert per miss and rarely serve a hit (measured:
   * at 1M accounts, random blocks, the cache was slower than no cache while reads filled it).
   */
  putRead(pos: PosId, node: TreeNode): void {
    if (this.isPinned(pos)) {
      if (this.pinned[pos] === undefined) this.pinnedCount++;
      this.pinned[pos] = node;
    }
  }

  /** A node of the durable tree written by the commit that made it durable. */
  put(pos: PosId, node: TreeNode): void {
    if (this.isPinned(pos)) {
      if (this.pinned[pos] === undefined) this.pinnedCount++;
      this.pinned[pos] = node;
      return;
    }
    if (this.lruNodes === 0) return;
    this.old.delete(pos);
    this.insertYoung(pos, node);
  }

  /** The position is empty in the durable tree now. */
  delete(pos: PosId): void {
    if (this.isPinned(pos)) {
      if (this.pinned[pos] !== undefined) this.pinnedCount--;
      this.pinned[pos] = undefined;
    } else {
      this.young.delete(pos);
      this.old.delete(pos);
    }
  }

  /** Moves the cache to the tree a commit made durable: its written and cleared positions. */
  applyCommit(writes: ReadonlyMap<PosId, TreeNode | null>): void {
    for (const [pos, node] of writes) {
      if (node === null) this.delete(pos);
      else this.put(pos, node);
    }
  }

  /** Drops everything (a store rewritten under the cache, e.g. by a bulk load). */
  clear(): void {
    this.pinned.fill(undefined);
    this.pinnedCount = 0;
    this.young.clear();
    this.old.clear();
  }

  get size(): { pinned: number; lru: number } {
    return { pinned: this.pinnedCount, lru: this.young.size + this.old.size };
  }

  snapshotStats(): NodeCacheStats {
    return { ...this.stats, pinned: this.pinnedCount, lru: this.young.size + this.old.size };
  }
}
