/**
 * Bulk load of a big genesis state into an empty StateDb, in bounded memory, without the
 * per-block path (which would write every tree node many times over).
 *
 * Three streaming passes over scratch files in `tmpDir`:
 *  1. generate: entry(i) for i < count. Each key's (keyHash, valueHash) goes to one of 256
 *     bucket files by the first byte of the key hash (its tree subtree at depth 8); each
 *     (key, value) goes to a run buffer that is sorted by key and written out when full.
 *  2. values: a k-way merge of the sorted runs is appended (MDB_APPEND: full pages, no
 *     B-tree search) to the values table in large transactions.
 *  3. tree: file by file in key-hash order, each read and sorted: together one stream of
 *     leaves in key-hash order, grouped into the tree's buckets (bucket-tree.ts), whose
 *     records are appended in index order (MDB_APPEND); the top levels are combined at the end.
 * Meta (height, root, size) is written last; until then a 'loading' mark makes an interrupted
 * load refuse to open (STATE_CORRUPT) instead of passing for a small state.
 *
 * Memory: one bucket (count / 256 leaves, ~150 bytes each in the heap: 6 MB at 10M keys), one
 * run (`runBytes`), 256 x 64 KiB bucket buffers and one transaction of appends. A key given
 * twice: the later entry wins, in values and tree alike.
 */
import { closeSync, mkdirSync, openSync, readSync, rmSync, writeSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sha256H32, type H32, fromH32 } from '../protocol/hash.js';
import { bucketKey, META_LOADING, putMeta } from './state-commit.js';
import type { StateDb } from './state-db.js';
import { StateError } from './state-error.js';
import { bucketOf, buildBucket, TopBuilder } from './bucket-tree.js';
import { sortedDistinct } from './smt.js';
import { STATE_KEY_RE } from './types.js';

export interface BulkLoadOptions {
  /** Number of entries the generator yields. */
  readonly count: number;
  /** Entry i: a state key and its value. Deterministic; called once per i, in order. */
  readonly entry: (i: number) => readonly [key: string, value: Uint8Array];
  /** Height the loaded state is at (genesis: 0). */
  readonly height: bigint;
  /** Scratch directory (removed afterwards). Default: `<store path>/bulk-tmp`. */
  readonly tmpDir?: string;
  /** Heap budget of one sorted run of values. Default 64 MiB. */
  readonly runBytes?: number;
  /** Value appends per LMDB transaction (tree nodes: one transaction per bucket). Default 200,000. */
  readonly txnEntries?: number;
  /** Called every 65,536 entries generated, after each values transaction and after each bucket. */
  readonly onProgress?: (phase: 'generate' | 'values' | 'tree', done: number) => void;
}

export interface BulkLoadResult {
  readonly height: bigint;
  readonly root: Uint8Array;
  /** Distinct keys loaded. */
  readonly size: number;
  /** Bucket records written. */
  readonly buckets: number;
  readonly runs: number;
  readonly ms: { readonly generate: number; readonly values: number; readonly tree: number; readonly total: number };
}

const BUCKET_BITS = 8;
const BUCKETS = 1 << BUCKET_BITS;
const BUCKET_BUFFER = 64 * 1024;
const LEAF_RECORD = 64;

interface KeyTarget extends Uint8Array {
  latin1Write(s: string, offset: number): number;
  latin1Slice(start: number, end: number): string;
}

/** Appending writer of a scratch file, with its own buffer. */
class FileOut {
  /** Opened at the first flush: most of 256 buckets of a small state stay empty. */
  private fd = -1;
  private buf: KeyTarget | null = null;
  private pos = 0;
  bytes = 0;
  constructor(
    private readonly path: string,
    private readonly size: number,
  ) {}
  /** Room for n bytes at the returned offset of `buffer`. */
  reserve(n: number): number {
    this.buf ??= Buffer.allocUnsafe(this.size) as unknown as KeyTarget;
    if (this.pos + n > this.buf.length) this.flush();
    if (n > this.buf.length) throw new StateError('STATE_INVALID_ARGUMENT', `bulk load: a record of ${n} bytes exceeds the scratch buffer`);
    const at = this.pos;
    this.pos += n;
    this.bytes += n;
    return at;
  }
  get buffer(): KeyTarget {
    return this.buf!;
  }
  flush(): void {
    if (this.pos === 0) return;
    if (this.fd < 0) this.fd = openSync(this.path, 'w');
    let o = 0;
    while (o < this.pos) o += writeSync(this.fd, this.buf!, o, this.pos - o);
    this.pos = 0;
  }
  close(): void {
    this.flush();
    if (this.fd >= 0) closeSync(this.fd);
    this.buf = null;
  }
}

/** Sequential reader of a scratch file of runs: u16 key length | key | u32 value length | value. */
class RunIn {
  private readonly fd: number;
  private buf: Buffer = Buffer.allocUnsafe(1 << 20);
  private start = 0;
  private end = 0;
  private eof = false;
  key: string | null = null;
  value: Uint8Array | null = null;
  constructor(path: string, readonly index: number) {
    this.fd = openSync(path, 'r');
    this.next();
  }
  private fill(need: number): boolean {
    while (this.end - this.start < need && !this.eof) {
      if (this.start > 0) {
        this.buf.copy(this.buf, 0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      }
      if (need > this.buf.length) {
        const bigger = Buffer.allocUnsafe(need * 2);
        this.buf.copy(bigger, 0, 0, this.end);
        this.buf = bigger;
      }
      const n = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, null);
      if (n === 0) this.eof = true;
      this.end += n;
    }
    return this.end - this.start >= need;
  }
  /** Advances to the next record; key null at the end. */
  next(): void {
    if (!this.fill(2)) {
      this.key = null;
      this.value = null;
      closeSync(this.fd);
      return;
    }
    const klen = this.buf.readUInt16LE(this.start);
    this.fill(2 + klen + 4);
    const key = (this.buf as unknown as KeyTarget).latin1Slice(this.start + 2, this.start + 2 + klen);
    const vlen = this.buf.readUInt32LE(this.start + 2 + klen);
    if (!this.fill(6 + klen + vlen)) throw new StateError('STATE_CORRUPT', 'bulk load: a scratch run file is truncated');
    const value = new Uint8Array(vlen);
    value.set(this.buf.subarray(this.start + 6 + klen, this.start + 6 + klen + vlen));
    this.start += 6 + klen + vlen;
    this.key = key;
    this.value = value;
  }
}

/** Min-heap of run readers by (key, later run first). */
class RunHeap {
  private readonly h: RunIn[] = [];
  private less(a: RunIn, b: RunIn): boolean {
    return a.key! < b.key! || (a.key === b.key && a.index > b.index);
  }
  push(r: RunIn): void {
    if (r.key === null) return;
    const h = this.h;
    h.push(r);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): RunIn | undefined {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

const APPEND = { append: true };
/** lmdb-js sync transaction flags: synchronous commit, no wait for a flush. */
const TXN_FLAGS = 2 | 0x10000;

function checkEntry(e: unknown, i: number): readonly [string, Uint8Array] {
  if (!Array.isArray(e) || typeof e[0] !== 'string' || !STATE_KEY_RE.test(e[0]) || !(e[1] instanceof Uint8Array)) {
    throw new StateError('STATE_INVALID_ARGUMENT', `bulk load: entry ${i} is not [state key (printable ASCII, 1..256 bytes), value bytes]`);
  }
  return e as unknown as readonly [string, Uint8Array];
}

/** Loads `count` generated entries into an empty store; see the module comment. */
export async function bulkLoad(db: StateDb, opts: BulkLoadOptions): Promise<BulkLoadResult> {
  const { count, entry, height } = opts;
  if (!Number.isSafeInteger(count) || count < 0) throw new StateError('STATE_INVALID_ARGUMENT', 'bulk load: count must be a non-negative integer');
  const runBytes = opts.runBytes ?? 64 * 1024 * 1024;
  const txnEntries = opts.txnEntries ?? 200_000;
  const { root: env, tables } = db.envForBulk;
  if (db.height !== undefined || tables.values.getKeysCount({ limit: 1 }) > 0 || tables.buckets.getKeysCount({ limit: 1 }) > 0) {
    throw new StateError('STATE_NOT_EMPTY', `bulk load: the state store at ${db.path} already holds state; load into an empty directory`);
  }
  const tmp = opts.tmpDir ?? join(db.path, 'bulk-tmp');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  // Braces: a transactionSync callback that returns put()'s promise-like keeps the
  // transaction open until it settles, and later transactionSync calls join it.
  env.transactionSync(() => {
    tables.meta.put(META_LOADING, Uint8Array.of(1));
  }, TXN_FLAGS);
  const t0 = performance.now();
  try {
    // Pass 1: buckets of (keyHash, valueHash) and sorted runs of (key, value).
    const buckets: FileOut[] = [];
    const bucketCount = new Array<number>(BUCKETS).fill(0);
    for (let b = 0; b < BUCKETS; b++) buckets.push(new FileOut(join(tmp, `bucket-${b}`), BUCKET_BUFFER));
    const runs: string[] = [];
    let runKeys: string[] = [];
    let runValues: Uint8Array[] = [];
    let runSize = 0;
    const keyBuf = Buffer.allocUnsafe(256) as unknown as KeyTarget;
    const writeRun = (): void => {
      if (runKeys.length === 0) return;
      const order = runKeys.map((_, i) => i);
      // Stable: equal keys keep generation order, and the last one is kept below.
      order.sort((a, b) => (runKeys[a]! < runKeys[b]! ? -1 : runKeys[a]! > runKeys[b]! ? 1 : a - b));
      const out = new FileOut(join(tmp, `run-${runs.length}`), 1 << 20);
      for (let j = 0; j < order.length; j++) {
        if (j + 1 < order.length && runKeys[order[j + 1]!] === runKeys[order[j]!]) continue;
        const k = runKeys[order[j]!]!;
        const v = runValues[order[j]!]!;
        const at = out.reserve(6 + k.length + v.length);
        const buf = out.buffer;
        buf[at] = k.length & 0xff;
        buf[at + 1] = k.length >> 8;
        buf.latin1Write(k, at + 2);
        new DataView(buf.buffer, buf.byteOffset).setUint32(at + 2 + k.length, v.length, true);
        buf.set(v, at + 6 + k.length);
      }
      out.close();
      runs.push(join(tmp, `run-${runs.length}`));
      runKeys = [];
      runValues = [];
      runSize = 0;
    };
    for (let i = 0; i < count; i++) {
      const [k, v] = checkEntry(entry(i), i);
      const klen = keyBuf.latin1Write(k, 0);
      const kh = sha256H32(keyBuf.subarray(0, klen));
      const b = kh.charCodeAt(0);
      const out = buckets[b]!;
      const at = out.reserve(LEAF_RECORD);
      out.buffer.latin1Write(kh, at);
      out.buffer.latin1Write(sha256H32(v), at + 32);
      bucketCount[b]!++;
      runKeys.push(k);
      runValues.push(v);
      if ((i & 0xffff) === 0xffff) opts.onProgress?.('generate', i + 1);
      // Heap per buffered entry: the key string, the value's typed array, two array slots.
      runSize += k.length + v.length + 200;
      if (runSize >= runBytes) writeRun();
    }
    writeRun();
    for (const b of buckets) b.close();
    const t1 = performance.now();

    // Pass 2: merge the runs into the values table, in transactions of txnEntries appends.
    const heap = new RunHeap();
    runs.forEach((p, i) => heap.push(new RunIn(p, i)));
    let valueCount = 0;
    let last: string | null = null;
    let r = heap.pop();
    while (r !== undefined) {
      env.transactionSync(() => {
        for (let n = 0; r !== undefined && n < txnEntries; ) {
          if (r.key !== last) {
            if (!(tables.values.putSync(r.key!, r.value!, APPEND) as unknown as boolean)) throw new StateError('STATE_CORRUPT', 'bulk load: values were not merged in key order');
            last = r.key;
            valueCount++;
            n++;
          }
          r.next();
          heap.push(r);
          r = heap.pop();
        }
      }, TXN_FLAGS);
      opts.onProgress?.('values', valueCount);
    }
    for (const p of runs) rmSync(p, { force: true });
    const t2 = performance.now();

    // Pass 3: the tree. Files in key-hash order, each sorted: one stream of leaves in key-hash
    // order, grouped into the tree's buckets (a bucket may span files when bits < 8), whose
    // records are appended in index order; the top levels are combined at the end.
    const bits = db.bucketBits;
    const top = new TopBuilder(bits);
    const bkey = new Uint8Array(4);
    let leaves = 0;
    let records = 0;
    let pendKeys: H32[] = [];
    let pendValues: H32[] = [];
    let pendBucket = -1;
    const flushBucket = (): void => {
      if (pendKeys.length === 0) return;
      const { node, record } = buildBucket(pendKeys, pendValues, bits);
      if (!(tables.buckets.putSync(bucketKey(pendBucket, bkey), record, APPEND) as unknown as boolean)) throw new StateError('STATE_CORRUPT', 'bulk load: bucket records were not emitted in index order');
      top.add(pendBucket, node);
      leaves += pendKeys.length;
      records++;
      pendKeys = [];
      pendValues = [];
    };
    const loadFile = (b: number): { key: H32; value: H32 }[] => {
      const path = join(tmp, `bucket-${b}`);
      if (bucketCount[b] === 0) return [];
      const fd = openSync(path, 'r');
      const size = fstatSync(fd).size;
      const buf = Buffer.allocUnsafe(size) as unknown as KeyTarget;
      let o = 0;
      while (o < size) o += readSync(fd, buf, o, size - o, null);
      closeSync(fd);
      rmSync(path, { force: true });
      const items: { key: H32; value: H32 }[] = [];
      for (let r = 0; r < size; r += LEAF_RECORD) items.push({ key: buf.latin1Slice(r, r + 32), value: buf.latin1Slice(r + 32, r + 64) });
      // The later entry of a key given twice wins.
      return sortedDistinct(items);
    };
    for (let b = 0; b < BUCKETS; b++) {
      env.transactionSync(() => {
        for (const it of loadFile(b)) {
          const bi = bucketOf(it.key, bits);
          if (bi !== pendBucket) {
            flushBucket();
            pendBucket = bi;
          }
          pendKeys.push(it.key);
          pendValues.push(it.value);
        }
      }, TXN_FLAGS);
      opts.onProgress?.('tree', b + 1);
    }
    if (leaves + pendKeys.length !== valueCount) throw new StateError('STATE_CORRUPT', `bulk load: ${leaves + pendKeys.length} tree leaves but ${valueCount} values`);
    let rootH32: H32 = '';
    // The last bucket, the root and meta in one transaction.
    env.transactionSync(() => {
      flushBucket();
      rootH32 = top.root();
      putMeta(tables.meta, { height, root: fromH32(rootH32), size: leaves, bucketBits: bits });
      tables.meta.remove(META_LOADING);
    }, TXN_FLAGS);
    db.reloadAfterBulk();
    const t3 = performance.now();
    return {
      height,
      root: fromH32(rootH32),
      size: leaves,
      buckets: records,
      runs: runs.length,
      ms: { generate: t1 - t0, values: t2 - t1, tree: t3 - t2, total: t3 - t0 },
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
