/**
 * pel bench state: the LMDB state store and bucketed tree (state/state-db.ts, bucket-tree.ts) at a
 * given number of accounts, against the in-memory tree (state/smt.ts) measured in the same
 * run where it fits. Prints JSON.
 *
 *   node dist/bench/state.js --accounts 1000000 --changes 20000 --json
 *
 * Phases: bulk load (time, peak RSS, disk); restart (close, reopen store + facade: the O(1)
 * start-up); blocks of --changes writes (half existing accounts, half new) through
 * prepare / write / commit with their node reads, store reads, hashes, node puts and
 * deletes and ms (1 in 50 updates deletes its account, so positions are emptied); the same
 * prepare on a hot-account block;
 * gets of random accounts, first touch after reopen vs warm (and page-cache-cold with
 * --evict-page-cache, which drops the store file's pages with posix_fadvise via python3).
 * Accounts are `coin/balance/<40 hex>` with 16-byte values from a fixed xorshift sequence, so
 * runs are comparable. Roots are checked against the in-memory tree where it runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { toHex } from '../protocol/hex.js';
import { bulkLoad } from '../state/bulk-load.js';
import { bucketTreeHashCount } from '../state/bucket-tree.js';
import { DiskWorldState } from '../state/disk-world.js';
import { SparseMerkleTree, smtHashCount } from '../state/smt.js';
import { StateDb } from '../state/state-db.js';
import { sortWriteSet, type WriteSet } from '../state/types.js';
import { median, num, output, parseBenchArgs, positiveInt, rng, round } from './util.js';

const HELP = `node dist/bench/state.js [flags] — LMDB state store + disk tree, JSON out
  --accounts N        accounts bulk-loaded [100000]
  --changes M         writes per block (half existing accounts, 1 in 50 of them deleted; half new) [20000]
  --blocks B          measured blocks (after one cold block) [5]
  --reads R           random gets per read measurement [20000]
  --baseline-max N    also run the in-memory tree when accounts <= N [2000000]
  --bucket-bits B     the tree's bucket bits (state/bucket-tree.ts) [20]
  --writer W          thread | inline [thread]
  --durability D      process-crash | power-loss [process-crash]
  --write-map on|off  LMDB WRITEMAP (see state-env.ts) [on]
  --evict-page-cache  measure cold gets after dropping the store's pages (python3 posix_fadvise)
  --dir PATH          where to put the store [a temp dir, removed afterwards]
  --json              one line of JSON`;

const HEX = '0123456789abcdef';

/** Account i's key: 40 hex digits from a xorshift stream seeded by i (deterministic, spread). */
export function accountKey(i: number): string {
  let x = (Math.imul(i + 1, 2654435761) ^ 0x9e3779b9) >>> 0 || 1;
  let s = 'coin/balance/';
  for (let j = 0; j < 40; j++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    s += HEX[x & 15];
  }
  return s;
}

/** A 16-byte value (u128 LE) carrying n. */
function balance(n: number): Uint8Array {
  const v = new Uint8Array(16);
  new DataView(v.buffer).setUint32(0, n >>> 0, true);
  v[4] = Math.floor(n / 2 ** 32) & 0xff;
  return v;
}

/** Anonymous and file-backed RSS (Linux /proc), MB. */
function rss(): { anonMB: number; fileMB: number; totalMB: number } {
  try {
    const s = readFileSync('/proc/self/status', 'utf8');
    const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
    return { anonMB: round(kb('RssAnon') / 1024, 1), fileMB: round(kb('RssFile') / 1024, 1), totalMB: round(kb('VmRSS') / 1024, 1) };
  } catch {
    const r = process.memoryUsage().rss / 2 ** 20;
    return { anonMB: NaN, fileMB: NaN, totalMB: round(r, 1) };
  }
}

function diskBytes(dir: string): { apparentMB: number; allocatedMB: number } {
  let apparent = 0;
  let allocated = 0;
  for (const f of readdirSync(dir)) {
    const st = statSync(join(dir, f));
    if (!st.isFile()) continue;
    apparent += st.size;
    allocated += st.blocks * 512;
  }
  return { apparentMB: round(apparent / 1e6, 1), allocatedMB: round(allocated / 1e6, 1) };
}

/** Drops the store file's pages from the OS page cache (only this file). False if not possible. */
function evictPageCache(dir: string): boolean {
  try {
    execFileSync('python3', ['-c', `import os\nfd=os.open(${JSON.stringify(join(dir, 'data.mdb'))}, os.O_RDONLY)\nos.fsync(fd) if False else None\nos.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Keys to read: random existing accounts, a fixed sequence. */
function readKeys(accounts: number, n: number, seed: number): string[] {
  const next = rng(seed);
  return Array.from({ length: n }, () => accountKey(next() % accounts));
}

/**
 * Wall and CPU time of f. The machine this runs on is shared: wall time includes waiting for a
 * core, process CPU time (all threads, user + system) does not, and is what to compare.
 */
function clock(): { wall: number; cpu: number } {
  const c = process.cpuUsage();
  return { wall: performance.now(), cpu: (c.user + c.system) / 1000 };
}
function since(t: { wall: number; cpu: number }): { ms: number; cpuMs: number } {
  const n = clock();
  return { ms: n.wall - t.wall, cpuMs: n.cpu - t.cpu };
}

function timeGets(read: (k: string) => Uint8Array | undefined, keys: readonly string[]): { us: number; cpuUs: number } {
  const t = clock();
  let found = 0;
  for (const k of keys) if (read(k) !== undefined) found++;
  const d = since(t);
  if (found !== keys.length) throw new Error(`bench: ${keys.length - found} of ${keys.length} accounts not found`);
  return { us: round((d.ms * 1000) / keys.length, 3), cpuUs: round((d.cpuMs * 1000) / keys.length, 3) };
}

/** Medians of repeated get timings. */
function medianGets(xs: { us: number; cpuUs: number }[]): { us: number; cpuUs: number } {
  return { us: round(median(xs.map((x) => x.us)), 3), cpuUs: round(median(xs.map((x) => x.cpuUs)), 3) };
}

export interface StateBenchOptions {
  accounts: number;
  changes: number;
  blocks: number;
  reads: number;
  baselineMax: number;
  bucketBits: number;
  writer: 'thread' | 'inline';
  durability: 'process-crash' | 'power-loss';
  writeMap: boolean;
  evictPageCache: boolean;
  dir?: string;
  log?: (s: string) => void;
}

export async function runStateBench(o: StateBenchOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? (() => {});
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'pel-bench-state-'));
  const result: Record<string, unknown> = { bench: 'state', accounts: o.accounts, changes: o.changes, blocks: o.blocks, bucketBits: o.bucketBits, writer: o.writer, durability: o.durability, writeMap: o.writeMap };
  try {
    // --- bulk load
    log(`bulk load of ${o.accounts} accounts into ${dir} ...`);
    let db = StateDb.open({ path: dir, writer: o.writer, durability: o.durability, writeMap: o.writeMap, bucketBits: o.bucketBits });
    const loadClock = clock();
    let peak = rss().totalMB;
    let peakAnon = rss().anonMB;
    const sample = (): void => {
      const r = rss();
      peak = Math.max(peak, r.totalMB);
      peakAnon = Math.max(peakAnon, r.anonMB);
    };
    const load = await bulkLoad(db, {
      count: o.accounts,
      entry: (i) => [accountKey(i), balance(i)],
      height: 0n,
      onProgress: sample,
    });
    sample();
    result.bulkLoad = {
      ms: round(load.ms.total, 0),
      cpuMs: round(since(loadClock).cpuMs, 0),
      phasesMs: { generate: round(load.ms.generate, 0), values: round(load.ms.values, 0), tree: round(load.ms.tree, 0) },
      usPerAccount: round((load.ms.total * 1000) / Math.max(1, o.accounts), 2),
      buckets: load.buckets,
      peakRssMB: peak,
      peakRssAnonMB: peakAnon,
      disk: diskBytes(dir),
      root: toHex(load.root),
    };

    // --- in-memory baseline (build) where it fits
    let ref: SparseMerkleTree | null = null;
    if (o.accounts <= o.baselineMax) {
      log('in-memory tree build (baseline) ...');
      const entries: [string, Uint8Array][] = [];
      for (let i = 0; i < o.accounts; i++) entries.push([accountKey(i), balance(i)]);
      const before = rss().anonMB;
      const t = clock();
      ref = SparseMerkleTree.ofState(entries);
      const d = since(t);
      result.inMemoryBuild = { ms: round(d.ms, 0), cpuMs: round(d.cpuMs, 0), heapGrowthMB: round(rss().anonMB - before, 0) };
      if (toHex(ref.root) !== toHex(load.root)) throw new Error('bench: bulk-loaded root differs from the in-memory tree');
    }

    // --- restart: O(1) open of store + facade
    // First open after the load scans the bucket records; a clean close leaves the top's
    // checkpoint, which the restart after it loads instead.
    await db.close();
    await new Promise<void>((r) => setImmediate(r));
    let t = performance.now();
    db = StateDb.open({ path: dir, writer: o.writer, durability: o.durability, writeMap: o.writeMap, bucketBits: o.bucketBits });
    let world = DiskWorldState.open(db);
    result.firstOpenMs = round(performance.now() - t, 2);
    result.firstOpen = world.smt.stats().startup;
    t = performance.now();
    world.close();
    result.checkpointWriteMs = round(performance.now() - t, 2);
    await db.close();
    t = performance.now();
    db = StateDb.open({ path: dir, writer: o.writer, durability: o.durability, writeMap: o.writeMap, bucketBits: o.bucketBits });
    world = DiskWorldState.open(db);
    result.restartOpenMs = round(performance.now() - t, 2);
    result.restartOpen = world.smt.stats().startup;
    await db.ready();

    // --- reads: first touch after reopen vs warm (and page-cache cold if asked)
    const keys = readKeys(o.accounts, o.reads, 0xbeef);
    const reads: Record<string, unknown> = {};
    if (o.evictPageCache) {
      world.close();
      await db.close();
      const evicted = evictPageCache(dir);
      db = StateDb.open({ path: dir, writer: o.writer, durability: o.durability, writeMap: o.writeMap, bucketBits: o.bucketBits });
      world = DiskWorldState.open(db);
      reads.pageCacheCold = evicted ? timeGets((k) => world.get(k), keys) : null;
    }
    reads.firstTouch = timeGets((k) => world.get(k), readKeys(o.accounts, o.reads, 0xcafe));
    reads.warm = medianGets([0, 1, 2].map(() => timeGets((k) => world.get(k), keys)));
    reads.warmNoCopy = medianGets([0, 1, 2].map(() => timeGets((k) => db.latest.getUnsafe(k), keys)));
    if (ref !== null) {
      const m = new Map<string, Uint8Array>();
      for (let i = 0; i < Math.min(o.accounts, 2_000_000); i++) m.set(accountKey(i), balance(i));
      reads.inMemoryMap = medianGets([0, 1, 2].map(() => timeGets((k) => m.get(k), keys)));
    }
    result.gets = reads;

    // --- blocks: prepare / write / commit
    const next = rng(0x5eed);
    let fresh = o.accounts;
    // Hot blocks update accounts drawn from a fixed set (1% of the state, at least one block's
    // worth), so the same paths come back block after block.
    const hotSet = Math.min(o.accounts, Math.max(o.changes, Math.floor(o.accounts / 100)));
    result.hotAccounts = hotSet;
    const makeBlock = (hot: boolean): WriteSet => {
      const ws = new Map<string, Uint8Array | null>();
      const updates = o.changes >> 1;
      // Existing accounts: 1 in 50 deleted (emptied positions: stale nodes), the rest rewritten.
      for (let tries = 0; ws.size < updates && tries < 20 * o.changes; tries++) {
        const k = accountKey(next() % (hot ? hotSet : o.accounts));
        ws.set(k, next() % 50 === 0 ? null : balance(next()));
      }
      while (ws.size < o.changes) ws.set(accountKey(fresh++), balance(next()));
      return sortWriteSet(ws);
    };
    interface BlockStat {
      prepareMs: number; prepareCpuMs: number; bucketReads: number; hashes: number; bucketPuts: number; bucketDeletes: number;
      commitMainMs: number; commitMs: number; commitCpuMs: number; inMemoryMs: number | null; inMemoryCpuMs: number | null;
    }
    const runBlock = async (h: number, ws: WriteSet): Promise<BlockStat> => {
      const s0 = world.smt.stats();
      const h0 = bucketTreeHashCount();
      const t0 = clock();
      const p = world.prepare(ws);
      const prep = since(t0);
      const s1 = world.smt.stats();
      const counts = p.tree.writeCounts;
      const t1 = clock();
      const written = world.write(p, BigInt(h));
      const main = since(t1);
      await written;
      const commit = since(t1);
      world.commit(p);
      let inMemory: { ms: number; cpuMs: number } | null = null;
      if (ref !== null) {
        const r0 = smtHashCount();
        const tr = clock();
        ref = ref.withWrites(ws);
        inMemory = since(tr);
        refHashes.push(smtHashCount() - r0);
        if (toHex(ref.root) !== toHex(world.root)) throw new Error(`bench: root of block ${h} differs from the in-memory tree`);
      }
      return {
        prepareMs: prep.ms, prepareCpuMs: prep.cpuMs, bucketReads: s1.bucketReads - s0.bucketReads, hashes: bucketTreeHashCount() - h0,
        bucketPuts: counts.puts, bucketDeletes: counts.deletes, commitMainMs: main.ms, commitMs: commit.ms, commitCpuMs: commit.cpuMs,
        inMemoryMs: inMemory?.ms ?? null, inMemoryCpuMs: inMemory?.cpuMs ?? null,
      };
    };
    const refHashes: number[] = [];
    const med = (xs: BlockStat[], f: (x: BlockStat) => number | null): number | null => (xs[0] !== undefined && f(xs[0]) === null ? null : round(median(xs.map((x) => f(x)!)), 1));
    const summarize = (xs: BlockStat[]): Record<string, number | null> => ({
      prepareMs: round(median(xs.map((x) => x.prepareMs)), 1),
      prepareCpuMs: round(median(xs.map((x) => x.prepareCpuMs)), 1),
      inMemoryUpdateMs: med(xs, (x) => x.inMemoryMs),
      inMemoryUpdateCpuMs: med(xs, (x) => x.inMemoryCpuMs),
      prepareOverInMemoryCpu: xs[0]?.inMemoryCpuMs == null ? null : round(median(xs.map((x) => x.prepareCpuMs / Math.max(0.001, x.inMemoryCpuMs!))), 2),
      bucketReadsPerChange: round(median(xs.map((x) => x.bucketReads)) / o.changes, 2),
      hashesPerChange: round(median(xs.map((x) => x.hashes)) / o.changes, 2),
      bucketPutsPerChange: round(median(xs.map((x) => x.bucketPuts)) / o.changes, 2),
      bucketDeletes: median(xs.map((x) => x.bucketDeletes)),
      commitMainThreadMs: round(median(xs.map((x) => x.commitMainMs)), 1),
      commitMs: round(median(xs.map((x) => x.commitMs)), 1),
      commitCpuMs: round(median(xs.map((x) => x.commitCpuMs)), 1),
    });
    log(`blocks of ${o.changes} changes ...`);
    let height = 1;
    const cold = await runBlock(height++, makeBlock(false));
    const warm: BlockStat[] = [];
    for (let b = 0; b < o.blocks; b++) {
      warm.push(await runBlock(height++, makeBlock(false)));
      await new Promise<void>((r) => setImmediate(r));
    }
    const hot: BlockStat[] = [];
    for (let b = 0; b < o.blocks; b++) hot.push(await runBlock(height++, makeBlock(true)));
    result.blocks = {
      coldFirst: summarize([cold]),
      random: summarize(warm),
      hot: summarize(hot),
      inMemoryHashesPerChange: refHashes.length ? round(median(refHashes) / o.changes, 2) : null,
    };

    const mu = process.memoryUsage();
    result.afterBlocks = {
      rss: rss(),
      heapUsedMB: round(mu.heapUsed / 2 ** 20, 1),
      heapTotalMB: round(mu.heapTotal / 2 ** 20, 1),
      externalMB: round(mu.external / 2 ** 20, 1),
      disk: diskBytes(dir),
      buckets: db.latest.bucketCount(),
      treeStartupMs: world.smt.stats().startupMs,
      keys: db.size,
    };
    world.close();
    await db.close();
  } finally {
    if (o.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

export async function runStateBenchCli(args: string[]): Promise<number> {
  const f = parseBenchArgs(args, {
    accounts: { type: 'string' }, changes: { type: 'string' }, blocks: { type: 'string' }, reads: { type: 'string' },
    'baseline-max': { type: 'string' }, 'bucket-bits': { type: 'string' },
    writer: { type: 'string' }, durability: { type: 'string' }, 'write-map': { type: 'string' }, 'evict-page-cache': { type: 'boolean' }, dir: { type: 'string' },
  });
  if (f.help) {
    console.log(HELP);
    return 0;
  }
  const writer = (f.writer as string | undefined) ?? 'thread';
  const durability = (f.durability as string | undefined) ?? 'process-crash';
  if (writer !== 'thread' && writer !== 'inline') throw new Error('--writer must be thread or inline');
  if (durability !== 'process-crash' && durability !== 'power-loss') throw new Error('--durability must be process-crash or power-loss');
  const json = f.json === true;
  const res = await runStateBench({
    accounts: positiveInt(f.accounts, 100_000, 'accounts'),
    changes: positiveInt(f.changes, 20_000, 'changes'),
    blocks: positiveInt(f.blocks, 5, 'blocks'),
    reads: positiveInt(f.reads, 20_000, 'reads'),
    baselineMax: num(f['baseline-max'], 2_000_000, 'baseline-max'),
    bucketBits: num(f['bucket-bits'], 20, 'bucket-bits'),
    writer,
    durability,
    writeMap: (f['write-map'] ?? 'on') !== 'off',
    evictPageCache: f['evict-page-cache'] === true,
    dir: f.dir as string | undefined,
    log: (s) => (json ? process.stderr.write(s + '\n') : console.log(s)),
  });
  output(res, json);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runStateBenchCli(process.argv.slice(2));
}
