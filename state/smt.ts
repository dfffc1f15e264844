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
import * as nodeCrypto from 'node:crypto';
import { sha256, sha256Concat, ZERO_HASH } from '../protocol/hash.js';
import { utf8 } from '../protocol/codec.js';

/**
 * SHA-256 of the key's UTF-8 bytes, memoised (bounded; cleared when full): blocks write the
 * same accounts' keys again and again. The returned array is shared: callers only read it.
 */
export function stateKeyHash(key: string): Uint8Array {
  let h = keyHashes.get(key);
  if (h === undefined) {
    h = sha256(utf8(key));
    if (keyHashes.size >= KEY_HASH_CACHE) keyHashes.clear();
    keyHashes.set(key, h);
  }
  return h;
}

const KEY_HASH_CACHE = 1 << 16;
const keyHashes = new Map<string, Uint8Array>();

export function stateValueHash(value: Uint8Array): Uint8Array {
  return sha256(value);
}

/** One change in a batch: a new value hash for the key, or null to delete it. */
export type SmtChange = readonly [keyHash: Uint8Array, valueHash: Uint8Array | null];

type SmtEntry = readonly [keyHash: Uint8Array, valueHash: Uint8Array];

// ---------------------------------------------------------------------------------------
// Representation. Inside this module every 32-byte hash (key hash, value hash, node hash)
// is an `H32`: a 32-character latin1 string whose char codes are the bytes. Strings live
// on the V8 heap, so a node and its hash cost no off-heap backing store. Measured on the
// 2-core dev box (Node 20): keeping a 65-byte digest as a Buffer 1.23 us, as a latin1
// string 0.37 us; a 100k-key tree went from 567 bytes per key (Uint8Array leaves) to 400,
// and the GC time that dominated updates shrank with it. Code-unit order of these strings
// is byte order, so sorting and comparing them is sorting and comparing the bytes. The
// public API speaks Uint8Array only.

type H32 = string;

function toH32(b: Uint8Array): H32 {
  return String.fromCharCode(
    b[0]!, b[1]!, b[2]!, b[3]!, b[4]!, b[5]!, b[6]!, b[7]!, b[8]!, b[9]!, b[10]!,
    b[11]!, b[12]!, b[13]!, b[14]!, b[15]!, b[16]!, b[17]!, b[18]!, b[19]!, b[20]!,
    b[21]!, b[22]!, b[23]!, b[24]!, b[25]!, b[26]!, b[27]!, b[28]!, b[29]!, b[30]!, b[31]!,
  );
}

function fromH32(h: H32): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = h.charCodeAt(i);
  return out;
}

/** Bit `depth` of a key hash, most significant bit of byte 0 first. */
function bitAt(key: H32, depth: number): number {
  return (key.charCodeAt(depth >>> 3) >>> (7 - (depth & 7))) & 1;
}

let hashCount = 0;
/** Node hashes computed by this module since start (for benchmarks and metrics). */
export function smtHashCount(): number {
  return hashCount;
}

type OneShotString = (alg: string, data: Uint8Array, enc: 'binary') => string;
const oneShot = (nodeCrypto as unknown as { hash?: OneShotString }).hash;

// One scratch buffer for the 65-byte preimages: hashing is synchronous, so no reentrancy.
const scratch = new Uint8Array(65);

/** Copy an H32 into the scratch preimage at `offset`. */
function put(h: H32, offset: number): void {
  for (let i = 0; i < 32; i++) scratch[offset + i] = h.charCodeAt(i);
}

function hashScratch(): H32 {
  hashCount++;
  return oneShot ? oneShot('sha256', scratch, 'binary') : nodeCrypto.createHash('sha256').update(scratch).digest('binary');
}

const ZERO_H32: H32 = toH32(ZERO_HASH);

// ---------------------------------------------------------------------------------------
// Nodes. Immutable once built; each computes its hash once, at construction, so the
// number of SHA-256 calls in an update equals the number of nodes it creates.

class Leaf {
  readonly hash: H32;
  constructor(
    readonly key: H32,
    readonly value: H32,
  ) {
    scratch[0] = 0x00;
    put(key, 1);
    put(value, 33);
    this.hash = hashScratch();
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
    scratch[0] = 0x01;
    put(left === null ? ZERO_H32 : left.hash, 1);
    put(right === null ? ZERO_H32 : right.hash, 33);
    this.hash = hashScratch();
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
interface PendingChange {
  readonly key: H32;
  readonly value: H32 | null;
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
function sortedDistinct<T extends { readonly key: H32 }>(items: T[]): T[] {
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
    const batch: PendingChange[] = [];
    for (const [k, v] of changes) {
      batch.push({
        key: toH32(checkHash(k, 'keyHash')),
        value: v === null ? null : toH32(checkHash(v, 'valueHash')),
      });
    }
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
