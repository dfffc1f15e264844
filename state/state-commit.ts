/**
 * One block's write to the state store, as bytes: what StateDb.commitBlock hands to the
 * writer (its own thread, or inline), and the code that applies it in ONE LMDB write
 * transaction. Packing costs the main thread ~0.5 us per entry (measured: ~125 ms for the
 * ~255,000 entries of a 20,000-change block at 10M accounts); the LMDB work (~10 us per entry
 * at 10M, page copies included) then runs wherever the writer runs.
 *
 * Layout (little-endian):
 *   u32 magic 0x31435350 ("PSC1") | u64 height | [32] base root | [32] root | u64 size
 *   u32 value count | u32 node count
 *   value entries:  u8 op (1 put, 0 delete) | u16 key length | key (ASCII) | [u32 length | value]
 *   node entries:   u8 op (1 put, 0 delete) | u8 key length | position key | [65-byte record]
 */
import type { Database } from 'lmdb';
import { fromH32 } from '../protocol/hash.js';
import type { TreeDelta } from './disk-smt.js';
import { StateError } from './state-error.js';
import { encodeNode, MAX_POS_KEY_BYTES, NODE_RECORD_BYTES, posKeyLength, posKeyOfId } from './tree-node.js';
import { STATE_KEY_RE, type WriteSet } from './types.js';

const MAGIC = 0x31435350;
const HEADER_BYTES = 4 + 8 + 32 + 32 + 8 + 4 + 4;

/** The meta table: what the store reflects. */
export const META_HEIGHT = 'height';
export const META_ROOT = 'root';
export const META_SIZE = 'size';
export const META_FORMAT = 'format';
/** Set while a bulk load is writing; a store that still has it was interrupted mid-load. */
export const META_LOADING = 'loading';
export const STORE_FORMAT = 1;

export interface StateTables {
  readonly values: Database<Uint8Array, string | Uint8Array>;
  readonly nodes: Database<Uint8Array, Uint8Array>;
  readonly meta: Database<Uint8Array, string>;
}

export interface StoredMeta {
  readonly height: bigint;
  readonly root: Uint8Array;
  readonly size: number;
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
  if (height === undefined || root === undefined || root.length !== 32 || size === undefined) throw new StateError('STATE_CORRUPT', 'state meta is incomplete (height, root and size are written together)');
  return { height: readU64(height, 'height'), root: Uint8Array.prototype.slice.call(root), size: Number(readU64(size, 'size')) };
}

/** Writes meta (inside the caller's write transaction). */
export function putMeta(meta: StateTables['meta'], m: StoredMeta): void {
  const format = new Uint8Array(4);
  new DataView(format.buffer).setUint32(0, STORE_FORMAT, true);
  meta.put(META_FORMAT, format);
  meta.put(META_HEIGHT, u64Bytes(m.height));
  meta.put(META_ROOT, m.root);
  meta.put(META_SIZE, u64Bytes(m.size));
}

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
  tree.writes.forEach((node, pos) => (bytes += 2 + posKeyLength(pos) + (node === null ? 0 : NODE_RECORD_BYTES)));
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setBigUint64(4, height, true);
  out.set(fromH32(tree.baseRoot), 12);
  out.set(fromH32(tree.root), 44);
  view.setBigUint64(76, BigInt(tree.size), true);
  view.setUint32(84, writeSet.length, true);
  view.setUint32(88, tree.writes.size, true);
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
  const posKey = new Uint8Array(MAX_POS_KEY_BYTES);
  tree.writes.forEach((node, pos) => {
    const len = posKeyOfId(pos, posKey);
    out[o] = node === null ? 0 : 1;
    out[o + 1] = len;
    for (let i = 0; i < len; i++) out[o + 2 + i] = posKey[i]!;
    o += 2 + len;
    if (node !== null) {
      encodeNode(node, out, o);
      o += NODE_RECORD_BYTES;
    }
  });
  return out;
}

export interface PackedCommitHeader {
  readonly height: bigint;
  readonly baseRoot: Uint8Array;
  readonly root: Uint8Array;
  readonly size: number;
  readonly values: number;
  readonly nodes: number;
}

export function readCommitHeader(pack: Uint8Array): PackedCommitHeader {
  const view = new DataView(pack.buffer, pack.byteOffset, pack.byteLength);
  if (pack.length < HEADER_BYTES || view.getUint32(0, true) !== MAGIC) throw new StateError('STATE_INVALID_ARGUMENT', 'not a packed state commit');
  return {
    height: view.getBigUint64(4, true),
    baseRoot: pack.subarray(12, 44),
    root: pack.subarray(44, 76),
    size: Number(view.getBigUint64(76, true)),
    values: view.getUint32(84, true),
    nodes: view.getUint32(88, true),
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
  for (let i = 0; i < h.nodes; i++) {
    const put = pack[o] === 1;
    const klen = pack[o + 1]!;
    const key = pack.subarray(o + 2, o + 2 + klen);
    o += 2 + klen;
    if (put) {
      t.nodes.put(key, pack.subarray(o, o + NODE_RECORD_BYTES));
      o += NODE_RECORD_BYTES;
    } else t.nodes.remove(key);
  }
  if (o !== pack.length) throw new StateError('STATE_INVALID_ARGUMENT', 'packed state commit has trailing bytes');
  putMeta(t.meta, { height: h.height, root: h.root, size: h.size });
}
