/**
 * One block's write to the state store, as bytes: what StateDb.commitBlock hands to the
 * writer (its own thread, or inline), and the code that applies it in ONE LMDB write
 * transaction. Packing costs the main thread ~0.5 us per entry (measured: ~125 ms for the
 * ~255,000 entries of a 20,000-change block at 10M accounts); the LMDB work (~10 us per entry
 * at 10M, page copies included) then runs wherever the writer runs.
 *
 * Layout (little-endian):
 *   u32 magic 0x32435350 ("PSC2") | u64 height | [32] base root | [32] root | u64 size
 *   u32 bucket bits | u32 value count | u32 bucket count
 *   value entries:  u8 op (1 put, 0 delete) | u16 key length | key (ASCII) | [u32 length | value]
 *   bucket entries: u8 op (1 put, 0 delete) | u32 bucket index | [u32 length | record]
 */
import type { Database } from 'lmdb';
import { fromH32 } from '../protocol/hash.js';
import { DEFAULT_BUCKET_BITS, MAX_BUCKET_BITS, type TreeDelta } from './bucket-tree.js';
import { StateError } from './state-error.js';
import { STATE_KEY_RE, type WriteSet } from './types.js';

const MAGIC = 0x32435350;
const HEADER_BYTES = 4 + 8 + 32 + 32 + 8 + 4 + 4 + 4;

/** The meta table: what the store reflects. */
export const META_HEIGHT = 'height';
export const META_ROOT = 'root';
export const META_SIZE = 'size';
export const META_FORMAT = 'format';
export const META_BUCKET_BITS = 'bucketBits';
/** Set while a bulk load is writing; a store that still has it was interrupted mid-load. */
export const META_LOADING = 'loading';
export const STORE_FORMAT = 2;

export interface StateTables {
  readonly values: Database<Uint8Array, string | Uint8Array>;
  /** Bucket index (u32 big-endian, so byte order = index order) -> bucket record (bucket-tree.ts). */
  readonly buckets: Database<Uint8Array, Uint8Array>;
  readonly meta: Database<Uint8Array, string>;
}

export interface StoredMeta {
  readonly height: bigint;
  readonly root: Uint8Array;
  readonly size: number;
  /** Bucket bits of the stored tree. */
  readonly bucketBits: number;
}

/** The LMDB key of a bucket: its index as u32 big-endian. */
export function bucketKey(index: number, out: Uint8Array = new Uint8Array(4)): Uint8Array {
  out[0] = index >>> 24;
  out[1] = (index >>> 16) & 0xff;
  out[2] = (index >>> 8) & 0xff;
  out[3] = index & 0xff;
  return out;
}

export function u64Bytes(v: bigint | number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
}

function readU64(b: Uint8Array, what: string): bigint {
  if (b.length !== 8) throw new StateError('STATE_CORRUPT', `state meta ${what} has ${b.length} bytes, not 8`);
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

/**
 * Meta as stored (read through `get`, in whatever transaction the caller has): undefined for an
 * empty store. Throws STATE_CORRUPT when it is partial or of another format.
 */
export function readMeta(get: (key: string) => Uint8Array | undefined): StoredMeta | undefined {
  const format = get(META_FORMAT);
  const height = get(META_HEIGHT);
  if (get(META_LOADING) !== undefined) throw new StateError('STATE_CORRUPT', 'the state store holds an interrupted bulk load; delete its directory and load again');
  if (format === undefined && height === undefined) return undefined;
  if (format === undefined || format.length !== 4 || new DataView(format.buffer, format.byteOffset, 4).getUint32(0, true) !== STORE_FORMAT) {
    throw new StateError('STATE_OPEN_FAILED', `the state store was written in another format (expected ${STORE_FORMAT}); it cannot be read by this version`);
  }
  const root = get(META_ROOT);
  const size = get(META_SIZE);
  const bits = get(META_BUCKET_BITS);
  if (height === undefined || root === undefined || root.length !== 32 || size === undefined || bits === undefined || bits.length !== 4) {
    throw new StateError('STATE_CORRUPT', 'state meta is incomplete (height, root, size and bucket bits are written together)');
  }
  const bucketBits = new DataView(bits.buffer, bits.byteOffset, 4).getUint32(0, true);
  if (bucketBits < 1 || bucketBits > MAX_BUCKET_BITS) throw new StateError('STATE_CORRUPT', `state meta names ${bucketBits} bucket bits`);
  return { height: readU64(height, 'height'), root: Uint8Array.prototype.slice.call(root), size: Number(readU64(size, 'size')), bucketBits };
}

/** Writes meta (inside the caller's write transaction). */
export function putMeta(meta: StateTables['meta'], m: StoredMeta): void {
  const format = new Uint8Array(4);
  new DataView(format.buffer).setUint32(0, STORE_FORMAT, true);
  meta.put(META_FORMAT, format);
  meta.put(META_HEIGHT, u64Bytes(m.height));
  meta.put(META_ROOT, m.root);
  meta.put(META_SIZE, u64Bytes(m.size));
  const bits = new Uint8Array(4);
  new DataView(bits.buffer).setUint32(0, m.bucketBits, true);
  meta.put(META_BUCKET_BITS, bits);
}

export { DEFAULT_BUCKET_BITS };

/** Checks a write set's entries at the store's door (keys become LMDB keys, values are stored as given). */
function checkWrite(key: unknown, value: unknown): void {
  if (typeof key !== 'string' || !STATE_KEY_RE.test(key)) throw new StateError('STATE_INVALID_ARGUMENT', `state key ${JSON.stringify(key)} is not printable ASCII of 1..256 bytes without spaces`);
  if (value !== null && !(value instanceof Uint8Array)) throw new StateError('STATE_INVALID_ARGUMENT', `state value of ${key} must be a Uint8Array or null (delete)`);
}

/** Packs one block's commit (see the layout above). */
export function packCommit(height: bigint, writeSet: WriteSet, tree: TreeDelta): Uint8Array {
  let bytes = HEADER_BYTES;
  for (const [k, v] of writeSet) {
    checkWrite(k, v);
    bytes += 3 + k.length + (v === null ? 0 : 4 + v.length);
  }
  tree.writes.forEach((rec) => (bytes += 5 + (rec === null ? 0 : 4 + rec.length)));
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setBigUint64(4, height, true);
  out.set(fromH32(tree.baseRoot), 12);
  out.set(fromH32(tree.root), 44);
  view.setBigUint64(76, BigInt(tree.size), true);
  view.setUint32(84, tree.bits, true);
  view.setUint32(88, writeSet.length, true);
  view.setUint32(92, tree.writes.size, true);
  let o = HEADER_BYTES;
  for (const [k, v] of writeSet) {
    out[o] = v === null ? 0 : 1;
    view.setUint16(o + 1, k.length, true);
    o += 3;
    for (let i = 0; i < k.length; i++) out[o + i] = k.charCodeAt(i);
    o += k.length;
    if (v !== null) {
      view.setUint32(o, v.length, true);
      out.set(v, o + 4);
      o += 4 + v.length;
    }
  }
  tree.writes.forEach((rec, index) => {
    out[o] = rec === null ? 0 : 1;
    view.setUint32(o + 1, index, true);
    o += 5;
    if (rec !== null) {
      view.setUint32(o, rec.length, true);
      out.set(rec, o + 4);
      o += 4 + rec.length;
    }
  });
  return out;
}

export interface PackedCommitHeader {
  readonly height: bigint;
  readonly baseRoot: Uint8Array;
  readonly root: Uint8Array;
  readonly size: number;
  readonly bucketBits: number;
  readonly values: number;
  readonly buckets: number;
}

export function readCommitHeader(pack: Uint8Array): PackedCommitHeader {
  const view = new DataView(pack.buffer, pack.byteOffset, pack.byteLength);
  if (pack.length < HEADER_BYTES || view.getUint32(0, true) !== MAGIC) throw new StateError('STATE_INVALID_ARGUMENT', 'not a packed state commit');
  return {
    height: view.getBigUint64(4, true),
    baseRoot: pack.subarray(12, 44),
    root: pack.subarray(44, 76),
    size: Number(view.getBigUint64(76, true)),
    bucketBits: view.getUint32(84, true),
    values: view.getUint32(88, true),
    buckets: view.getUint32(92, true),
  };
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Applies a packed commit. Call inside ONE write transaction (transactionSync): the height and
 * base root are checked against the stored meta first, so a commit that does not extend what
 * is stored aborts the transaction (STATE_NOT_NEXT) and writes nothing.
 */
export function applyPackedCommit(t: StateTables, pack: Uint8Array): void {
  const h = readCommitHeader(pack);
  const stored = readMeta((k) => t.meta.getBinary(k));
  const storedRoot = stored?.root ?? new Uint8Array(32);
  if (stored !== undefined && h.height !== stored.height + 1n) throw new StateError('STATE_NOT_NEXT', `state commit of height ${h.height} does not follow the stored height ${stored.height}`);
  if (!sameBytes(h.baseRoot, storedRoot)) throw new StateError('STATE_NOT_NEXT', `state commit of height ${h.height} was computed on another tree than the stored one`);
  if (stored !== undefined && stored.bucketBits !== h.bucketBits) throw new StateError('STATE_NOT_NEXT', `state commit of height ${h.height} uses ${h.bucketBits} bucket bits; the store has ${stored.bucketBits}`);
  const view = new DataView(pack.buffer, pack.byteOffset, pack.byteLength);
  let o = HEADER_BYTES;
  for (let i = 0; i < h.values; i++) {
    const put = pack[o] === 1;
    const klen = view.getUint16(o + 1, true);
    const key = pack.subarray(o + 3, o + 3 + klen);
    o += 3 + klen;
    if (put) {
      const vlen = view.getUint32(o, true);
      t.values.put(key, pack.subarray(o + 4, o + 4 + vlen));
      o += 4 + vlen;
    } else t.values.remove(key);
  }
  const bkey = new Uint8Array(4);
  for (let i = 0; i < h.buckets; i++) {
    const put = pack[o] === 1;
    bucketKey(view.getUint32(o + 1, true), bkey);
    o += 5;
    if (put) {
      const len = view.getUint32(o, true);
      t.buckets.put(bkey, pack.subarray(o + 4, o + 4 + len));
      o += 4 + len;
    } else t.buckets.remove(bkey);
  }
  if (o !== pack.length) throw new StateError('STATE_INVALID_ARGUMENT', 'packed state commit has trailing bytes');
  putMeta(t.meta, { height: h.height, root: h.root, size: h.size, bucketBits: h.bucketBits });
}
