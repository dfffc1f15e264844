/**
 * State root: a canonical, compressed, binary sparse Merkle tree (Diem/Aptos style),
 * kept in memory and updated persistently.
 *
 * Definition (consensus-critical; copied into docs/PROTOCOL.md):
 * - keyHash = SHA-256(UTF-8 bytes of key); valueHash = SHA-256(value bytes).
 * - The tree is indexed by the 256 bits of keyHash, most significant bit of byte 0 first;
 *   bit 0 goes left, 1 goes right.
 * - hash(empty subtree) = 32 zero bytes.
 * - A subtree that holds exactly one leaf is represented by that leaf, whatever its depth:
 *   leafHash = SHA-256(0x00 || keyHash || valueHash).
 * - A subtree holding two or more leaves is an internal node:
 *   SHA-256(0x01 || hash(left) || hash(right)) (one side may be empty = zeros).
 * - root = hash of the whole tree (empty tree: 32 zero bytes).
 * The shape is a function of the key set only, so the root depends only on the set of
 * (key, value) pairs, never on insertion order or history.
 *
 * Why persistent: consensus computes the root of a proposed block without committing it,
 * and the node may execute block N+1 on top of block N's tree before N is on disk. A
 * batch update copies only the paths it touches and shares every other node, so a
 * superseded tree stays valid and a block costs O(changed keys x log n) hashes.
 */
import { fromH32, hashTaggedPair, sha256, sha256Concat, sha256H32, toH32, ZERO_H32, type H32 } from '../protocol/hash.js';
import { utf8 } from '../protocol/codec.js';

/**
 * SHA-256 of the key's UTF-8 bytes as an H32, memoised (bounded; cleared when full): blocks
 * write the same accounts' keys again and again.
 */
function keyHashH32(key: string): H32 {
  let h = keyHashes.get(key);
  if (h === undefined) {
    h = sha256H32(utf8(key));
    if (keyHashes.size >= KEY_HASH_CACHE) keyHashes.clear();
    keyHashes.set(key, h);
  }
  return h;
}

const KEY_HASH_CACHE = 1 << 16;
const keyHashes = new Map<string, H32>();

/** stateKeyHash as an H32 (memoised): what the bucket tree (bucket-tree.ts) indexes by. */
export function stateKeyHashH32(key: string): H32 {
  return keyHashH32(key);
}

export function stateKeyHash(key: string): Uint8Array {
  return fromH32(keyHashH32(key));
}

export function stateValueHash(value: Uint8Array): Uint8Array {
  return sha256(value);
}

/** One change in a batch: a new value hash for the key, or null to delete it. */
export type SmtChange = readonly [keyHash: Uint8Array, valueHash: Uint8Array | null];

type SmtEntry = readonly [keyHash: Uint8Array, valueHash: Uint8Array];

// ---------------------------------------------------------------------------------------
// Representation. Inside this module every 32-byte hash (key hash, value hash, node hash)
// is an `H32` (protocol/hash.ts): a latin1 string on the V8 heap, no off-heap backing
// store. A 100k-key tree went from 567 bytes per key (Uint8Array leaves) to 400, and the GC
// time that dominated updates shrank with it. The public API speaks Uint8Array only.

/** Bit `depth` of a key hash, most significant bit of byte 0 first. */
function bitAt(key: H32, depth: number): number {
  return (key.charCodeAt(depth >>> 3) >>> (7 - (depth & 7))) & 1;
}

let hashCount = 0;
/** Node hashes computed by this module since start (for benchmarks and metrics). */
export function smtHashCount(): number {
  return hashCount;
}

function nodeHash(tag: 0x00 | 0x01, a: H32, b: H32): H32 {
  hashCount++;
  return hashTaggedPair(tag, a, b);
}

// ---------------------------------------------------------------------------------------
// Nodes. Immutable once built; each computes its hash once, at construction, so the
// number of SHA-256 calls in an update equals the number of nodes it creates.

class Leaf {
  readonly hash: H32;
  constructor(
    readonly key: H32,
    readonly value: H32,
  ) {
    this.hash = nodeHash(0x00, key, value);
  }
  get count(): number {
    return 1;
  }
}

class Internal {
  readonly hash: H32;
  readonly count: number;
  constructor(
    readonly left: Node | null,
    readonly right: Node | null,
  ) {
    this.hash = nodeHash(0x01, left === null ? ZERO_H32 : left.hash, right === null ? ZERO_H32 : right.hash);
    this.count = (left === null ? 0 : left.count) + (right === null ? 0 : right.count);
  }
}

type Node = Leaf | Internal;

/** A (key, value) to place: a pending change, or an existing Leaf (which fits this shape). */
interface Item {
  readonly key: H32;
  readonly value: H32;
}

/** One entry of a sorted batch; value null deletes. */
/** One change of a batch as H32s: the key hash and the new value hash, or null to delete. */
export interface PendingChange {
  readonly key: H32;
  readonly value: H32 | null;
}

/** A batch of (keyHash, valueHash | null) digests as H32 changes (checked: 32 bytes each). */
export function changeBatch(changes: Iterable<SmtChange>): PendingChange[] {
  const batch: PendingChange[] = [];
  for (const [k, v] of changes) batch.push({ key: toH32(checkHash(k, 'keyHash')), value: v === null ? null : toH32(checkHash(v, 'valueHash')) });
  return batch;
}

/** A batch of state writes (key, value bytes or null) as H32 changes: stateKeyHash / stateValueHash. */
export function writeBatch(writes: Iterable<readonly [string, Uint8Array | null]>): PendingChange[] {
  const batch: PendingChange[] = [];
  for (const [k, v] of writes) batch.push({ key: keyHashH32(k), value: v === null ? null : sha256H32(v) });
  return batch;
}

/**
 * First index in [lo, hi) whose key has bit `depth` set. The range is sorted and all its
 * keys share their first `depth` bits, so the bit is monotone over it.
 */
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

/** Bottom-up build of the subtree at `depth` from sorted, distinct items[lo, hi). */
function buildRange(items: readonly Item[], lo: number, hi: number, depth: number): Node | null {
  const n = hi - lo;
  if (n === 0) return null;
  if (n === 1) {
    const it = items[lo]!;
    return it instanceof Leaf ? it : new Leaf(it.key, it.value);
  }
  const mid = splitPoint(items, lo, hi, depth);
  return new Internal(buildRange(items, lo, mid, depth + 1), buildRange(items, mid, hi, depth + 1));
}

/**
 * Join two updated children of an internal node, keeping the canonical shape: no leaves
 * means empty, a lone leaf floats up to represent the whole subtree.
 */
function join(old: Internal, left: Node | null, right: Node | null): Node | null {
  if (left === old.left && right === old.right) return old;
  if (left === null && right === null) return null;
  if (left === null && right instanceof Leaf) return right;
  if (right === null && left instanceof Leaf) return left;
  return new Internal(left, right);
}

/** Apply sorted, distinct changes[lo, hi) (all on `node`'s path) to `node` at `depth`. */
function update(node: Node | null, changes: readonly PendingChange[], lo: number, hi: number, depth: number): Node | null {
  if (lo === hi) return node;
  if (node instanceof Internal) {
    const mid = splitPoint(changes, lo, hi, depth);
    return join(node, update(node.left, changes, lo, mid, depth + 1), update(node.right, changes, mid, hi, depth + 1));
  }
  if (hi - lo === 1) return updateOne(node, changes[lo]!, depth);
  // Empty subtree or a single leaf: merge it with the changes and build this subtree anew.
  const items: Item[] = [];
  let leaf = node;
  for (let i = lo; i < hi; i++) {
    const c = changes[i]!;
    if (leaf !== null) {
      if (leaf.key < c.key) {
        items.push(leaf);
        leaf = null;
      } else if (leaf.key === c.key) {
        // The change replaces the leaf; keep the node itself when the value is unchanged.
        if (c.value !== null) items.push(leaf.value === c.value ? leaf : (c as Item));
        leaf = null;
        continue;
      }
    }
    if (c.value !== null) items.push(c as Item);
  }
  if (leaf !== null) items.push(leaf);
  if (items.length === 1 && items[0] === node) return node;
  return buildRange(items, 0, items.length, depth);
}

/**
 * The common case of `update`: one change meets an empty subtree or a single leaf.
 * Same result as the general merge, without its temporary arrays.
 */
function updateOne(node: Leaf | null, c: PendingChange, depth: number): Node | null {
  if (node === null) return c.value === null ? null : new Leaf(c.key, c.value);
  if (node.key === c.key) {
    if (c.value === null) return null;
    return node.value === c.value ? node : new Leaf(c.key, c.value);
  }
  if (c.value === null) return node;
  return pair(node, new Leaf(c.key, c.value), depth);
}

/** The subtree at `depth` holding exactly two distinct leaves that share its path. */
function pair(a: Leaf, b: Leaf, depth: number): Internal {
  let d = depth;
  while (bitAt(a.key, d) === bitAt(b.key, d)) d++;
  let node = bitAt(a.key, d) === 0 ? new Internal(a, b) : new Internal(b, a);
  while (d > depth) {
    d--;
    node = bitAt(a.key, d) === 0 ? new Internal(node, null) : new Internal(null, node);
  }
  return node;
}

function checkHash(h: unknown, what: string): Uint8Array {
  if (!(h instanceof Uint8Array) || h.length !== 32) {
    throw new TypeError(`SparseMerkleTree: ${what} must be a 32-byte Uint8Array (a SHA-256 digest)`);
  }
  return h;
}

/** Sort by key and keep the last occurrence of each key (Array#sort is stable). */
/** Sorts by key hash in place and keeps the last occurrence of each key (Array#sort is stable). */
export function sortedDistinct<T extends { readonly key: H32 }>(items: T[]): T[] {
  items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  let w = 0;
  for (let r = 0; r < items.length; r++) {
    if (w > 0 && items[w - 1]!.key === items[r]!.key) items[w - 1] = items[r]!;
    else items[w++] = items[r]!;
  }
  items.length = w;
  return items;
}

/**
 * The state tree. Immutable: `withChanges` returns a new tree that shares every node the
 * batch did not touch, so any number of versions can be held at once.
 */
export class SparseMerkleTree {
  private constructor(private readonly top: Node | null) {}

  static empty(): SparseMerkleTree {
    return new SparseMerkleTree(null);
  }

  /** Bulk build at startup: sort by keyHash, then build bottom-up. A repeated key: last wins. */
  static build(entries: Iterable<SmtEntry>): SparseMerkleTree {
    const items: Item[] = [];
    for (const [k, v] of entries) {
      items.push({ key: toH32(checkHash(k, 'keyHash')), value: toH32(checkHash(v, 'valueHash')) });
    }
    return SparseMerkleTree.ofItems(items);
  }

  /** `build` over state entries (key string, value bytes): hashes them with stateKeyHash / stateValueHash. */
  static ofState(entries: Iterable<readonly [string, Uint8Array]>): SparseMerkleTree {
    const items: Item[] = [];
    for (const [k, v] of entries) items.push({ key: keyHashH32(k), value: sha256H32(v) });
    return SparseMerkleTree.ofItems(items);
  }

  private static ofItems(items: Item[]): SparseMerkleTree {
    sortedDistinct(items);
    return new SparseMerkleTree(buildRange(items, 0, items.length, 0));
  }

  /** The 32-byte root hash (a fresh copy each time). */
  get root(): Uint8Array {
    return this.top === null ? new Uint8Array(32) : fromH32(this.top.hash);
  }

  /** Number of leaves (live keys). */
  get size(): number {
    return this.top === null ? 0 : this.top.count;
  }

  /** The value hash stored under `keyHash`, or undefined. */
  get(keyHash: Uint8Array): Uint8Array | undefined {
    const key = toH32(checkHash(keyHash, 'keyHash'));
    let node = this.top;
    let depth = 0;
    while (node instanceof Internal) {
      node = bitAt(key, depth++) === 0 ? node.left : node.right;
    }
    return node !== null && node.key === key ? fromH32(node.value) : undefined;
  }

  /** All (keyHash, valueHash) pairs in keyHash order. */
  *entries(): IterableIterator<SmtEntry> {
    const stack: Node[] = this.top === null ? [] : [this.top];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n instanceof Leaf) {
        yield [fromH32(n.key), fromH32(n.value)];
      } else {
        if (n.right !== null) stack.push(n.right);
        if (n.left !== null) stack.push(n.left);
      }
    }
  }

  /**
   * Persistent batch update: a new tree with the changes applied; `this` is unchanged.
   * Deleting a missing key is a no-op; if a keyHash appears twice the last change wins.
   * The batch is sorted once and applied in a single descent, so a shared path prefix is
   * copied and hashed once per batch, not once per key.
   */
  withChanges(changes: Iterable<SmtChange>): SparseMerkleTree {
    return this.applyBatch(changeBatch(changes));
  }

  /**
   * `withChanges` over state writes (key string, value bytes or null to delete), hashed with
   * stateKeyHash / stateValueHash. What the chain's state uses: no Uint8Array digests.
   */
  withWrites(writes: Iterable<readonly [string, Uint8Array | null]>): SparseMerkleTree {
    return this.applyBatch(writeBatch(writes));
  }

  private applyBatch(batch: PendingChange[]): SparseMerkleTree {
    if (batch.length === 0) return this;
    sortedDistinct(batch);
    const top = update(this.top, batch, 0, batch.length, 0);
    return top === this.top ? this : new SparseMerkleTree(top);
  }
}

const LEAF_TAG = new Uint8Array([0x00]);
const NODE_TAG = new Uint8Array([0x01]);

/**
 * Reference implementation for tests: the root from scratch, straight from the
 * definition (recursive partition by bit, no sorting, no sharing with the tree above).
 * A repeated key: last wins.
 */
export function computeRootNaive(entries: Iterable<SmtEntry>): Uint8Array {
  const byKey = new Map<string, SmtEntry>();
  for (const e of entries) byKey.set(Buffer.from(e[0]).toString('hex'), e);
  const hashOf = (set: SmtEntry[], depth: number): Uint8Array => {
    if (set.length === 0) return new Uint8Array(32);
    if (set.length === 1) return sha256Concat(LEAF_TAG, set[0]![0], set[0]![1]);
    const goesRight = (k: Uint8Array): boolean => (k[Math.floor(depth / 8)]! & (0x80 >> depth % 8)) !== 0;
    const left = set.filter(([k]) => !goesRight(k));
    const right = set.filter(([k]) => goesRight(k));
    return sha256Concat(NODE_TAG, hashOf(left, depth + 1), hashOf(right, depth + 1));
  };
  return hashOf([...byKey.values()], 0);
}
