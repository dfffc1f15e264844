/**
 * The nodes of the disk-backed state tree and where they live on disk.
 *
 * Nodes and records. A node's record is exactly its hash preimage (docs/PROTOCOL.md, "State
 * root"), 65 bytes, so a record can be checked against the hash its parent names:
 *   leaf      0x00 || keyHash || valueHash        hash = SHA-256(record)
 *   internal  0x01 || hash(left) || hash(right)   (an empty side is 32 zero bytes)
 *
 * Positions. The tree is canonical: a node is at the position (depth d, the first d bits of
 * the key hashes below it) and its children are at depth d + 1, whatever the history. Nodes
 * are stored under their POSITION, not under their hash. Measured (README, "Why positions"):
 * keyed by hash, the nodes a block writes land on random B-tree pages, and LMDB copies every
 * page a transaction touches; keyed by position, a key's path shares pages with its
 * neighbours'.
 *
 * LMDB key of a position (d, b_0..b_{d-1}): the digits b_0 .. b_{d-1}, then the terminator 2,
 * then 0s up to a multiple of 5 digits, packed 5 base-3 digits per byte (3^5 = 243 <= 256),
 * most significant first: ceil((d + 1) / 5) bytes (5 bytes at depth 24). Byte order of these
 * keys is the POST-ORDER of the tree: a node sorts after everything below it (its terminator 2
 * beats the 0 or 1 its descendants have there) and a left subtree before a right one. So a
 * subtree is one contiguous key range, and a bottom-up build emits its nodes in key order
 * (bulk load appends them: MDB_APPEND, full pages, no sort).
 *
 * Positions above TOP_LEVELS get the prefix byte 0xFF (no base-3 byte reaches it): they sort
 * after all others, together, in post-order among themselves. Every block of more than a few
 * thousand changes rewrites nearly all of them; in place they would sit one per page (each at
 * the end of its large subtree) and a block would dirty ~2^14 pages for them alone, packed they
 * fill ~1,300 pages for all 65,535.
 *
 * In memory a position is a PosId: the number 2^d + prefix for d <= 48 (exact in a double; the
 * same number indexes the pinned top levels of the node cache), or for deeper positions (never
 * seen with fewer than ~2^24 keys, but allowed) the LMDB key as a latin1 string. The two kinds
 * never collide in a Map.
 */
import { hashTaggedPair, ZERO_H32, type H32 } from '../protocol/hash.js';
import { StateError } from './state-error.js';

export const NODE_RECORD_BYTES = 65;
const LEAF_TAG = 0x00;
const INTERNAL_TAG = 0x01;

let hashCount = 0;
/** Node hashes computed by the disk tree since start (benchmarks, metrics). */
export function treeHashCount(): number {
  return hashCount;
}

export class LeafNode {
  readonly hash: H32;
  /** `hash` given: a record read from disk, whose hash its parent named (not recomputed). */
  constructor(
    readonly key: H32,
    readonly value: H32,
    hash?: H32,
  ) {
    if (hash === undefined) {
      hashCount++;
      this.hash = hashTaggedPair(LEAF_TAG, key, value);
    } else this.hash = hash;
  }
}

export class InternalNode {
  readonly hash: H32;
  constructor(
    readonly left: H32,
    readonly right: H32,
    hash?: H32,
  ) {
    if (hash === undefined) {
      hashCount++;
      this.hash = hashTaggedPair(INTERNAL_TAG, left, right);
    } else this.hash = hash;
  }
}

export type TreeNode = LeafNode | InternalNode;

/** Bit `depth` of a key hash, most significant bit of byte 0 first. */
export function bitAt(key: H32, depth: number): number {
  return (key.charCodeAt(depth >>> 3) >>> (7 - (depth & 7))) & 1;
}

/** 32 bytes at `o` as an H32. */
export function h32At(b: Uint8Array, o: number): H32 {
  return String.fromCharCode(
    b[o]!, b[o + 1]!, b[o + 2]!, b[o + 3]!, b[o + 4]!, b[o + 5]!, b[o + 6]!, b[o + 7]!,
    b[o + 8]!, b[o + 9]!, b[o + 10]!, b[o + 11]!, b[o + 12]!, b[o + 13]!, b[o + 14]!, b[o + 15]!,
    b[o + 16]!, b[o + 17]!, b[o + 18]!, b[o + 19]!, b[o + 20]!, b[o + 21]!, b[o + 22]!, b[o + 23]!,
    b[o + 24]!, b[o + 25]!, b[o + 26]!, b[o + 27]!, b[o + 28]!, b[o + 29]!, b[o + 30]!, b[o + 31]!,
  );
}

function putH32(h: H32, out: Uint8Array, o: number): void {
  for (let i = 0; i < 32; i++) out[o + i] = h.charCodeAt(i);
}

/** Writes the node's 65-byte record at out[o]. */
export function encodeNode(n: TreeNode, out: Uint8Array, o: number): void {
  if (n instanceof LeafNode) {
    out[o] = LEAF_TAG;
    putH32(n.key, out, o + 1);
    putH32(n.value, out, o + 33);
  } else {
    out[o] = INTERNAL_TAG;
    putH32(n.left, out, o + 1);
    putH32(n.right, out, o + 33);
  }
}

/** Decodes a record read from disk under the hash its parent names (not recomputed here). */
export function decodeNode(rec: Uint8Array, hash: H32): TreeNode {
  if (rec.length !== NODE_RECORD_BYTES) throw new StateError('STATE_CORRUPT', `tree node record has ${rec.length} bytes, not ${NODE_RECORD_BYTES}`);
  const a = h32At(rec, 1);
  const b = h32At(rec, 33);
  if (rec[0] === LEAF_TAG) return new LeafNode(a, b, hash);
  if (rec[0] === INTERNAL_TAG) {
    if (a === ZERO_H32 && b === ZERO_H32) throw new StateError('STATE_CORRUPT', 'tree node record: internal node with two empty children');
    return new InternalNode(a, b, hash);
  }
  throw new StateError('STATE_CORRUPT', `tree node record has tag ${rec[0]}, not 0 (leaf) or 1 (internal)`);
}

// ---------------------------------------------------------------------------------------
// Positions

export type PosId = number | string;

/** Deepest position with a numeric PosId (2^48 + prefix < 2^53). */
const NUMERIC_DEPTH = 48;
/** Longest LMDB position key: depth 256 (two keys sharing 255 bits). */
export const MAX_POS_KEY_BYTES = 52;
/** Positions at depth < TOP_LEVELS are stored packed after all others (prefix byte TOP_PREFIX). */
export const TOP_LEVELS = 16;
const TOP_PREFIX = 0xff;

/** The first d bits (d <= 48) of a key hash as a number. */
function prefixNum(key: H32, d: number): number {
  if (d === 0) return 0;
  const hi = (key.charCodeAt(0) << 16) | (key.charCodeAt(1) << 8) | key.charCodeAt(2);
  if (d <= 24) return hi >>> (24 - d);
  const lo = (key.charCodeAt(3) << 16) | (key.charCodeAt(4) << 8) | key.charCodeAt(5);
  return hi * 2 ** (d - 24) + (lo >>> (48 - d));
}

const scratch = new Uint8Array(MAX_POS_KEY_BYTES);

/**
 * The LMDB key of the position at depth `d` on `key`'s path, into out[0..); returns its
 * length. `flipLast`: the sibling position (bit d-1 inverted), for a subtree no key of the
 * batch lies in.
 */
export function posKeyOf(key: H32, d: number, out: Uint8Array, flipLast = false): number {
  const top = d < TOP_LEVELS ? 1 : 0;
  if (top) out[0] = TOP_PREFIX;
  const len = Math.floor(d / 5) + 1 + top;
  let i = 0;
  for (let j = top; j < len; j++) {
    let v = 0;
    for (let k = 0; k < 5; k++, i++) {
      let digit = 0;
      if (i < d) {
        digit = bitAt(key, i);
        if (flipLast && i === d - 1) digit ^= 1;
      } else if (i === d) digit = 2;
      v = v * 3 + digit;
    }
    out[j] = v;
  }
  return len;
}

function latin1(b: Uint8Array, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/** The PosId of the position at depth `d` on `key`'s path (`flipLast`: its sibling). */
export function posOf(key: H32, d: number, flipLast = false): PosId {
  if (d <= NUMERIC_DEPTH) {
    const p = prefixNum(key, d);
    return 2 ** d + (flipLast ? (p % 2 === 0 ? p + 1 : p - 1) : p);
  }
  return latin1(scratch, posKeyOf(key, d, scratch, flipLast));
}

/** Depth of a numeric PosId. */
export function depthOfNumeric(id: number): number {
  if (id < 2147483648) return 31 - Math.clz32(id);
  const hi = Math.floor(id / 2 ** 32);
  return hi > 0 ? 32 + (31 - Math.clz32(hi)) : 31 - Math.clz32(id);
}

/** Length of a PosId's LMDB key, without encoding it. */
export function posKeyLength(id: PosId): number {
  if (typeof id === 'string') return id.length;
  const d = depthOfNumeric(id);
  return Math.floor(d / 5) + (d < TOP_LEVELS ? 2 : 1);
}

/** Base-3 byte of 5 path bits (most significant first). */
const TERN5 = Array.from({ length: 32 }, (_, b) => {
  let v = 0;
  for (let k = 4; k >= 0; k--) v = v * 3 + ((b >> k) & 1);
  return v;
});
/** Base-3 byte of the last group: r path bits, the terminator 2, then 0s. */
const TERN_LAST = Array.from({ length: 5 }, (_, r) =>
  Array.from({ length: 1 << r }, (_, b) => {
    let v = 0;
    for (let k = 0; k < 5; k++) v = v * 3 + (k < r ? (b >> (r - 1 - k)) & 1 : k === r ? 2 : 0);
    return v;
  }),
);

/** The LMDB key of a PosId, into out[0..); returns its length. */
export function posKeyOfId(id: PosId, out: Uint8Array): number {
  if (typeof id === 'string') {
    for (let i = 0; i < id.length; i++) out[i] = id.charCodeAt(i);
    return id.length;
  }
  const d = depthOfNumeric(id);
  // The d-bit prefix (< 2^48) as two exact 24-bit integers, so groups come out by shifts.
  const prefix = id - POW2[d]!;
  const hi = Math.floor(prefix / 16777216);
  const lo = prefix - hi * 16777216;
  const top = d < TOP_LEVELS ? 1 : 0;
  if (top) out[0] = TOP_PREFIX;
  const full = (d / 5) | 0;
  for (let j = 0; j < full; j++) {
    const q = d - 5 * j - 5; // position of the group's lowest bit, counted from the prefix's end
    const g = q >= 24 ? hi >>> (q - 24) : q + 5 <= 24 ? lo >>> q : (lo >>> q) | (hi << (24 - q));
    out[top + j] = TERN5[g & 31]!;
  }
  const r = d - 5 * full;
  out[top + full] = TERN_LAST[r]![lo & ((1 << r) - 1)]!;
  return top + full + 1;
}

const POW2 = Array.from({ length: 64 }, (_, i) => 2 ** i);

/** The child position of a PosId (bit b below it). */
export function childPos(pos: PosId, b: number): PosId {
  if (typeof pos === 'number' && pos < 2 ** 48) return 2 * pos + b;
  // Depth >= 48: via the LMDB key (a string id). Never reached with fewer than ~2^24 keys.
  const key = new Uint8Array(MAX_POS_KEY_BYTES);
  const { bits } = decodePosKey(key.subarray(0, posKeyOfId(pos, key)));
  bits.push(b);
  const d = bits.length;
  const len = Math.floor(d / 5) + 1;
  let s = '';
  for (let j = 0, i = 0; j < len; j++) {
    let v = 0;
    for (let k = 0; k < 5; k++, i++) v = v * 3 + (i < d ? bits[i]! : i === d ? 2 : 0);
    s += String.fromCharCode(v);
  }
  return s;
}

/** Depth and path bits (as 0/1 array) of an LMDB position key; throws STATE_CORRUPT if malformed. */
export function decodePosKey(key: Uint8Array): { depth: number; bits: number[] } {
  const bits: number[] = [];
  let depth = -1;
  const top = key[0] === TOP_PREFIX ? 1 : 0;
  for (let j = top; j < key.length; j++) {
    let v = key[j]!;
    if (v >= 243) throw new StateError('STATE_CORRUPT', `tree position key byte ${v} is not 5 base-3 digits`);
    const digits = [0, 0, 0, 0, 0];
    for (let k = 4; k >= 0; k--) {
      digits[k] = v % 3;
      v = Math.floor(v / 3);
    }
    for (const digit of digits) {
      if (depth >= 0) {
        if (digit !== 0) throw new StateError('STATE_CORRUPT', 'tree position key has digits after its terminator');
      } else if (digit === 2) depth = bits.length;
      else bits.push(digit);
    }
  }
  if (depth < 0 || key.length !== Math.floor(depth / 5) + 1 + top || (top === 1) !== depth < TOP_LEVELS) {
    throw new StateError('STATE_CORRUPT', 'tree position key has no terminator, the wrong length or the wrong region');
  }
  return { depth, bits };
}
