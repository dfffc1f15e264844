/**
 * The state tree over the state store: the same canonical sparse Merkle tree as state/smt.ts
 * (same root, docs/PROTOCOL.md "State root"), laid out for a store that is written once per
 * block and must stay cheap at millions of keys.
 *
 * Layout. Every key hash falls in one of 2^B buckets by its first B bits (B = `bits`, 20 by
 * default: ~10 keys a bucket at 10M keys, ~1 at 1M).
 *   - The levels 0..B of the tree (the "top": 2^(B+1) - 1 positions) are held in memory in
 *     flat typed arrays, one hash and one kind (empty / single leaf / internal) per position,
 *     ~33 bytes each: 66 MB reserved at B = 20, of which only the touched pages are resident
 *     (the arrays are zero-filled lazily by the OS), so a small state costs a few pages.
 *   - Below level B, each bucket's subtree is one record in the store's `buckets` table:
 *     its hash, then its leaves (keyHash, leafHash) sorted by key hash (32 + 64 n bytes).
 * A block of C changes costs at most C bucket reads (none for an empty bucket), the
 * rehash of each touched bucket's few leaves, and the top levels on the changed paths in
 * memory; its commit writes one record per touched bucket. Measured against the per-node
 * layout this replaced (state/README.md): ~9.5 node writes a change become one.
 *
 * Versions. `withWrites` returns a new version and leaves its base as it was: consensus can
 * prepare proposals it throws away, and the node executes block N+1 on N's tree before N is
 * durable. A version holds the top positions and bucket records its batch changed and a link
 * to its base; reads walk the chain of unsettled versions down to the durable arrays and the
 * store. When the store commits a version (`delta().committed()`), its top positions are
 * copied into the arrays and it becomes the durable version. A version whose base was
 * superseded by another durable version (a discarded proposal) can no longer read what it
 * did not write: STATE_STALE_VERSION, never a wrong node.
 *
 * Start-up (`BucketTree.open`): a clean shutdown leaves a checkpoint of the top (its non-empty
 * positions, ~38 bytes each, checked by SHA-256 and by the stored root and size), which the
 * next start loads. Without one that matches (first start, after a crash), it reads every
 * bucket record's hash (a sequential scan, no leaf hashed) and combines the top levels:
 * O(buckets) = O(min(n, 2^B)).
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { fromH32, hashTaggedPair, sha256, sha256H32, toH32, ZERO_H32, type H32 } from '../protocol/hash.js';
import { changeBatch, sortedDistinct, writeBatch, type PendingChange, type SmtChange } from './smt.js';
import { StateError } from './state-error.js';

export const DEFAULT_BUCKET_BITS = 20;
export const MAX_BUCKET_BITS = 24;

/** Where the durable tree's bucket records are read from (the store's current read snapshot, or memory in tests). */
export interface BucketSource {
  /** The record of bucket `index`, or undefined; the bytes may be reused by the next read. */
  readBucket(index: number): Uint8Array | undefined;
  /** Every record in index order (start-up); the bytes are valid during the call only. */
  forEachBucket(fn: (index: number, record: Uint8Array) => void): void;
}

/** What a block commit writes into the tree's part of the store (see StateDb.commitBlock). */
export interface TreeDelta {
  /** Root of the tree the delta applies to (the store's, once earlier commits are done). */
  readonly baseRoot: H32;
  readonly root: H32;
  /** Live keys after the delta. */
  readonly size: number;
  /** Bucket bits of the tree (stored in meta). */
  readonly bits: number;
  /** Buckets written: the record now there, or null (empty now: delete). */
  readonly writes: ReadonlyMap<number, Uint8Array | null>;
  /**
   * The store calls this in the same synchronous step in which its read snapshot moves to the
   * tree with this delta applied, before anything else can read.
   */
  committed(): void;
}

export interface BucketTreeOptions {
  /** Recompute each bucket record read from the store and compare it with the hash the top names (audits, tests). */
  readonly verifyReads?: boolean;
  /**
   * A top checkpoint file (`saveCheckpoint`): `open` loads the top from it instead of scanning
   * the bucket records when it describes exactly the stored tree (same bits, root and size,
   * intact). A missing, stale or damaged file only costs the scan.
   */
  readonly checkpointPath?: string;
}

export interface BucketTreeStats {
  /** Bucket records read from the store by updates and reads. */
  bucketReads: number;
  /** Hashes computed by this module since process start. */
  hashes: number;
  /** Time `open` took. */
  startupMs: number;
  /** How `open` got the top: from a checkpoint file, or by scanning the bucket records. */
  startup: 'checkpoint' | 'scan';
}

// A node of the top is a 33-character latin1 string: its kind, then its 32 hash bytes.
const EMPTY = 0;
const SINGLE = 1;
const INTERNAL = 2;
type Node = string;
const EMPTY_NODE: Node = String.fromCharCode(EMPTY) + ZERO_H32;
const SINGLE_C = String.fromCharCode(SINGLE);
const INTERNAL_C = String.fromCharCode(INTERNAL);

const RECORD_HEADER = 32;
/** Checkpoint file: u32 magic | u32 bits | [32] root | u64 size | [32] SHA-256 of the body | body. */
const CKPT_MAGIC = 0x31435450; // "PTC1"
const CKPT_HEADER = 4 + 4 + 32 + 8 + 32;
const CKPT_NODE = 38;
const PAIR = 64;

let hashCount = 0;
/** Hashes computed by the bucket tree since process start (benchmarks). */
export function bucketTreeHashCount(): number {
  return hashCount;
}

const pre = new Uint8Array(65);
/** The parent of two nodes, keeping the canonical shape: no leaf is empty, a lone leaf floats up. */
function combine(l: Node, r: Node): Node {
  const lk = l.charCodeAt(0);
  const rk = r.charCodeAt(0);
  if (lk === EMPTY) {
    if (rk === EMPTY) return EMPTY_NODE;
    if (rk === SINGLE) return r;
  } else if (rk === EMPTY && lk === SINGLE) return l;
  pre[0] = 0x01;
  for (let j = 1; j <= 32; j++) {
    pre[j] = l.charCodeAt(j);
    pre[32 + j] = r.charCodeAt(j);
  }
  hashCount++;
  return INTERNAL_C + sha256H32(pre);
}

function bitAt(key: H32, d: number): number {
  return (key.charCodeAt(d >>> 3) >>> (7 - (d & 7))) & 1;
}

/** The first `bits` bits of a key hash (bits <= 24). */
export function bucketOf(key: H32, bits: number): number {
  return ((key.charCodeAt(0) << 16) | (key.charCodeAt(1) << 8) | key.charCodeAt(2)) >>> (24 - bits);
}

/** Hash of the subtree at depth d holding keys[lo, hi) (sorted, distinct, at least two share its path). */
function subtreeHash(keys: readonly H32[], leaves: readonly H32[], lo: number, hi: number, d: number): H32 {
  if (hi - lo === 1) return leaves[lo]!;
  let a = lo;
  let b = hi;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (bitAt(keys[mid]!, d) === 0) a = mid + 1;
    else b = mid;
  }
  const l = a > lo ? subtreeHash(keys, leaves, lo, a, d + 1) : ZERO_H32;
  const r = hi > a ? subtreeHash(keys, leaves, a, hi, d + 1) : ZERO_H32;
  hashCount++;
  return hashTaggedPair(0x01, l, r);
}

/** The top node of a bucket holding these leaves (sorted by key). */
function bucketNode(keys: readonly H32[], leaves: readonly H32[], bits: number): Node {
  if (keys.length === 0) return EMPTY_NODE;
  if (keys.length === 1) return SINGLE_C + leaves[0]!;
  return INTERNAL_C + subtreeHash(keys, leaves, 0, keys.length, bits);
}

/** Node's Buffer has fast latin1 slicing; its typings omit it. */
interface Latin1 extends Uint8Array {
  latin1Slice(start: number, end: number): string;
}

function latin1(b: Uint8Array): Latin1 {
  return (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)) as unknown as Latin1;
}

/** Decodes a bucket record into its sorted key hashes and leaf hashes. */
function decodeRecord(rec: Uint8Array, index: number): { keys: H32[]; leaves: H32[]; hash: H32 } {
  const n = (rec.length - RECORD_HEADER) / PAIR;
  if (!Number.isInteger(n) || n < 1) throw new StateError('STATE_CORRUPT', `bucket record ${index} has ${rec.length} bytes, not 32 + 64n (n >= 1)`);
  const buf = latin1(rec);
  const keys = new Array<H32>(n);
  const leaves = new Array<H32>(n);
  for (let i = 0, o = RECORD_HEADER; i < n; i++, o += PAIR) {
    keys[i] = buf.latin1Slice(o, o + 32);
    leaves[i] = buf.latin1Slice(o + 32, o + 64);
  }
  return { keys, leaves, hash: buf.latin1Slice(0, 32) };
}

function encodeRecord(node: Node, keys: readonly H32[], leaves: readonly H32[]): Uint8Array {
  let s = node.slice(1);
  for (let i = 0; i < keys.length; i++) s += keys[i]! + leaves[i]!;
  return Buffer.from(s, 'latin1');
}

/** The durable top: one hash and one kind per position of levels 0..bits. */
class Top {
  readonly hashes: Uint8Array[] = [];
  readonly kinds: Uint8Array[] = [];
  constructor(readonly bits: number) {
    for (let d = 0; d <= bits; d++) {
      this.hashes.push(new Uint8Array(32 * 2 ** d));
      this.kinds.push(new Uint8Array(2 ** d));
    }
  }
  node(d: number, i: number): Node {
    const k = this.kinds[d]![i]!;
    if (k === EMPTY) return EMPTY_NODE;
    const h = this.hashes[d]!;
    const o = i * 32;
    return String.fromCharCode(
      k, h[o]!, h[o + 1]!, h[o + 2]!, h[o + 3]!, h[o + 4]!, h[o + 5]!, h[o + 6]!, h[o + 7]!, h[o + 8]!, h[o + 9]!, h[o + 10]!,
      h[o + 11]!, h[o + 12]!, h[o + 13]!, h[o + 14]!, h[o + 15]!, h[o + 16]!, h[o + 17]!, h[o + 18]!, h[o + 19]!, h[o + 20]!,
      h[o + 21]!, h[o + 22]!, h[o + 23]!, h[o + 24]!, h[o + 25]!, h[o + 26]!, h[o + 27]!, h[o + 28]!, h[o + 29]!, h[o + 30]!, h[o + 31]!,
    );
  }
  set(d: number, i: number, n: Node): void {
    const k = n.charCodeAt(0);
    this.kinds[d]![i] = k;
    const h = this.hashes[d]!;
    const o = i * 32;
    if (k === EMPTY) h.fill(0, o, o + 32);
    else for (let j = 0; j < 32; j++) h[o + j] = n.charCodeAt(1 + j);
  }
  /**
   * The non-empty positions, level by level: u8 level | u32 index (LE) | u8 kind | [32] hash.
   * What a checkpoint file holds.
   */
  serialize(): Uint8Array {
    let count = 0;
    for (let d = 0; d <= this.bits; d++) {
      const k = this.kinds[d]!;
      for (let i = 0; i < k.length; i++) if (k[i] !== EMPTY) count++;
    }
    const out = new Uint8Array(count * CKPT_NODE);
    const view = new DataView(out.buffer);
    let o = 0;
    for (let d = 0; d <= this.bits; d++) {
      const k = this.kinds[d]!;
      const h = this.hashes[d]!;
      for (let i = 0; i < k.length; i++) {
        if (k[i] === EMPTY) continue;
        out[o] = d;
        view.setUint32(o + 1, i, true);
        out[o + 5] = k[i]!;
        out.set(h.subarray(i * 32, i * 32 + 32), o + 6);
        o += CKPT_NODE;
      }
    }
    return out;
  }
  /** Fills the (empty) arrays from `serialize`'s bytes; false if they do not fit these bits. */
  deserialize(body: Uint8Array): boolean {
    if (body.length % CKPT_NODE !== 0) return false;
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    for (let o = 0; o < body.length; o += CKPT_NODE) {
      const d = body[o]!;
      const i = view.getUint32(o + 1, true);
      const k = body[o + 5]!;
      if (d > this.bits || i >= 2 ** d || (k !== SINGLE && k !== INTERNAL)) return false;
      this.kinds[d]![i] = k;
      this.hashes[d]!.set(body.subarray(o + 6, o + 38), i * 32);
    }
    return true;
  }
  /** Recomputes the levels above `bits` along the paths of the (ascending) bucket indices. */
  propagate(dirty: number[]): void {
    for (let d = this.bits - 1; d >= 0 && dirty.length > 0; d--) {
      const next: number[] = [];
      for (const c of dirty) {
        const p = c >>> 1;
        if (next.length === 0 || next[next.length - 1] !== p) next.push(p);
      }
      for (const p of next) this.set(d, p, combine(this.node(d + 1, 2 * p), this.node(d + 1, 2 * p + 1)));
      dirty = next;
    }
  }
}

/**
 * A bucket built from scratch (bulk load): its leaves from sorted, distinct (keyHash,
 * valueHash) pairs, its top node and its record.
 */
export function buildBucket(keys: readonly H32[], valueHashes: readonly H32[], bits: number): { node: string; record: Uint8Array } {
  const leaves = new Array<H32>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    hashCount++;
    leaves[i] = hashTaggedPair(0x00, keys[i]!, valueHashes[i]!);
  }
  const node = bucketNode(keys, leaves, bits);
  return { node, record: encodeRecord(node, keys, leaves) };
}

/** The root over buckets given in ascending index order with their top nodes (bulk load). */
export class TopBuilder {
  private readonly top: Top;
  private readonly dirty: number[] = [];
  constructor(readonly bits: number) {
    this.top = new Top(checkBits(bits));
  }
  add(index: number, node: string): void {
    if (this.dirty.length > 0 && this.dirty[this.dirty.length - 1]! >= index) throw new StateError('STATE_INVALID_ARGUMENT', 'TopBuilder: buckets must come in ascending order');
    this.top.set(this.bits, index, node);
    this.dirty.push(index);
  }
  /** The root hash (zeros for no bucket). Call once. */
  root(): H32 {
    this.top.propagate(this.dirty);
    const node = this.top.node(0, 0);
    return node.charCodeAt(0) === EMPTY ? ZERO_H32 : node.slice(1);
  }
}

function checkBits(bits: number): number {
  if (!Number.isInteger(bits) || bits < 1 || bits > MAX_BUCKET_BITS) throw new StateError('STATE_INVALID_ARGUMENT', `bucket bits must be an integer 1..${MAX_BUCKET_BITS}, got ${bits}`);
  return bits;
}

/** The tree over a store: its durable top, its durable version, and the source of bucket records. */
export class BucketTree {
  readonly bits: number;
  private top: Top;
  private current: TreeVersion;
  private readonly verifyReads: boolean;
  private bucketReads = 0;
  private startupMs = 0;
  private startup: 'checkpoint' | 'scan' = 'scan';

  private constructor(private readonly source: BucketSource, bits: number, opts: BucketTreeOptions) {
    this.bits = checkBits(bits);
    this.top = new Top(bits);
    this.verifyReads = opts.verifyReads ?? false;
    this.current = new TreeVersion(this, EMPTY_NODE, 0, null, null, null);
  }

  /**
   * The tree the source holds now: every bucket record's hash is read and the top levels are
   * combined; the result must be `root` (the store's meta), or STATE_CORRUPT.
   */
  static open(source: BucketSource, root: Uint8Array, size: number, bits: number, opts: BucketTreeOptions = {}): BucketTree {
    const t0 = performance.now();
    const t = new BucketTree(source, bits, opts);
    if (opts.checkpointPath !== undefined && t.loadCheckpoint(opts.checkpointPath, root, size)) t.startup = 'checkpoint';
    else t.load(root, size);
    t.startupMs = performance.now() - t0;
    return t;
  }

  private load(root: Uint8Array, size: number): void {
    if (!(root instanceof Uint8Array) || root.length !== 32) throw new StateError('STATE_INVALID_ARGUMENT', 'bucket tree: root must be a 32-byte Uint8Array');
    const B = this.bits;
    const limit = 2 ** B;
    const dirty: number[] = [];
    const kinds = this.top.kinds[B]!;
    const hashes = this.top.hashes[B]!;
    let last = -1;
    this.source.forEachBucket((i, rec) => {
      const n = (rec.length - RECORD_HEADER) / PAIR;
      if (!Number.isInteger(i) || i <= last || i >= limit) throw new StateError('STATE_CORRUPT', `bucket index ${i} is out of order or range for ${B} bucket bits`);
      if (!Number.isInteger(n) || n < 1) throw new StateError('STATE_CORRUPT', `bucket record ${i} has ${rec.length} bytes, not 32 + 64n (n >= 1)`);
      last = i;
      kinds[i] = n === 1 ? SINGLE : INTERNAL;
      hashes.set(rec.subarray(0, RECORD_HEADER), i * 32);
      dirty.push(i);
    });
    this.top.propagate(dirty);
    const node = this.top.node(0, 0);
    const got = node.charCodeAt(0) === EMPTY ? ZERO_H32 : node.slice(1);
    if (got !== toH32(root)) throw new StateError('STATE_CORRUPT', 'the bucket records of the state store do not hash to the stored root');
    this.current = new TreeVersion(this, node, size, null, null, null);
  }

  /** The top from a checkpoint file, if it describes exactly this tree; else false (arrays untouched). */
  private loadCheckpoint(path: string, root: Uint8Array, size: number): boolean {
    if (!existsSync(path)) return false;
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch {
      return false;
    }
    if (buf.length < CKPT_HEADER) return false;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (view.getUint32(0, true) !== CKPT_MAGIC || view.getUint32(4, true) !== this.bits) return false;
    if (!Buffer.from(root).equals(buf.subarray(8, 40)) || view.getBigUint64(40, true) !== BigInt(size)) return false;
    const body = buf.subarray(CKPT_HEADER);
    if (!Buffer.from(sha256(body)).equals(buf.subarray(48, 80))) return false;
    const top = new Top(this.bits);
    if (!top.deserialize(body)) return false;
    const node = top.node(0, 0);
    if ((node.charCodeAt(0) === EMPTY ? ZERO_H32 : node.slice(1)) !== toH32(root)) return false;
    this.top = top;
    this.current = new TreeVersion(this, node, size, null, null, null);
    return true;
  }

  /**
   * Writes the durable top to `path` (atomically: a temp file, then rename), so the next
   * `open` with this path skips the scan. Call when nothing else will commit (shutdown).
   */
  saveCheckpoint(path: string): void {
    const body = this.top.serialize();
    const head = new Uint8Array(CKPT_HEADER);
    const view = new DataView(head.buffer);
    view.setUint32(0, CKPT_MAGIC, true);
    view.setUint32(4, this.bits, true);
    head.set(this.current.root, 8);
    view.setBigUint64(40, BigInt(this.current.size), true);
    head.set(sha256(body), 48);
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, head);
      for (let o = 0; o < body.length; ) o += writeSync(fd, body, o, body.length - o);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  }

  /** The durable version: the tree the store holds now. */
  get durable(): TreeVersion {
    return this.current;
  }

  stats(): BucketTreeStats {
    return { bucketReads: this.bucketReads, hashes: hashCount, startupMs: Math.round(this.startupMs * 10) / 10, startup: this.startup };
  }

  /** @internal A top node of a durable version. */
  durableNode(v: TreeVersion, d: number, i: number): Node {
    this.checkCurrent(v);
    return this.top.node(d, i);
  }

  /** @internal The decoded record of bucket `i` of a durable version whose top names `node` for it. */
  durableBucket(v: TreeVersion, i: number, node: Node): { keys: H32[]; leaves: H32[] } {
    this.checkCurrent(v);
    this.bucketReads++;
    const rec = this.source.readBucket(i);
    if (rec === undefined) throw new StateError('STATE_NODE_MISSING', `bucket ${i} is not in the store though the tree names it`);
    const r = decodeRecord(rec, i);
    if (r.hash !== node.slice(1) || (r.keys.length === 1) !== (node.charCodeAt(0) === SINGLE)) throw new StateError('STATE_CORRUPT', `bucket ${i}'s record disagrees with the tree above it`);
    if (this.verifyReads && bucketNode(r.keys, r.leaves, this.bits) !== node) throw new StateError('STATE_CORRUPT', `bucket ${i}'s leaves do not hash to its stored hash`);
    return r;
  }

  private checkCurrent(v: TreeVersion): void {
    if (v !== this.current && v.rootNode !== this.current.rootNode) {
      throw new StateError('STATE_STALE_VERSION', 'this tree version was superseded: another version became durable in place of its base (a discarded proposal?); prepare again on the current state');
    }
  }

  /** @internal The store made `v` durable: its top positions move into the arrays. */
  markDurable(v: TreeVersion, levels: readonly Map<number, Node>[]): void {
    for (let d = 0; d < levels.length; d++) levels[d]!.forEach((n, i) => this.top.set(d, i, n));
    this.current = v;
  }
}


function checkHash(h: unknown, what: string): Uint8Array {
  if (!(h instanceof Uint8Array) || h.length !== 32) throw new StateError('STATE_INVALID_ARGUMENT', `bucket tree: ${what} must be a 32-byte Uint8Array`);
  return h;
}

export class TreeVersion {
  /** @internal */
  parent: TreeVersion | null;
  /** @internal Top positions this version wrote, per level; null once durable. */
  levels: Map<number, Node>[] | null;
  /** @internal Bucket records this version wrote (null: emptied); null once durable. */
  buckets: Map<number, Uint8Array | null> | null;

  /** @internal */
  constructor(
    private readonly tree: BucketTree,
    /** @internal The root as a top node. */
    readonly rootNode: Node,
    /** Number of leaves (live keys). */
    readonly size: number,
    parent: TreeVersion | null,
    levels: Map<number, Node>[] | null,
    buckets: Map<number, Uint8Array | null> | null,
  ) {
    this.parent = parent;
    this.levels = levels;
    this.buckets = buckets;
  }

  get rootH32(): H32 {
    return this.rootNode.charCodeAt(0) === EMPTY ? ZERO_H32 : this.rootNode.slice(1);
  }

  /** The 32-byte root hash (a fresh copy each time). */
  get root(): Uint8Array {
    return fromH32(this.rootH32);
  }

  /** True once the store holds this version (its commit is visible). */
  get isDurable(): boolean {
    return this.levels === null;
  }

  /** Bucket records this version's commit puts and deletes. Zero for a durable version. */
  get writeCounts(): { puts: number; deletes: number } {
    let deletes = 0;
    this.buckets?.forEach((r) => {
      if (r === null) deletes++;
    });
    return { puts: (this.buckets?.size ?? 0) - deletes, deletes };
  }

  /** @internal The top node at level d, index i, in this version. */
  nodeAt(d: number, i: number): Node {
    for (let v: TreeVersion | null = this; v !== null; v = v.parent) {
      if (v.levels === null) return this.tree.durableNode(v, d, i);
      const n = v.levels[d]!.get(i);
      if (n !== undefined) return n;
    }
    throw new StateError('STATE_CORRUPT', 'tree version chain does not end at a durable version');
  }

  /** The leaves of bucket i in this version (sorted by key hash). */
  private bucketLeaves(i: number): { keys: H32[]; leaves: H32[] } {
    const B = this.tree.bits;
    for (let v: TreeVersion | null = this; v !== null; v = v.parent) {
      if (v.levels === null) {
        const node = this.tree.durableNode(v, B, i);
        if (node.charCodeAt(0) === EMPTY) return { keys: [], leaves: [] };
        return this.tree.durableBucket(v, i, node);
      }
      const rec = v.buckets!.get(i);
      if (rec === null) return { keys: [], leaves: [] };
      if (rec !== undefined) return decodeRecord(rec, i);
    }
    throw new StateError('STATE_CORRUPT', 'tree version chain does not end at a durable version');
  }

  /** The leaf hash stored under `keyHash`, or undefined. One bucket read. */
  leafOf(keyHash: Uint8Array): Uint8Array | undefined {
    const key = toH32(checkHash(keyHash, 'keyHash'));
    const { keys, leaves } = this.bucketLeaves(bucketOf(key, this.tree.bits));
    const at = keys.indexOf(key);
    return at < 0 ? undefined : fromH32(leaves[at]!);
  }

  /** Every (keyHash, leafHash) in key-hash order; O(2^bits + n) (audits and tests). */
  *leaves(): IterableIterator<readonly [Uint8Array, Uint8Array]> {
    const B = this.tree.bits;
    for (let i = 0; i < 2 ** B; i++) {
      if (this.nodeAt(B, i).charCodeAt(0) === EMPTY) continue;
      const { keys, leaves } = this.bucketLeaves(i);
      for (let j = 0; j < keys.length; j++) yield [fromH32(keys[j]!), fromH32(leaves[j]!)];
    }
  }

  /** Persistent batch update over (keyHash, valueHash | null) pairs; last change of a key wins. */
  withChanges(changes: Iterable<SmtChange>): TreeVersion {
    return this.applyBatch(changeBatch(changes));
  }

  /** Persistent batch update over state writes (key, value bytes or null to delete). */
  withWrites(writes: Iterable<readonly [string, Uint8Array | null]>): TreeVersion {
    return this.applyBatch(writeBatch(writes));
  }

  private applyBatch(batch: PendingChange[]): TreeVersion {
    if (batch.length === 0) return this;
    sortedDistinct(batch);
    const B = this.tree.bits;
    const levels: Map<number, Node>[] = [];
    for (let d = 0; d <= B; d++) levels.push(new Map());
    const buckets = new Map<number, Uint8Array | null>();
    const atB = levels[B]!;
    let sizeDelta = 0;
    let dirty: number[] = [];
    const n = batch.length;
    for (let i = 0; i < n; ) {
      const b = bucketOf(batch[i]!.key, B);
      let j = i + 1;
      while (j < n && bucketOf(batch[j]!.key, B) === b) j++;
      const old = this.bucketLeaves(b);
      const keys: H32[] = [];
      const leaves: H32[] = [];
      let p = 0;
      for (let c = i; c < j; c++) {
        const ch = batch[c]!;
        while (p < old.keys.length && old.keys[p]! < ch.key) {
          keys.push(old.keys[p]!);
          leaves.push(old.leaves[p]!);
          p++;
        }
        const exists = p < old.keys.length && old.keys[p] === ch.key;
        if (exists) p++;
        if (ch.value === null) {
          if (exists) sizeDelta--;
          continue;
        }
        if (!exists) sizeDelta++;
        keys.push(ch.key);
        hashCount++;
        leaves.push(hashTaggedPair(0x00, ch.key, ch.value));
      }
      for (; p < old.keys.length; p++) {
        keys.push(old.keys[p]!);
        leaves.push(old.leaves[p]!);
      }
      const node = bucketNode(keys, leaves, B);
      if (node !== this.nodeAt(B, b)) {
        atB.set(b, node);
        buckets.set(b, keys.length === 0 ? null : encodeRecord(node, keys, leaves));
        dirty.push(b);
      }
      i = j;
    }
    if (buckets.size === 0) return this;
    for (let d = B - 1; d >= 0; d--) {
      const below = levels[d + 1]!;
      const here = levels[d]!;
      const next: number[] = [];
      for (const c of dirty) {
        const p = c >>> 1;
        if (next.length === 0 || next[next.length - 1] !== p) next.push(p);
      }
      for (const p of next) {
        const l = below.get(2 * p) ?? this.nodeAt(d + 1, 2 * p);
        const r = below.get(2 * p + 1) ?? this.nodeAt(d + 1, 2 * p + 1);
        here.set(p, combine(l, r));
      }
      dirty = next;
    }
    return new TreeVersion(this.tree, levels[0]!.get(0)!, this.size + sizeDelta, this, levels, buckets);
  }

  /**
   * What committing this version writes to the store: its bucket records relative to its base,
   * which must be the store's tree by then (the store checks the base root). Refused once durable.
   */
  delta(): TreeDelta {
    const buckets = this.buckets;
    const parent = this.parent;
    if (buckets === null || parent === null) throw new StateError('STATE_OUT_OF_ORDER', 'this tree version is already durable; there is nothing to commit');
    return {
      baseRoot: parent.rootH32,
      root: this.rootH32,
      size: this.size,
      bits: this.tree.bits,
      writes: buckets,
      committed: () => this.becomeDurable(),
    };
  }

  private becomeDurable(): void {
    const levels = this.levels;
    if (levels === null) return;
    this.tree.markDurable(this, levels);
    this.levels = null;
    this.buckets = null;
    this.parent = null;
  }
}
