/**
 * MultiVersionMemory (paper §3, aptos `mvhashmap`) over shared buffers.
 *
 * Keys are interned into a shared open-addressing table (keyId). Per key, entries form a
 * lock-free singly linked list sorted by tx index, highest first; an entry belongs to one
 * (key, tx) pair for the whole block and is updated in place by the incarnation that owns
 * it: value bytes go to fresh arena space, then the (incarnation, kind) word is published
 * with Atomics.store. The (offset, length) pair is guarded like a seqlock: the owner sets
 * the word to WRITING, stores the pair, then publishes the new word; a reader retries until
 * it sees the same published word before and after reading the pair, so it always gets the
 * exact bytes of the version it records.
 * An aborted incarnation's entries become ESTIMATE; a key the next incarnation no longer
 * writes becomes ABSENT (skipped by readers), which plays the role of removal.
 */
import { decodeU128, encodeU128, U128_MAX } from '../../protocol/codec.js';
import type { DeltaOp } from '../view.js';
import { BlockStopped, CapacityExceeded, CHUNK, CTL, ENTRY, KEY, KIND, READ, READ_STRIDE, runAborted, TX, WRITE_STRIDE, type SharedViews } from './layout.js';

/** A per-thread bump allocator over a shared pool: one Atomics.add per chunk, not per item. */
class ChunkAllocator {
  private next = 0;
  private end = 0;
  constructor(
    private readonly ctl: Int32Array,
    private readonly counter: number,
    private readonly chunk: number,
    private readonly capacity: () => number,
    private readonly what: string,
    private readonly onReserve?: (start: number, size: number) => void,
  ) {}
  reset(): void {
    this.next = this.end = 0;
  }
  alloc(n: number): number {
    if (this.next + n > this.end) {
      const size = Math.max(this.chunk, n);
      const start = Atomics.add(this.ctl, this.counter, size);
      if (start + size > this.capacity()) throw new CapacityExceeded(this.what);
      this.onReserve?.(start, size);
      this.next = start;
      this.end = start + size;
    }
    const at = this.next;
    this.next += n;
    return at;
  }
}

export type MvRead =
  | { readonly kind: 'storage' }
  | { readonly kind: 'version'; readonly tx: number; readonly incarnation: number; readonly value: Uint8Array | undefined }
  | { readonly kind: 'resolved'; readonly value: Uint8Array }
  | { readonly kind: 'dependency'; readonly blockingTx: number };

const STORAGE: MvRead = { kind: 'storage' };
/** ENTRY.VER while the owner rewrites an entry's value pointer. */
const WRITING = -1;
const EMPTY: Map<number, number> = new Map();
const latin1 = new TextDecoder('latin1');

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/**
 * Delta op list encoding: u16 n, then per op: u8 flags (1 = negative, 2 = has max) |
 * [16] magnitude LE | ([16] max LE if flag 2) | u8 codeLength | code (ASCII).
 */
function putU128(out: Uint8Array, o: number, value: bigint): void {
  let mag = value;
  if (mag <= 0x1fffffffffffffn) {
    let m = Number(mag);
    for (let i = 0; i < 7; i++, m = Math.floor(m / 256)) out[o + i] = m % 256;
  } else {
    for (let i = 0; i < 16; i++, mag >>= 8n) out[o + i] = Number(mag & 0xffn);
  }
}

function readU128At(bytes: Uint8Array, o: number): bigint {
  if ((bytes[o + 7]! | bytes[o + 8]! | bytes[o + 9]! | bytes[o + 10]! | bytes[o + 11]! | bytes[o + 12]! | bytes[o + 13]! | bytes[o + 14]! | bytes[o + 15]!) === 0) {
    // Up to 7 bytes: exact as a Number, no subarray.
    let m = 0;
    for (let i = 6; i >= 0; i--) m = m * 256 + bytes[o + i]!;
    return BigInt(m);
  }
  return decodeU128(bytes.subarray(o, o + 16));
}

export function encodeDeltaOps(ops: readonly DeltaOp[]): Uint8Array {
  let size = 2;
  for (const [, code, max] of ops) size += 18 + code.length + (max === undefined ? 0 : 16);
  const out = new Uint8Array(size);
  out[0] = ops.length & 0xff;
  out[1] = ops.length >> 8;
  let o = 2;
  for (const [amount, code, max] of ops) {
    out[o++] = (amount < 0n ? 1 : 0) | (max === undefined ? 0 : 2);
    putU128(out, o, amount < 0n ? -amount : amount);
    o += 16;
    if (max !== undefined) {
      putU128(out, o, max);
      o += 16;
    }
    out[o++] = code.length;
    for (let i = 0; i < code.length; i++) out[o++] = code.charCodeAt(i);
  }
  return out;
}

/**
 * Apply the encoded delta ops at `offset` to `value` in order, with the bounds checked
 * after each op, without allocating the op list. Returns null on a bound failure.
 */
export function replayDeltaOps(bytes: Uint8Array, offset: number, value: bigint): bigint | null {
  const n = bytes[offset]! | (bytes[offset + 1]! << 8);
  let o = offset + 2;
  let v = value;
  for (let i = 0; i < n; i++) {
    const flags = bytes[o]!;
    const mag = readU128At(bytes, o + 1);
    o += 17;
    let max = U128_MAX;
    if (flags & 2) {
      max = readU128At(bytes, o);
      o += 16;
    }
    v = flags & 1 ? v - mag : v + mag;
    if (v < 0n || v > max) return null;
    o += 1 + bytes[o]!;
  }
  return v;
}

export function decodeDeltaOps(b: Uint8Array): DeltaOp[] {
  const n = b[0]! | (b[1]! << 8);
  const ops: DeltaOp[] = [];
  let o = 2;
  for (let i = 0; i < n; i++) {
    const flags = b[o]!;
    const mag = readU128At(b, o + 1);
    o += 17;
    let max: bigint | undefined;
    if (flags & 2) {
      max = readU128At(b, o);
      o += 16;
    }
    const len = b[o++]!;
    const code = latin1.decode(b.subarray(o, o + len));
    o += len;
    const amount = flags & 1 ? -mag : mag;
    ops.push(max === undefined ? [amount, code] : [amount, code, max]);
  }
  return ops;
}

/** Kinds of FinalValue: what a key holds after the block's entries below a limit. */
export const FINAL = { UNTOUCHED: 0, VALUE: 1, DELETED: 2, COMPUTED: 3, FAILED: 4 } as const;

/**
 * One key's replayed final value (reused object: valid until the next replayKey call).
 * VALUE: the bytes at [offset, offset + length) of the arena; COMPUTED: `computed` (delta
 * results); FAILED: a delta bound check failed in tx `failTx`.
 */
export interface FinalValue {
  kind: number;
  offset: number;
  length: number;
  computed: Uint8Array | null;
  failTx: number;
}

export class MultiVersionMemory {
  /** Per-thread caches of interned keys (string -> id, id -> string), kept across blocks
   *  while the key table's generation (CTL.KEY_GEN) stays the same. */
  private readonly local = new Map<string, number>();
  private names: (string | undefined)[] = [];
  private gen = -1;
  private readonly fin: FinalValue = { kind: 0, offset: 0, length: 0, computed: null, failTx: -1 };
  private readonly scratch: number[] = [];
  private readonly bytesAlloc: ChunkAllocator;
  private readonly entryAlloc: ChunkAllocator;
  private readonly readAlloc: ChunkAllocator;
  private readonly writeAlloc: ChunkAllocator;
  private readonly keyAlloc: ChunkAllocator;
  private readonly keyBytesAlloc: ChunkAllocator;

  constructor(readonly v: SharedViews) {
    this.bytesAlloc = new ChunkAllocator(v.ctl, CTL.BYTES_USED, CHUNK.BYTES, () => v.bytes.length, 'byte arena');
    // Entries of a reserved chunk that are never used must not name a key (finalisation
    // scans entries for the keys a block touched).
    this.entryAlloc = new ChunkAllocator(v.ctl, CTL.ENTRY_COUNT, CHUNK.ENTRIES, () => v.capacity.entries, 'entries', (start, size) => {
      for (let e = start; e < start + size; e++) v.entries[e * ENTRY.STRIDE + ENTRY.KEY] = -1;
    });
    this.readAlloc = new ChunkAllocator(v.ctl, CTL.READ_COUNT, CHUNK.READS, () => v.capacity.reads, 'read sets');
    this.writeAlloc = new ChunkAllocator(v.ctl, CTL.WRITE_COUNT, CHUNK.WRITES, () => v.capacity.writes, 'write sets');
    // Key ids of a reserved chunk that are never used must read as empty lists.
    this.keyAlloc = new ChunkAllocator(v.ctl, CTL.KEY_COUNT, CHUNK.KEYS, () => v.capacity.keys, 'keys', (start, size) => {
      for (let id = start; id < start + size; id++) Atomics.store(v.keyMeta, id * KEY.STRIDE + KEY.HEAD, -1);
    });
    this.keyBytesAlloc = new ChunkAllocator(v.ctl, CTL.KEY_BYTES_USED, CHUNK.BYTES, () => v.keyBytes.length, 'key bytes');
  }

  /**
   * Start of a block (every thread, after the main thread prepared the key table): drop
   * the chunks of the previous block (their counters were reset), and the interned keys too
   * if the table was cleared since.
   */
  beginBlock(): void {
    for (const a of this.blockAllocators) a.reset();
    const gen = Atomics.load(this.v.ctl, CTL.KEY_GEN);
    if (gen !== this.gen) {
      this.gen = gen;
      this.local.clear();
      this.names = [];
      this.keyAlloc.reset();
      this.keyBytesAlloc.reset();
    }
  }

  private get blockAllocators(): readonly ChunkAllocator[] {
    return [this.bytesAlloc, this.entryAlloc, this.readAlloc, this.writeAlloc];
  }

  /**
   * Main thread, before a block: keep the key table (every list emptied) while it is under
   * half full, otherwise clear it and start a new generation. Bumps BLOCK_SEQ, which marks
   * the keys finalised in this block.
   */
  static prepareKeyTable(v: SharedViews): void {
    const { ctl, keyMeta } = v;
    const kc = Math.min(ctl[CTL.KEY_COUNT]!, v.capacity.keys);
    if (ctl[CTL.KEY_GEN] === 0 || kc * 2 > v.capacity.keys || ctl[CTL.KEY_BYTES_USED]! * 2 > v.keyBytes.length) {
      v.slots.fill(0);
      ctl[CTL.KEY_COUNT] = 0;
      ctl[CTL.KEY_BYTES_USED] = 0;
      ctl[CTL.KEY_GEN] = ctl[CTL.KEY_GEN]! + 1;
    } else {
      for (let id = 0; id < kc; id++) keyMeta[id * KEY.STRIDE + KEY.HEAD] = -1;
    }
    ctl[CTL.BLOCK_SEQ] = ctl[CTL.BLOCK_SEQ]! + 1;
  }

  // ---- arena ----------------------------------------------------------------------

  /** Arena space for `n` bytes, filled by the caller. */
  reserveBytes(n: number): number {
    return this.bytesAlloc.alloc(n);
  }

  putBytes(b: Uint8Array): number {
    const off = this.bytesAlloc.alloc(b.length);
    this.v.bytes.set(b, off);
    return off;
  }

  bytesAt(offset: number, length: number): Uint8Array {
    return this.v.bytes.slice(offset, offset + length);
  }

  // ---- key table --------------------------------------------------------------------

  keyId(key: string): number {
    const cached = this.local.get(key);
    if (cached !== undefined) return cached;
    const { slots, keyMeta } = this.v;
    const h = fnv1a(key);
    const mask = slots.length - 1;
    let p = h & mask;
    let mine = -1;
    for (let probes = 0; probes <= mask; ) {
      const s = Atomics.load(slots, p);
      if (s === 0) {
        if (mine < 0) mine = this.allocateKey(key, h);
        if (Atomics.compareExchange(slots, p, 0, mine + 1) === 0) {
          this.local.set(key, mine);
          this.names[mine] = key;
          return mine;
        }
        continue; // lost the race for this slot: look at what was put there
      }
      const id = s - 1;
      if (keyMeta[id * KEY.STRIDE + KEY.HASH] === h && this.keyEquals(id, key)) {
        this.local.set(key, id);
        this.names[id] = key;
        return id;
      }
      p = (p + 1) & mask;
      probes++;
    }
    throw new CapacityExceeded('key table');
  }

  private allocateKey(key: string, h: number): number {
    const { keyMeta, keyBytes } = this.v;
    const id = this.keyAlloc.alloc(1);
    const off = this.keyBytesAlloc.alloc(key.length);
    for (let i = 0; i < key.length; i++) keyBytes[off + i] = key.charCodeAt(i);
    const m = id * KEY.STRIDE;
    keyMeta[m + KEY.HASH] = h;
    keyMeta[m + KEY.OFFSET] = off;
    keyMeta[m + KEY.LENGTH] = key.length;
    keyMeta[m + KEY.MARK] = 0;
    Atomics.store(keyMeta, m + KEY.HEAD, -1);
    return id;
  }

  private keyEquals(id: number, key: string): boolean {
    const m = id * KEY.STRIDE;
    const len = this.v.keyMeta[m + KEY.LENGTH]!;
    if (len !== key.length) return false;
    const off = this.v.keyMeta[m + KEY.OFFSET]!;
    const kb = this.v.keyBytes;
    for (let i = 0; i < len; i++) if (kb[off + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  keyString(id: number): string {
    const known = this.names[id];
    if (known !== undefined) return known;
    const m = id * KEY.STRIDE;
    const off = this.v.keyMeta[m + KEY.OFFSET]!;
    const key = latin1.decode(this.v.keyBytes.subarray(off, off + this.v.keyMeta[m + KEY.LENGTH]!));
    this.names[id] = key;
    return key;
  }

  // ---- reads ------------------------------------------------------------------------

  /**
   * The value tx `txIdx` must see for `keyId`: the highest entry below it, deltas resolved
   * on top of the nearest value below them (or of storage, supplied by the caller: the
   * shared memory never holds pre-block state).
   */
  read(keyId: number, txIdx: number, storage: (keyId: number) => Uint8Array | undefined): MvRead {
    const { entries, keyMeta } = this.v;
    let e = Atomics.load(keyMeta, keyId * KEY.STRIDE + KEY.HEAD);
    let deltas: DeltaOp[][] | null = null;
    while (e !== -1) {
      const b = e * ENTRY.STRIDE;
      const tx = entries[b + ENTRY.TX]!;
      if (tx < txIdx) {
        // Seqlock read of (ver, offset, length).
        let ver: number;
        let off: number;
        let len: number;
        for (;;) {
          ver = Atomics.load(entries, b + ENTRY.VER);
          if (ver === WRITING) {
            // A writer that exited mid-rewrite never publishes: once the run is aborted, give up.
            if (runAborted(this.v.ctl)) throw new BlockStopped(`reading an entry of tx ${tx} being rewritten`);
            continue;
          }
          off = Atomics.load(entries, b + ENTRY.VAL_OFFSET);
          len = Atomics.load(entries, b + ENTRY.VAL_LEN);
          if (Atomics.load(entries, b + ENTRY.VER) === ver) break;
        }
        const kind = ver & 7;
        if (kind === KIND.ESTIMATE) return { kind: 'dependency', blockingTx: tx };
        if (kind === KIND.VALUE || kind === KIND.DELETED) {
          const value = kind === KIND.VALUE ? this.bytesAt(off, len) : undefined;
          if (deltas === null) return { kind: 'version', tx, incarnation: ver >>> 3, value };
          return { kind: 'resolved', value: resolveDeltas(value, deltas) };
        }
        if (kind === KIND.DELTA) (deltas ??= []).push(decodeDeltaOps(this.v.bytes.subarray(off, off + len)));
      }
      e = Atomics.load(entries, b + ENTRY.NEXT);
    }
    return deltas === null ? STORAGE : { kind: 'resolved', value: resolveDeltas(storage(keyId), deltas) };
  }

  // ---- writes -----------------------------------------------------------------------

  /** Find or insert the entry of (keyId, txIdx); the list stays sorted, highest tx first. */
  private entryFor(keyId: number, txIdx: number, initVer: number, valOffset: number, valLen: number): number {
    const { entries, keyMeta } = this.v;
    const headIdx = keyId * KEY.STRIDE + KEY.HEAD;
    let fresh = -1;
    for (;;) {
      let prevArr: Int32Array = keyMeta;
      let prevIdx = headIdx;
      let cur = Atomics.load(keyMeta, headIdx);
      while (cur !== -1 && entries[cur * ENTRY.STRIDE + ENTRY.TX]! > txIdx) {
        prevArr = entries;
        prevIdx = cur * ENTRY.STRIDE + ENTRY.NEXT;
        cur = Atomics.load(entries, prevIdx);
      }
      if (cur !== -1 && entries[cur * ENTRY.STRIDE + ENTRY.TX] === txIdx) {
        this.updateEntry(cur, initVer, valOffset, valLen);
        return cur;
      }
      if (fresh === -1) {
        fresh = this.entryAlloc.alloc(1);
        const b = fresh * ENTRY.STRIDE;
        entries[b + ENTRY.TX] = txIdx;
        entries[b + ENTRY.KEY] = keyId;
        entries[b + ENTRY.VAL_OFFSET] = valOffset;
        entries[b + ENTRY.VAL_LEN] = valLen;
        Atomics.store(entries, b + ENTRY.VER, initVer);
      }
      Atomics.store(entries, fresh * ENTRY.STRIDE + ENTRY.NEXT, cur);
      if (Atomics.compareExchange(prevArr, prevIdx, cur, fresh) === cur) return fresh;
    }
  }

  /** Only the owner tx's executing thread updates an entry; readers use the seqlock. */
  private updateEntry(e: number, ver: number, valOffset: number, valLen: number): void {
    const b = e * ENTRY.STRIDE;
    Atomics.store(this.v.entries, b + ENTRY.VER, WRITING);
    Atomics.store(this.v.entries, b + ENTRY.VAL_OFFSET, valOffset);
    Atomics.store(this.v.entries, b + ENTRY.VAL_LEN, valLen);
    Atomics.store(this.v.entries, b + ENTRY.VER, ver);
  }

  /**
   * Publish the write set of incarnation `inc` of tx `txIdx` and its read set. Returns
   * true when it wrote a key the previous incarnation did not (paper: wrote_new_location).
   */
  record(
    txIdx: number,
    inc: number,
    reads: readonly number[],
    writes: ReadonlyMap<string, Uint8Array | null>,
    deltas: ReadonlyMap<string, readonly DeltaOp[]>,
  ): boolean {
    const { tx } = this.v;
    const t = txIdx * TX.STRIDE;
    const prevStart = tx[t + TX.WRITE_START]!;
    const prevCount = tx[t + TX.WRITE_COUNT]!;
    // Keys of the previous incarnation (first incarnation: none, skip the map).
    const prev = prevCount === 0 ? EMPTY : new Map<number, number>();
    for (let k = 0; k < prevCount; k++) prev.set(this.v.writes[(prevStart + k) * WRITE_STRIDE]!, this.v.writes[(prevStart + k) * WRITE_STRIDE + 1]!);

    const count = writes.size + deltas.size;
    const start = this.writeAlloc.alloc(count);
    let w = start;
    let wroteNew = false;
    const put = (key: string, kind: number, bytes: Uint8Array | null): void => {
      const id = this.keyId(key);
      const off = bytes ? this.putBytes(bytes) : 0;
      const ver = inc * 8 + kind;
      const known = prev.get(id);
      let e: number;
      if (known !== undefined) {
        this.updateEntry(known, ver, off, bytes ? bytes.length : 0);
        e = known;
        prev.delete(id);
      } else {
        wroteNew = true;
        e = this.entryFor(id, txIdx, ver, off, bytes ? bytes.length : 0);
      }
      this.v.writes[w * WRITE_STRIDE] = id;
      this.v.writes[w * WRITE_STRIDE + 1] = e;
      w++;
    };
    for (const [key, value] of writes) put(key, value === null ? KIND.DELETED : KIND.VALUE, value);
    for (const [key, ops] of deltas) put(key, KIND.DELTA, encodeDeltaOps(ops));
    // Keys the previous incarnation wrote and this one does not: ABSENT.
    for (const e of prev.values()) this.updateEntry(e, inc * 8 + KIND.ABSENT, 0, 0);

    const rStart = this.readAlloc.alloc(reads.length / READ_STRIDE);
    this.v.reads.set(reads, rStart * READ_STRIDE);
    tx[t + TX.WRITE_START] = start;
    tx[t + TX.WRITE_COUNT] = count;
    tx[t + TX.READ_START] = rStart;
    Atomics.store(tx, t + TX.READ_COUNT, reads.length / READ_STRIDE);
    return wroteNew;
  }

  /** Paper: convert_writes_to_estimates, on abort of the tx's last incarnation. */
  convertWritesToEstimates(txIdx: number): void {
    const t = txIdx * TX.STRIDE;
    const start = this.v.tx[t + TX.WRITE_START]!;
    const count = this.v.tx[t + TX.WRITE_COUNT]!;
    for (let k = 0; k < count; k++) {
      const e = this.v.writes[(start + k) * WRITE_STRIDE + 1]!;
      const b = e * ENTRY.STRIDE + ENTRY.VER;
      const ver = Atomics.load(this.v.entries, b);
      if ((ver & 7) !== KIND.ABSENT) Atomics.store(this.v.entries, b, (ver & ~7) | KIND.ESTIMATE);
    }
  }

  /** Paper: validate_read_set. Every recorded read must still resolve to the same thing. */
  validateReadSet(txIdx: number, storage: (keyId: number) => Uint8Array | undefined): boolean {
    const t = txIdx * TX.STRIDE;
    const count = Atomics.load(this.v.tx, t + TX.READ_COUNT);
    const start = this.v.tx[t + TX.READ_START]!;
    const reads = this.v.reads;
    for (let k = 0; k < count; k++) {
      const b = (start + k) * READ_STRIDE;
      const keyId = reads[b]!;
      const kind = reads[b + 1]!;
      const r = this.read(keyId, txIdx, storage);
      if (kind === READ.STORAGE) {
        if (r.kind !== 'storage') return false;
      } else if (kind === READ.VERSION) {
        if (r.kind !== 'version' || r.tx !== reads[b + 2] || r.incarnation !== reads[b + 3]) return false;
      } else {
        if (r.kind !== 'resolved') return false;
        const off = reads[b + 2]!;
        const len = reads[b + 3]!;
        if (r.value.length !== len) return false;
        for (let i = 0; i < len; i++) if (r.value[i] !== this.v.bytes[off + i]) return false;
      }
    }
    return true;
  }

  /** Number of entries handed out this block (some, in unused chunk tails, name no key). */
  entryCount(): number {
    return Math.min(Atomics.load(this.v.ctl, CTL.ENTRY_COUNT), this.v.capacity.entries);
  }

  /** The keys this block wrote, each once, in entry order (finalisation, after the run). */
  touchedKeys(): number[] {
    const seen = new Set<number>();
    const E = this.v.entries;
    const ec = this.entryCount();
    for (let e = 0; e < ec; e++) {
      const k = E[e * ENTRY.STRIDE + ENTRY.KEY]!;
      if (k >= 0) seen.add(k);
    }
    return [...seen];
  }

  /**
   * The final value of `keyId` after the entries of txs below `limit`, replayed in tx
   * order with delta bounds checked exactly as the eager path applies them (only once the
   * block's run is complete). `storage` gives the pre-block value for deltas on a key no
   * earlier tx of the block wrote.
   */
  replayKey(keyId: number, limit: number, storage: (keyId: number) => Uint8Array | undefined): FinalValue {
    const E = this.v.entries;
    const f = this.fin;
    f.kind = FINAL.UNTOUCHED;
    f.computed = null;
    f.failTx = -1;
    const list = this.scratch;
    list.length = 0;
    for (let e = Atomics.load(this.v.keyMeta, keyId * KEY.STRIDE + KEY.HEAD); e !== -1; e = Atomics.load(E, e * ENTRY.STRIDE + ENTRY.NEXT)) list.push(e);
    let acc: bigint | null = null; // pending delta result, not yet encoded
    for (let j = list.length - 1; j >= 0; j--) {
      const b = list[j]! * ENTRY.STRIDE;
      const tx = E[b + ENTRY.TX]!;
      if (tx >= limit) break;
      const kind = E[b + ENTRY.VER]! & 7;
      if (kind === KIND.ABSENT) continue;
      if (kind === KIND.VALUE) {
        f.kind = FINAL.VALUE;
        f.offset = E[b + ENTRY.VAL_OFFSET]!;
        f.length = E[b + ENTRY.VAL_LEN]!;
        acc = null;
      } else if (kind === KIND.DELETED) {
        f.kind = FINAL.DELETED;
        acc = null;
      } else if (kind === KIND.DELTA) {
        if (acc === null) {
          acc = f.kind === FINAL.VALUE ? decodeU128(this.v.bytes.subarray(f.offset, f.offset + f.length)) : f.kind === FINAL.DELETED ? 0n : decodeU128(storage(keyId));
        }
        const next = replayDeltaOps(this.v.bytes, E[b + ENTRY.VAL_OFFSET]!, acc);
        if (next === null) {
          f.kind = FINAL.FAILED;
          f.failTx = tx;
          return f;
        }
        acc = next;
        f.kind = FINAL.COMPUTED;
      } else throw new Error(`parallel executor: entry of tx ${tx} is still ${kind === KIND.ESTIMATE ? 'ESTIMATE' : kind} after completion`);
    }
    if (acc !== null) f.computed = encodeU128(acc);
    return f;
  }
}

/** Apply delta lists (collected highest tx first) on a base value, without bound checks:
 *  speculative reads only; bounds are replayed exactly at finalisation. */
function resolveDeltas(base: Uint8Array | undefined, collected: DeltaOp[][]): Uint8Array {
  let v = decodeU128(base);
  for (let i = collected.length - 1; i >= 0; i--) for (const [amount] of collected[i]!) v += amount;
  if (v < 0n) v = 0n;
  if (v > U128_MAX) v = U128_MAX;
  return encodeU128(v);
}
